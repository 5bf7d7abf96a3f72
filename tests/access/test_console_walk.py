"""The operator console walked in headless Chromium against the served demo, as issue 18's done-when tells it.

The reviewer (审核员) finds 塞罕坝机械林场's application, sees its credit code check out and verifies it, then
creates its project, submits it and registers it. The demo court has ordered 40 t of restoration credits for its
case, paid by bank transfer (above the 1,000 yuan four-eyes line the story sets): the demo finance clerk
records the voucher, and the order waits; a second finance clerk, 孙出纳, records the same voucher and amount, and the
order is fulfilled. The auditor then opens every page of the console: each reads, none offers a button that acts,
and an action POSTed anyway is refused (403). Screenshots of the dashboard and the month's settlement land in
test-artifacts/.
"""

from __future__ import annotations

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from sqlalchemy import select

from admin import verifications
from backend.certificates.models import Certificate
from backend.clock import CHINA
from backend.footprint.models import FactorSetRecord
from backend.money import yuan
from backend.db import atomic, read
from backend.orders import service as orders
from backend.orgs import service as orgs
from backend.registry.models import Organisation
from backend.shop import service as shop
from backend.staff import service as staff
from scenarios.judicial import service as judicial
from scenarios.judicial.models import JudicialCase
from tests.access.test_in_a_browser import (assert_everything_comes_from_the_app, browser, demo_site,  # noqa: F401
                                            sign_in, submit, text_of)
from tests.staff.conftest import PASSWORD, password_hash, people  # noqa: F401  (fixtures)

pytest_plugins = ("tests.browser",)
APPLICANT_CODE = "91440300708461136T"
READING = ("/admin/verifications/", "/admin/exports/")
"""The auditor's own buttons: the verifiers and the exports read and report; they change nothing."""


def an_application(app, password_hash) -> int:
    """塞罕坝机械林场 applies online (its applicant becomes its org_admin), as /org/signup would record it."""
    now = app.config["CLOCK"]()

    def work(session):
        applicant = staff.create_account(session, now, username="saihanba", display_name="塞罕坝 刘场长",
                                         password_hash=password_hash, actor="test")
        return orgs.apply(session, now, name="塞罕坝机械林场", kind="forest_farm", credit_code=APPLICANT_CODE,
                          region="130828", contact_name="刘场长", contact_phone="13800000000", contact_email=None,
                          applicant=applicant).id
    with app.app_context():
        return atomic(work)


def the_courts_offline_order(app) -> dict:
    """The demo court orders 40 t for the demo case's first defendant (who owes 47.5 t), paid by bank transfer."""
    now = app.config["CLOCK"]()

    def work(session):
        case = session.execute(select(JudicialCase)).scalars().first()
        payer = judicial.payers_of(session, case.id)[0]
        listing = shop.listings(session)[0]
        order = orders.create_for_organisation(
            session, now, org_id=case.org_id, actor="staff:0:court-clerk", channel="offline",
            idempotency_key="walk-offline-1", listing_id=listing.id, quantity_g=40_000_000, purpose="judicial",
            reference={"claim_code": payer.claim_code}, ttl_seconds=86_400)
        return {"order_no": order.order_no, "amount_fen": order.amount_fen}
    with app.app_context():
        return atomic(work)


def open_page(browser, site, path: str) -> None:
    browser.driver.get(f"{site.url}{path}")


def form(browser, form_id: str):
    return browser.driver.find_element(By.ID, form_id)


def fill(element, **fields: str) -> None:
    for name, value in fields.items():
        field = element.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        elif field.get_attribute("type") == "date":  # typed, a date field wants the browser's locale's order
            element.parent.execute_script("arguments[0].value = arguments[1]", field, value)
        else:
            field.clear()
            field.send_keys(value)


def sign_out(browser, site) -> None:
    """The next person at the desk: a fresh browser."""
    browser.driver.delete_all_cookies()


def test_reviewer_finance_and_auditor_run_the_platform_from_the_console(app, browser, demo_site, password_hash,
                                                                        people):
    organisation_id = an_application(app, password_hash)
    app.config["OFFLINE_SECOND_CONFIRMATION_FEN"] = 100_000  # 1,000 yuan: this transfer needs four eyes
    order = the_courts_offline_order(app)
    people.make("sun", "finance", display_name="孙出纳")

    with browser.desktop(height=1100):
        # --- the reviewer verifies the organisation and registers its project ---------------------------------
        sign_in(browser, demo_site, "admin", "reviewer")
        open_page(browser, demo_site, "/admin/organisations?status=applied")
        browser.driver.find_element(By.LINK_TEXT, "塞罕坝机械林场").click()
        assert "校验位正确" in text_of(browser, "credit-code-check")
        submit(browser, form(browser, "verify"))
        assert text_of(browser, "status") == "已认证"
        with app.app_context():
            assert read(lambda s: s.get(Organisation, organisation_id).status) == "verified"

        open_page(browser, demo_site, "/admin/projects")
        new_project = form(browser, "new-project")
        methodology = new_project.find_element(By.NAME, "methodology_id").find_elements(By.TAG_NAME, "option")[1]
        fill(new_project, name="塞罕坝人工林经营碳汇项目", owner_id=str(organisation_id), county_adcode="130828",
             ecosystem="forest", methodology_id=methodology.get_attribute("value"), area_mu="12000.00",
             crediting_start="2021-01-01", crediting_end="2040-12-31")
        submit(browser, new_project)
        project_url = browser.driver.current_url
        assert re.search(r"/admin/projects/\d+$", project_url), text_of(browser, "error")  # the form said why
        submit(browser, form(browser, "decide-submit"))
        submit(browser, form(browser, "decide-register"))
        assert "已登记" in text_of(browser, "state")
        assert text_of(browser, "decisions").count("reviewer") >= 2  # the history names who decided
        browser.screenshot("admin-project-registered")
        sign_out(browser, demo_site)

        # --- finance records the transfer; a second finance user confirms it ----------------------------------
        path = f"/admin/orders/{order['order_no']}"
        sign_in(browser, demo_site, "admin", "finance")
        open_page(browser, demo_site, "/admin/orders?channel=offline&status=reserved")
        assert order["order_no"] in text_of(browser, "order-table")
        open_page(browser, demo_site, path)
        payment = form(browser, "offline-payment")
        fill(payment, reference="DY-AK-2026-0312", amount=yuan(order["amount_fen"]))
        submit(browser, payment)
        assert "待另一位财务人员复核" in text_of(browser, "voucher")
        sign_out(browser, demo_site)

        sign_in(browser, demo_site, "admin", "sun", password=PASSWORD)
        open_page(browser, demo_site, path)
        payment = form(browser, "offline-payment")
        fill(payment, reference="dy-ak-2026-0312", amount=yuan(order["amount_fen"]).replace(",", ""))  # her own look
        submit(browser, payment)
        assert text_of(browser, "order-status") == "已完成"
        with app.app_context():
            assert read(lambda s: orders.get_order(s, order["order_no"]).status) == "fulfilled"
        month = f"{app.config['CLOCK']().astimezone(CHINA):%Y-%m}"
        open_page(browser, demo_site, f"/admin/settlement?month={month}")
        assert "一致 (reconciled)" in text_of(browser, "reconciliation")
        browser.screenshot("admin-settlement")
        sign_out(browser, demo_site)

        # --- the auditor reads everything and can change nothing ----------------------------------------------
        sign_in(browser, demo_site, "admin", "auditor")
        open_page(browser, demo_site, "/admin/")
        browser.screenshot("admin-dashboard-auditor")
        pages = console_pages(app, organisation_id, order["order_no"], project_url.rsplit("/", 1)[1], month)
        for page_path in pages:
            open_page(browser, demo_site, page_path)
            assert browser.driver.find_elements(By.ID, "sections"), page_path  # a console page, not an error
            acting = [f.get_attribute("action") for f in browser.driver.find_elements(By.CSS_SELECTOR, "form")
                      if (f.get_attribute("method") or "").lower() == "post"
                      and not f.get_attribute("action").endswith("/admin/logout")
                      and not any(verifier in f.get_attribute("action") for verifier in READING)]
            assert acting == [], (page_path, acting)  # only sign-out, and the verifiers (they change nothing)
        assert_everything_comes_from_the_app(browser, demo_site)
        refused = browser.driver.execute_script(
            "const data = new FormData(); data.append('csrf_token', arguments[0]);"
            "data.append('reason', '审计员不应能驳回');"
            "return fetch(arguments[1], {method: 'POST', body: data}).then(r => r.status);",
            browser.driver.find_element(By.NAME, "csrf_token").get_attribute("value"),
            f"{project_url}/suspend")
        assert refused == 403
        with app.app_context():
            assert read(lambda s: orgs.get(s, organisation_id).status) == "verified"


def console_pages(app, organisation_id: int, order_no: str, project_id: str, month: str) -> list[str]:
    """Every page of the console a reader may open: each GET route of its blueprints, with a record of each kind."""
    samples = {"organisation_id": organisation_id, "order_no": order_no, "project_id": project_id, "month": month,
               "owner_id": organisation_id}
    with app.app_context():
        samples["batch_id"] = read(lambda s: shop.listings(s)[0].batch_id)
        samples["number"] = read(lambda s: s.execute(select(Certificate.number).limit(1)).scalar_one())
        samples["run_id"] = verifications.ask_by_hand("ledger", "test").id  # owed: its page shows it queued
        # A section's own meaning of a path argument: a factor set's number is not a certificate's.
        own_samples = {"admin_factors": {"number": read(lambda s: s.execute(select(FactorSetRecord.number))
                                                        .scalars().first())}}
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or "GET" not in rule.methods or rule.endpoint.startswith("staff_"):
            continue
        own = {**samples, **own_samples.get(rule.endpoint.partition(".")[0], {})}
        if any(name not in own for name in rule.arguments):
            continue  # a file to download, not a page (its export, its data file)
        found.append(re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(own[m[1]]), rule.rule))
    return sorted(found)

"""Worked examples of the console's registry section, with a signed-in browser and no token.

A reviewer registers a methodology and creates a project on the pages, submits it, tries to reject it without a
reason (the page names the field, nothing changes) and registers it; the decision history says who did what and
when, in Beijing time. She issues a batch from the project's page and the same form sent twice issues one batch.
After a citizen buys a quarter of a 1 t batch, its serial map shows the retired serials under the buyer and the
rest available, adding up to the batch. A finance clerk puts a batch on sale and changes a price in yuan, which
the shop reads in fen. An auditor reads every page, sees no action form, and a POST is 403.

The ledger invariants and the audit chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from backend.db import atomic, read
from backend.ledger.models import Transfer
from backend.registry import service
from backend.registry.models import Batch, Project
from backend.shop.models import Listing
from tests.scenarios.portal import beside, typed
from tests.staff.conftest import Browser, Page, People


def signed_in(app, password_hash, username: str, role: str) -> Browser:
    People(app, password_hash).make(username, role)
    browser = Browser(app)
    assert browser.sign_in(username).status_code == 302
    return browser


def rows(page: Page, kind: str) -> list[int]:
    assert page.status == 200, (page.status, page.text("error"))
    return [int(n) for n in re.findall(rf'<tr[^>]* data-{kind}="(\d+)"', page.html)]


def table(page: Page, table_id: str) -> list[list[str]]:
    """The rows of a table's body, each its cells' text."""
    found = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page.html, re.S)
    assert found, table_id
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)]


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.status_code
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def project_of(app, project_id: int) -> Project:
    with app.app_context():
        return read(lambda s: s.get(Project, project_id))


def batches_of(app, project_id: int) -> list[Batch]:
    with app.app_context():
        return read(lambda s: list(s.execute(select(Batch).where(Batch.project_id == project_id)
                                             .order_by(Batch.id)).scalars()))


def review_forms(page: Page) -> list[str]:
    """The review actions a project's page offers, as its forms' ids."""
    return [f.id for f in page.forms if f.id and f.id.startswith("decide-")]


PROJECT_FORM = {"name": "崇州市国有林场森林经营碳汇项目", "county_adcode": "510184", "ecosystem": "forest",
                "area_mu": "12500.50", "crediting_start": "2021-01-01", "crediting_end": "2040-12-31",
                "description": "抚育间伐、补植补造。"}


def test_a_reviewer_creates_submits_and_registers_a_project_and_reads_its_history(app, operator, password_hash):
    owner = operator.ok(operator.post("/organisations", {"name": "崇州市国有林场", "kind": "forest_farm"}))
    lin = signed_in(app, password_hash, "reviewer.lin", "reviewer")

    registered = lin.submit("/admin/methodologies", "/admin/methodologies", {
        "code": "AR-CM-003-V01", "name": "森林经营碳汇项目方法学", "ecosystem": "forest", "version": "V01",
        "source_document": "国家林业局 林造发〔2014〕55号"})
    assert registered.status_code == 302
    methodologies = lin.open("/admin/methodologies")
    assert "AR-CM-003-V01" in methodologies.text("methodologies")
    methodology_id = rows(methodologies, "methodology")[0]

    # The owner and methodology are offered on the create form; a wrong adcode comes back named, what she typed kept.
    projects = lin.open("/admin/projects")
    assert owner["name"] in projects.text("new-project") and "AR-CM-003-V01" in projects.text("new-project")
    form = {**PROJECT_FORM, "owner_id": str(owner["id"]), "methodology_id": str(methodology_id)}
    refused = Page(lin.submit("/admin/projects", "/admin/projects", {**form, "county_adcode": "510100"}))
    assert refused.status == 400 and refused.text("error").startswith("county_adcode")
    assert beside(refused, "county_adcode").startswith("应为县级行政区划代码")
    assert typed(refused, "new-project", "name") == PROJECT_FORM["name"]
    assert rows(lin.open("/admin/projects"), "project") == []

    created = lin.submit("/admin/projects", "/admin/projects", form)
    assert created.status_code == 302
    project_id = int(created.location.rsplit("/", 1)[1])
    path = f"/admin/projects/{project_id}"
    draft = lin.open(path)
    assert "草稿" in draft.text("state") and "12500.50" in draft.text("facts")
    assert review_forms(draft) == ["decide-submit"]

    assert lin.submit(path, f"{path}/submit").status_code == 302
    submitted = lin.open(path)
    assert review_forms(submitted) == ["decide-register", "decide-reject"]

    # A rejection needs a reason: the domain refuses, the page says so beside the reject form's field.
    refused = Page(lin.submit(path, f"{path}/reject", {"reason": "  "}))
    assert refused.status == 400 and refused.text("error").startswith("reason")
    assert beside(refused, "reason") == "此操作须说明原因 (a reason is required)"
    assert project_of(app, project_id).state == "submitted"

    clock_now = app.config["CLOCK"]()
    assert lin.submit(path, f"{path}/register", {"reason": "材料齐全，核查无误"}).status_code == 302
    assert project_of(app, project_id).state == "registered"
    page = lin.open(path)
    assert "已登记" in page.text("state")
    actor = People(app, password_hash).account("reviewer.lin").actor
    beijing = f"{clock_now.date()} 17:00"  # 09:00 UTC on 植树节
    assert table(page, "decisions") == [[beijing, actor, "草稿 → 待审核", "—"],
                                        [beijing, actor, "待审核 → 已登记", "材料齐全，核查无误"]]
    assert review_forms(page) == ["decide-suspend"]

    # The list finds it by its state, its owner and its ecosystem, and exports what the filters select.
    assert rows(lin.open("/admin/projects?state=registered"), "project") == [project_id]
    assert rows(lin.open("/admin/projects?state=draft"), "project") == []
    assert rows(lin.open(f"/admin/projects?owner_id={owner['id']}&ecosystem=forest"), "project") == [project_id]
    exported = csv_rows(lin.get("/admin/projects?state=registered&format=csv"))
    assert [(r["id"], r["name"], r["state"], r["owner"]) for r in exported] == [
        (str(project_id), PROJECT_FORM["name"], "registered", "崇州市国有林场")]
    assert csv_rows(lin.get("/admin/projects?state=rejected&format=csv")) == []


def test_bad_query_arguments_are_a_page_naming_them(app, operator, password_hash):
    made = operator.registered_project()
    auditor = signed_in(app, password_hash, "auditor.he", "auditor")
    for path, field in (("/admin/projects?state=approved", "state"), ("/admin/projects?owner_id=abc", "owner_id"),
                        ("/admin/projects?sort=area", "sort"), ("/admin/projects?after=not-a-cursor", "after"),
                        ("/admin/projects?format=xlsx", "format"), ("/admin/projects?colour=green", "colour"),
                        ("/admin/listings?status=sold", "status"),
                        ("/admin/methodologies?ecosystem=desert", "ecosystem"),
                        (f"/admin/batches/{made['batch']['id']}?holder=someone", "holder"),
                        (f"/admin/batches/{made['batch']['id']}?kind=issuance", "kind")):
        refused = auditor.open(path)
        assert refused.status == 400, path
        assert refused.text("problem").startswith(f"{field}:"), (path, refused.text("problem"))
    assert auditor.get("/admin/projects/999999").status_code == 404
    assert auditor.get("/admin/batches/999999").status_code == 404
    assert auditor.get("/admin/batches/999999?format=csv").status_code == 404


def test_the_project_list_pages_by_keyset_without_repeating_or_losing_a_project(app, operator, password_hash):
    made = operator.registered_project()
    now = app.config["CLOCK"]()

    def many(session):
        for number in range(55):
            service.create_project(session, now, actor="test", owner_id=made["owner"]["id"], name=f"项目 {number:02d}",
                                   county_adcode="510129", ecosystem="forest",
                                   methodology_id=made["methodology"]["id"], area_mu=Decimal(100),
                                   crediting_start=date(2021, 1, 1), crediting_end=date(2040, 12, 31))
    with app.app_context():
        atomic(many)
    reader = signed_in(app, password_hash, "finance.qian", "finance")
    first = reader.open("/admin/projects?sort=name&dir=asc")
    second = reader.open(re.search(r'href="([^"]+)" rel="next"', first.html).group(1).replace("&amp;", "&"))
    shown = rows(first, "project") + rows(second, "project")
    assert len(rows(first, "project")) == 50 and len(shown) == 56 == len(set(shown))
    assert second.text("pager").endswith("已到末页")
    names = re.findall(r'<a href="/admin/projects/\d+">([^<]+)</a>', first.html + second.html)
    assert names == sorted(names)


def issue_form(page: Page) -> dict[str, str]:
    return {**page.form("issue").hidden(), "monitoring_start": "2024-01-01", "monitoring_end": "2024-12-31",
            "vintage": "2024", "quantity_t": "12.5", "to_holder": "platform"}


def test_an_issue_form_sent_twice_issues_one_batch(app, operator, password_hash):
    made = operator.registered_project()
    project_id = made["project"]["id"]
    path = f"/admin/projects/{project_id}"
    lin = signed_in(app, password_hash, "reviewer.lin", "reviewer")

    page = lin.open(path)
    fields = issue_form(page)
    key = fields["idempotency_key"]
    assert re.fullmatch(r"[0-9a-f-]{36}", key) and issue_form(lin.open(path))["idempotency_key"] != key

    # A double click: the same form, the same key, twice. One batch, the second answer the first's.
    first = lin.client.post(f"{path}/batches", data={"csrf_token": page.csrf, **fields})
    again = lin.client.post(f"{path}/batches", data={"csrf_token": page.csrf, **fields})
    assert first.status_code == again.status_code == 302 and first.location == again.location
    batches = batches_of(app, project_id)
    assert len(batches) == 2 and batches[-1].quantity_g == 12_500_000  # 12.5 t, exactly, beside the fixture's
    assert first.location == f"/admin/batches/{batches[-1].id}"
    with app.app_context():
        issues = read(lambda s: s.execute(select(func.count()).select_from(Transfer).where(
            Transfer.client_id == key)).scalar())
    assert issues == 1
    assert "12.5" in lin.open(path).text("batches")

    # The same key with another quantity (the form changed after it was sent) is refused; the page offers a new key.
    refused = Page(lin.client.post(f"{path}/batches", data={"csrf_token": page.csrf, **fields, "quantity_t": "13"}))
    assert refused.status == 409 and len(batches_of(app, project_id)) == 2
    assert refused.form("issue").hidden()["idempotency_key"] != key

    # A quantity finer than a gram is refused naming the form's field; the key is kept for the corrected form.
    fresh = issue_form(lin.open(path))
    fresh.update(monitoring_start="2025-01-01", monitoring_end="2025-12-31", vintage="2025")
    refused = Page(lin.client.post(f"{path}/batches", data={"csrf_token": page.csrf, **fresh,
                                                            "quantity_t": "1.0000001"}))
    assert refused.status == 400 and beside(refused, "quantity_t").startswith("应为大于 0 的吨数")
    assert refused.form("issue").hidden()["idempotency_key"] == fresh["idempotency_key"]
    assert len(batches_of(app, project_id)) == 2
    # A forged key that would pass for an order's own transfers is refused too.
    refused = Page(lin.client.post(f"{path}/batches", data={"csrf_token": page.csrf, **fresh,
                                                            "idempotency_key": "ORDER:1"}))
    assert refused.status == 400 and refused.text("error").startswith("idempotency_key")
    issued = lin.client.post(f"{path}/batches", data={"csrf_token": page.csrf, **fresh})
    assert issued.status_code == 302 and len(batches_of(app, project_id)) == 3

    # A suspended project offers no issue form, and a form opened before it was suspended is refused by the domain.
    opened_before = issue_form(lin.open(path))
    assert lin.submit(path, f"{path}/suspend", {"reason": "监测报告存疑"}).status_code == 302
    suspended = lin.open(path)
    assert [f.id for f in suspended.forms if f.id == "issue"] == [] and "已暂停" in suspended.text("no-issue")
    refused = Page(lin.client.post(f"{path}/batches", data={
        "csrf_token": page.csrf, **opened_before, "monitoring_start": "2026-01-01",
        "monitoring_end": "2026-01-31", "vintage": "2026"}))
    assert refused.status == 409 and "只有已登记项目可以签发" in refused.text("error")
    assert len(batches_of(app, project_id)) == 3


def test_the_serial_map_after_a_purchase_shows_the_buyers_retired_range_and_the_rest_available(
        app, operator, shop, citizen, fake_wechat, password_hash):
    order = citizen.order(shop["listing"]["id"], 250_000)
    fake_wechat.pay(order["order_no"])
    [placed] = operator.ok(operator.get("/orders"))["items"]
    assert placed["status"] == "fulfilled"
    buyer = f"user:{placed['user_id']}"
    batch_id = shop["batch"]["id"]

    auditor = signed_in(app, password_hash, "auditor.he", "auditor")
    page = auditor.open(f"/admin/batches/{batch_id}?dir=asc")
    assert page.status == 200
    ranges = re.findall(r'<tr data-holder="([^"]+)" data-kind="(\w+)"><td class="num">(\d+)</td>'
                        r'<td class="num">(\d+)</td>', page.html)
    assert ranges == [(buyer, "retired", "1", "250000"), ("platform", "available", "250001", "1000000")]
    assert "250000" in page.text("total-retired") and "0.25" in page.text("total-retired")
    assert "750000" in page.text("total-available") and "0" in page.text("total-reserved")
    assert "1000000" in page.text("total-all")
    assert page.text("adds-up").startswith("各类合计等于签发量 1 吨")

    # The buyer's holding alone, and the whole map as CSV: serials from 1 to the batch's last, each once.
    mine = auditor.open(f"/admin/batches/{batch_id}?holder={buyer}")
    assert re.findall(r'data-holder="([^"]+)"', mine.html) == [buyer]
    assert mine.text("selected") == "筛选结果：已注销 0.25 吨（1 段）"
    exported = csv_rows(auditor.get(f"/admin/batches/{batch_id}?format=csv"))
    assert [(r["first"], r["last"], r["grams"], r["holder"], r["kind"]) for r in exported] == [
        ("1", "250000", "250000", buyer, "retired"), ("250001", "1000000", "750000", "platform", "available")]
    assert sum(int(r["grams"]) for r in exported) == shop["batch"]["quantity_g"]


def test_finance_puts_a_batch_on_sale_and_changes_its_price_in_yuan(app, operator, shop, password_hash):
    unlisted = operator.registered_project(quantity_g=5_000_000, name="大邑县草原碳汇项目")
    qian = signed_in(app, password_hash, "finance.qian", "finance")

    page = qian.open("/admin/listings")
    offered = page.form("new-listing").field("batch_id")
    assert offered["tag"] == "select" and unlisted["batch"]["code"] in page.text("create-listing")
    put_on_sale = qian.submit("/admin/listings", "/admin/listings", {
        "batch_id": str(unlisted["batch"]["id"]), "price_yuan": "66.60", "title": "大邑草原碳汇"})
    assert put_on_sale.status_code == 302

    def listing(batch_id: int) -> Listing:
        with app.app_context():
            return read(lambda s: s.execute(select(Listing).where(Listing.batch_id == batch_id)).scalar_one())
    new = listing(unlisted["batch"]["id"])
    assert (new.price_fen_per_t, new.title, new.active) == (6_660, "大邑草原碳汇", True)

    listing_id = shop["listing"]["id"]
    page = qian.open("/admin/listings")
    assert page.text(f"price-{listing_id}") == "80.00" and "5" in page.text(f"row-{new.id}")
    # A price finer than the fen is refused beside the price, and nothing changes.
    refused = Page(qian.submit("/admin/listings", f"/admin/listings/{listing_id}", {"price_yuan": "95.555"}))
    assert refused.status == 400 and beside(refused, "price_yuan").startswith("应为 0.01 至")
    assert listing(shop["batch"]["id"]).price_fen_per_t == 8_000

    changed = qian.submit("/admin/listings", f"/admin/listings/{listing_id}", {"price_yuan": "95.50"})
    assert changed.status_code == 302
    assert listing(shop["batch"]["id"]).price_fen_per_t == 9_550  # what the JSON API would have sent: fen
    after = qian.open("/admin/listings")
    assert after.text(f"price-{listing_id}") == "95.50"
    assert "价格 80.00 → 95.50 元/吨" in after.html
    quote = operator.ok(operator.get("/listings"))["items"]
    assert {(item["id"], item["price_fen_per_t"]) for item in quote} == {(listing_id, 9_550), (new.id, 6_660)}

    # The platform's fee on the listing: 5 % unless agreed otherwise; orders already placed keep theirs.
    assert after.text(f"fee-{listing_id}") == "5.00%"
    assert qian.submit("/admin/listings", f"/admin/listings/{listing_id}", {"fee_bp": "300"}).status_code == 302
    assert listing(shop["batch"]["id"]).fee_bp == 300 and qian.open("/admin/listings").text(f"fee-{listing_id}") \
        == "3.00%"
    refused = Page(qian.submit("/admin/listings", f"/admin/listings/{listing_id}", {"fee_bp": "10001"}))
    assert refused.status == 400 and "fee_bp" in refused.html and listing(shop["batch"]["id"]).fee_bp == 300

    # Withdrawn, it stays on the list (filtered as such) and can go back on sale.
    assert qian.submit("/admin/listings", f"/admin/listings/{listing_id}", {"active": "false"}).status_code == 302
    assert listing(shop["batch"]["id"]).active is False
    assert rows(qian.open("/admin/listings?status=withdrawn"), "listing") == [listing_id]
    assert rows(qian.open("/admin/listings?status=on_sale"), "listing") == [new.id]
    exported = csv_rows(qian.get("/admin/listings?format=csv"))
    assert [(r["id"], r["price_yuan_per_t"], r["status"]) for r in exported] == [
        (str(listing_id), "95.50", "withdrawn"), (str(new.id), "66.60", "on_sale")]
    assert qian.submit("/admin/listings", f"/admin/listings/{listing_id}", {"active": "true"}).status_code == 302
    assert listing(shop["batch"]["id"]).active is True

    # A reviewer reads the listings but has no price to change, and may not post one.
    lin = signed_in(app, password_hash, "reviewer.lin", "reviewer")
    read_only = lin.open("/admin/listings")
    assert read_only.status == 200 and [f.id for f in read_only.forms if f.method == "post" and f.id] == []
    assert lin.submit("/admin/listings", f"/admin/listings/{listing_id}", {"price_yuan": "1.00"}).status_code == 403
    assert listing(shop["batch"]["id"]).price_fen_per_t == 9_550


ACTIONS = ("/admin/methodologies", "/admin/projects", "/admin/projects/{project}/submit",
           "/admin/projects/{project}/suspend", "/admin/projects/{project}/batches", "/admin/listings",
           "/admin/listings/{listing}")


def test_an_auditor_reads_every_registry_page_sees_no_action_and_may_post_none(
        app, operator, shop, citizen, fake_wechat, password_hash):
    fake_wechat.pay(citizen.order(shop["listing"]["id"], 100_000)["order_no"])
    ids = {"project": shop["project"]["id"], "batch": shop["batch"]["id"], "listing": shop["listing"]["id"]}
    he = signed_in(app, password_hash, "auditor.he", "auditor")
    pages = {"/admin/projects": shop["project"]["name"], "/admin/methodologies": shop["methodology"]["code"],
             f"/admin/projects/{ids['project']}": shop["batch"]["code"],
             f"/admin/batches/{ids['batch']}": "已注销 0.1", "/admin/listings": shop["listing"]["title"]}
    for path, shown in pages.items():
        page = he.open(path)
        assert page.status == 200, path
        # The filters (GET) and the header's sign-out are all the forms it has; no action is offered.
        assert [f.action for f in page.forms if f.method == "post"] == ["/admin/logout"], path
        assert shown in " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.html)).split()), path
    for path in ("/admin/projects", "/admin/methodologies", f"/admin/batches/{ids['batch']}", "/admin/listings"):
        assert len(csv_rows(he.get(f"{path}?format=csv"))) >= 1, path

    before = audit_length(app)
    for action in ACTIONS:
        response = he.submit("/admin/projects", action.format(**ids), {"reason": "试试", "price_yuan": "1.00",
                                                                      "active": "false"})
        assert response.status_code == 403, action
    assert audit_length(app) == before
    assert project_of(app, ids["project"]).state == "registered"


def audit_length(app) -> int:
    from backend.audit.models import AuditEvent

    with app.app_context():
        return read(lambda s: s.execute(select(func.count()).select_from(AuditEvent)).scalar())

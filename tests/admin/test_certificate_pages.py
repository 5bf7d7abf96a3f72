"""Worked examples: the console's certificate pages after a citizen's purchases.

A citizen buys 250 kg for herself and gives 100 kg to her father 王建国 (the shop fixture: a 1 t batch at 80 yuan a
tonne). Finance and the auditor find the gift's certificate by its number, by its order and by the father's name —
typed in full or masked — and never see his name whole. A reviewer revokes it with a reason, and the public verify
page says so; the auditor may not. The transparency log's head is shown, and its verifier reports a tampered leaf.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from sqlalchemy import select

from admin import exports
from backend import sequencer
from backend.certificates.models import CertificateRevocation
from backend.db import read
from tests.admin.exporting import exported
from tests.admin.verifying import run_verifier
from tests.scenarios.judicial.conftest import NANJING_COUNTY, court, defendant, listed, open_case
from tests.staff.conftest import Browser, Page, People, last_events
from tests.tampering import tamper

FATHER, FATHER_MASKED = "王建国", "王**"


def buy(citizen, fake_wechat, listing_id: int, quantity_g: int, **extra) -> dict:
    """A paid order, as the citizen then sees it (with its certificate's number)."""
    order = citizen.order(listing_id, quantity_g, **extra)
    fake_wechat.pay(order["order_no"])
    paid = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert paid["status"] == "fulfilled" and paid["certificate_no"], paid
    return paid


@pytest.fixture
def people(app, password_hash) -> People:
    return People(app, password_hash)


@pytest.fixture
def purchases(shop, citizen, fake_wechat) -> dict:
    listing_id = shop["listing"]["id"]
    return {"own": buy(citizen, fake_wechat, listing_id, 250_000),
            "gift": buy(citizen, fake_wechat, listing_id, 100_000, purpose="gift", beneficiary_name=FATHER)}


def signed_in(people, role: str) -> Browser:
    """A browser signed in as a new account holding the platform role (``<role>-1``)."""
    people.make(f"{role}-1", role)
    browser = Browser(people.app)
    browser.sign_in(f"{role}-1")
    return browser


def listed_numbers(page: Page) -> list[str]:
    return re.findall(r'<tr class="certificate[^"]*" data-number="([^"]+)"', page.html)


def revocations(app) -> list[tuple[int, str, str]]:
    with app.app_context():
        return read(lambda s: [(r.certificate_id, r.reason, r.revoked_by)
                               for r in s.execute(select(CertificateRevocation)).scalars()])


def test_finance_and_the_auditor_find_the_gift_by_number_order_and_name_and_never_see_the_name(
        app, purchases, people):
    gift, own = purchases["gift"], purchases["own"]
    for role in ("finance", "auditor"):
        browser = signed_in(people, role)

        everything = browser.open("/admin/certificates")
        assert everything.status == 200
        assert listed_numbers(everything) == [gift["certificate_no"], own["certificate_no"]]  # newest first

        by_number = browser.open(f"/admin/certificates?number={gift['certificate_no'].lower()}")
        assert listed_numbers(by_number) == [gift["certificate_no"]]
        row = by_number.text("certificates")
        assert FATHER_MASKED in row and gift["order_no"] in row and "100 千克" in row
        assert "有效" in row and "待合并入日志" in row  # the sequencer has not merged it yet

        by_order = browser.open(f"/admin/certificates?order={gift['order_no']}")
        assert listed_numbers(by_order) == [gift["certificate_no"]]

        # Typed in full, the name goes on encrypted: it is in neither the next address nor the page.
        typed = browser.get(f"/admin/certificates?name={quote(FATHER)}")
        assert typed.status_code == 302
        assert FATHER not in typed.location and quote(FATHER) not in typed.location and "who=" in typed.location
        by_name = browser.open(typed.location)
        assert listed_numbers(by_name) == [gift["certificate_no"]]
        assert FATHER not in by_name.html and quote(FATHER) not in by_name.html
        assert by_name.text("name-search") == f"按受益人全名查找：{FATHER_MASKED}（全名不在页面上显示）"
        assert FATHER_MASKED in by_name.text("certificates")
        # ... and the CSV of that search says only what the page says.
        body, [line] = exported(app, browser, typed.location, "certificates")
        assert FATHER not in body
        assert (line["number"], line["beneficiary_masked"], line["order_no"]) == (
            gift["certificate_no"], FATHER_MASKED, gift["order_no"])

        # Masked, as the certificate shows it: the public form, matching whoever is so masked.
        by_mask = browser.open(f"/admin/certificates?name={quote(FATHER_MASKED)}")
        assert listed_numbers(by_mask) == [gift["certificate_no"]]
        nobody = browser.open(browser.get(f"/admin/certificates?name={quote('王建军')}").location)
        assert listed_numbers(nobody) == []

        # The certificate's own page: facts with the name masked, the log, the public page; no revoke form.
        detail = browser.open(f"/admin/certificates/{gift['certificate_no']}")
        assert detail.status == 200
        assert detail.text("beneficiary") == FATHER_MASKED and FATHER not in detail.html
        assert detail.text("order-no") == gift["order_no"] and detail.text("status") == "有效"
        assert f'href="/v/{gift["certificate_no"]}"' in detail.html
        assert [f.id for f in detail.forms if f.id == "revoke"] == []


def test_a_reviewer_revokes_with_a_reason_and_the_public_page_says_revoked(app, client, purchases, people):
    number = purchases["gift"]["certificate_no"]
    path = f"/admin/certificates/{number}"

    # The auditor sees no revoke button, and posting the form anyway is refused: nothing is revoked.
    auditor = signed_in(people, "auditor")
    assert auditor.submit(path, f"{path}/revoke", {"reason": "审计员不能撤销"}).status_code == 403
    assert revocations(app) == []

    reviewer = signed_in(people, "reviewer")
    form = reviewer.open(path).form("revoke")
    assert form.action == f"{path}/revoke" and form.field("reason")["name"] == "reason"

    # Without a reason: a 400 page naming the field, and the certificate still stands.
    refused = Page(reviewer.submit(path, f"{path}/revoke", {"reason": "  "}))
    assert refused.status == 400 and refused.text("error").startswith("reason:")
    assert revocations(app) == [] and refused.text("status") == "有效"

    done = reviewer.submit(path, f"{path}/revoke", {"reason": "受赠人信息有误，应重新开具"})
    assert done.status_code == 302 and done.location == path
    shown = reviewer.open(path)
    assert shown.text("status") == "已撤销" and "受赠人信息有误，应重新开具" in shown.text("revocation")
    assert [f.id for f in shown.forms if f.id == "revoke"] == []
    reviewer_actor = people.account("reviewer-1").actor
    assert [(reason, by) for _, reason, by in revocations(app)] == [("受赠人信息有误，应重新开具", reviewer_actor)]
    [event] = last_events(app)
    assert (event["action"], event["object"], event["actor"]) == ("certificate.revoke", f"certificate:{number}",
                                                                  reviewer_actor)

    public = client.get(f"/v/{number}").get_data(as_text=True)
    assert "证书已撤销" in public and "受赠人信息有误，应重新开具" in public
    listed = Page(reviewer.get(f"/admin/certificates?number={number}"))
    assert "已撤销" in listed.text("certificates")

    # Revoking again for another reason is refused as the JSON API refuses it (a revocation is never edited).
    again = Page(reviewer.client.post(f"{path}/revoke", data={"csrf_token": shown.csrf, "reason": "换个理由"}))
    assert again.status == 409 and "已撤销" in again.text("error")


@pytest.mark.tampers
def test_the_log_head_and_its_verifier_which_reports_a_tampered_leaf(app, purchases, people):
    sequencer.run_once(app)  # what the sequencer thread does within a second: both certificates merged
    auditor = signed_in(people, "auditor")
    opened = auditor.open("/admin/certificates")
    assert opened.text("tree-size") == "2" and re.fullmatch(r"[0-9a-f]{64}", opened.text("root-hash"))
    assert opened.text("log-pending") == "0 张证书"
    assert "尚未运行" in opened.text("verifier-log") and "flask log verify" in opened.text("verifier-log")
    assert "已入日志 #1" in opened.text("certificates")

    ran = run_verifier(app, auditor, "/admin/certificates", "log")
    assert ran.text("outcome").startswith("通过：透明日志校验通过") and "auditor-1" in ran.text("run")
    result = auditor.open("/admin/certificates").text("verifier-log")
    assert "通过" in result and "未通过" not in result and "auditor-1" in result
    assert "2026-03-12 17:00" in result  # when it finished, in Beijing time

    tamper(app.extensions["db_engine"], "UPDATE log_entry SET leaf_hash = :fake WHERE leaf_index = 1", fake="ab" * 32)
    ran = run_verifier(app, auditor, "/admin/certificates", "log")
    assert "log verify FAILED" in ran.text("outcome")
    result = auditor.open("/admin/certificates").text("verifier-log")
    assert "未通过" in result and "log verify FAILED" in result
    assert f"leaf 1 (certificate {purchases['gift']['certificate_no']}) is {'ab' * 32}" in result


def test_a_court_case_finds_its_own_certificates_not_those_of_a_case_masked_alike(
        app, client, operator, people, fake_wechat):
    """Both cases read (2024)闽0627刑初***号 in public: the search goes through the case's own records."""
    nanjing_court = court(operator, app, "南靖县人民法院", 1)
    county_listing = listed(operator, county=NANJING_COUNTY, tonnes=10, name="南靖县国有林场森林经营碳汇")
    found = {}
    for case_no, person in (("(2024)闽0627刑初123号", "zhangsan"), ("(2024)闽0627刑初124号", "lisi")):
        case = open_case(client, nanjing_court, case_no=case_no, multiplier="1",
                         loss={"method": "appraisal", "tonnes": "1", "appraisal_body": "南靖县林业局",
                               "report_no": f"南林鉴〔2024〕{person}号"}, payers=[{"name": "张三"}])
        payer = defendant(client, person)
        order = payer.order(county_listing, case["required_g"], purpose="judicial",
                            claim_code=case["payers"][0]["claim_code"])
        fake_wechat.pay(order["order_no"])
        restored = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()
        assert restored["status"] == "restored"
        found[case_no] = sorted([restored["certificates"][0]["certificate_no"],
                                 restored["witness_certificate_no"]])

    finance = signed_in(people, "finance")
    for case_no, numbers in found.items():
        typed = case_no.replace("(", "（").replace(")", "）")  # as a person may type it
        page = finance.open(f"/admin/certificates?case={quote(typed)}")
        assert page.status == 200
        assert sorted(listed_numbers(page)) == numbers
        assert "(2024)闽0627刑初***号" in page.text("certificates")

    refused = finance.open(f"/admin/certificates?case={quote('第123号案件')}")
    assert refused.status == 400 and refused.text("problem").startswith("case:")


def test_keyset_pages_of_certificates_and_refusals_that_name_the_field(app, shop, citizen, fake_wechat, people):
    numbers = [buy(citizen, fake_wechat, shop["listing"]["id"], 100_000)["certificate_no"] for _ in range(5)]
    finance = signed_in(people, "finance")

    seen, path = [], "/admin/certificates?sort=number&dir=asc&size=2"
    while path:
        page = finance.open(path)
        assert page.status == 200
        seen += listed_numbers(page)
        following = re.search(r'<a href="([^"]+)" rel="next"', page.html)
        path = following.group(1).replace("&amp;", "&") if following else None
    assert seen == sorted(numbers)  # every certificate once, in order, across three pages

    for query, field in (("after=bm90LWEtY3Vyc29y", "after"), ("order=TH123", "order"), ("who=forged", "who"),
                         ("sort=beneficiary", "sort"), ("size=0", "size"), ("colour=green", "colour"),
                         ("number=TH2026%25", "number")):
        refused = finance.open(f"/admin/certificates?{query}")
        assert refused.status == 400, query
        assert refused.text("problem").startswith(f"{field}:"), (query, refused.text("problem"))

    assert finance.open("/admin/certificates/TH2026-99999999").status == 404
    assert finance.open("/admin/certificates/not-a-number").status == 404


def test_the_csv_pages_through_the_database_and_holds_every_selected_certificate(
        app, shop, citizen, fake_wechat, people, monkeypatch):
    numbers = [buy(citizen, fake_wechat, shop["listing"]["id"], 100_000)["certificate_no"] for _ in range(5)]
    monkeypatch.setattr(exports, "CHUNK", 2)  # three chunks
    _, lines = exported(app, signed_in(people, "auditor"), "/admin/certificates?size=1", "certificates")
    assert [line["number"] for line in lines] == list(reversed(numbers))
    assert {line["status"] for line in lines} == {"valid"} and {line["quantity_g"] for line in lines} == {"100000"}

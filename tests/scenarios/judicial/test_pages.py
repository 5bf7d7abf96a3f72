"""A clerk's day at 南靖县人民法院, in the organisation portal (/org/cases, a signed-in browser, no token): she opens
a case through the form — a mistyped 案号 first, which comes back with the reason beside it and nothing she typed
lost —, finds it in the list, sees it fall overdue, extends it and at last closes it, each with a reason, and
exports the list as CSV. Around her: what a restored case's page shows (purchases with their tier, certificates,
the witness certificate and its PDF), a viewer who reads everything and may decide nothing, and another court's
clerk, for whom the case does not exist.

The ledger invariants, the cases' invariants and the audit chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

import re


from tests.orgs.conftest import audit_events
from tests.scenarios.judicial.conftest import NANJING_COUNTY, court, defendant, open_case
from tests.scenarios.portal import beside, sign_in, signed_in, typed
from tests.staff.conftest import Page

CASE_NO = "(2024)闽0627刑初123号"




def rows_of(page: Page) -> list[int]:
    """The case ids the list page shows, in order."""
    assert page.status == 200, (page.status, page.response.location)
    return [int(n) for n in re.findall(r'<tr data-case="(\d+)"', page.html)]





FORM = {"case_no": "2024闽0627刑初123号", "cause": "illegal_felling", "cause_note": "滥伐阔叶树 18.6493 立方米",
        "damage_region": NANJING_COUNTY, "loss.method": "appraisal", "loss.tonnes": "47.07",
        "loss.appraisal_body": "南靖县林业局", "loss.report_no": "南林鉴〔2024〕7号", "multiplier": "2",
        "rounding": "up_tonne", "deadline": "2026-04-01", "payers.0.name": "张三", "payers.0.share_percent": "50",
        "payers.1.name": "李四", "payers.1.share_percent": "50"}


def test_a_clerks_day_open_list_overdue_extend_close_export(app, client, clock, operator, nanjing_court, people):
    lin = signed_in(app, people, "clerk.lin", "clerk", nanjing_court.id)
    home = lin.open("/org/")
    assert 'href="/org/cases"' in home.html  # the portal leads a court's people to their cases

    # The first try has the 案号 without its brackets: the form comes back with the reason beside the field and
    # everything she typed still in it.
    refused = Page(lin.submit("/org/cases/new", "/org/cases/new", FORM))
    assert refused.status == 400
    assert beside(refused, "case_no").startswith("案号格式不正确")
    for name in ("case_no", "cause_note", "loss.tonnes", "loss.report_no", "multiplier", "deadline", "payers.0.name",
                 "payers.1.share_percent"):
        assert typed(refused, "new-case", name) == FORM[name], name
    assert lin.open("/org/cases").html.count("data-case=") == 0  # nothing was opened

    opened = lin.submit("/org/cases/new", "/org/cases/new", {**FORM, "case_no": "（2024）闽0627刑初123号"})
    assert opened.status_code == 302, Page(opened).html
    case_path = opened.location
    case_id = int(case_path.rsplit("/", 1)[1])
    case = lin.open(case_path)
    assert case.status == 200
    assert CASE_NO in case.text("case") and "待缴纳" in case.text("case")
    computation = case.text("computation")
    assert "鉴定损失量 47.07 tCO2e（南靖县林业局，南林鉴〔2024〕7号）" in computation
    assert "47.07 t × 倍数 2 = 94.14 t" in computation and "95 t = 95,000,000 g CO2e" in computation
    assert "95 t" in case.text("progress") and "0%" in case.text("progress")
    payers = case.text("payers")
    assert "张三" in payers and "张*" in payers and "李四" in payers and "李*" in payers
    codes = re.findall(r'class="mono claim-code">([^<]+)<', case.html)
    assert len(codes) == 2 and all(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", c) for c in codes)
    assert case.form("extend") and case.form("close")

    # The list: the case, 95 t to restore, nothing paid, due on 2026-04-01.
    listed = lin.open("/org/cases")
    assert rows_of(listed) == [case_id]
    assert "95 t" in listed.text("cases") and "2026-04-01" in listed.text("cases")
    assert rows_of(lin.open("/org/cases?overdue=true")) == []

    # A month on, nothing paid: overdue, and the overdue filter finds it; the other filters narrow as they say.
    clock.advance(days=30)
    lin = sign_in(app, "clerk.lin")
    overdue = lin.open("/org/cases?overdue=true&status=&opened_from=&opened_to=")
    assert rows_of(overdue) == [case_id] and "已逾期" in overdue.text("cases")
    assert rows_of(lin.open("/org/cases?status=overdue")) == [case_id]
    assert rows_of(lin.open("/org/cases?status=restored")) == []
    assert rows_of(lin.open("/org/cases?opened_from=2026-03-12&opened_to=2026-03-12")) == [case_id]
    assert rows_of(lin.open("/org/cases?opened_from=2026-03-13")) == []
    bad_filter = lin.open("/org/cases?opened_from=yesterday")
    assert bad_filter.status == 400 and beside(bad_filter, "opened_from")

    # The CSV of what the list shows, from the page's own link: the same file the JSON API gives a token.
    assert 'href="/org/cases.csv?overdue=true"' in overdue.html
    exported = lin.get("/org/cases.csv?overdue=true")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert text.startswith("\ufeffid,case_no,cause,status") and CASE_NO in text and ",overdue," in text
    by_token = nanjing_court.api(client).get("/api/org/v1/cases.csv", query_string={"overdue": "true"})
    assert by_token.get_data() == exported.get_data()

    # Extending to a date before the deadline is refused beside the date; the reason she typed stays.
    reason = "被告申请延期缴纳，经合议庭同意"
    too_early = Page(lin.submit(case_path, f"{case_path}/extend", {"deadline": "2026-03-01", "reason": reason}))
    assert too_early.status == 400 and beside(too_early, "deadline")
    assert typed(too_early, "extend", "reason") == reason and typed(too_early, "close", "reason") == ""
    extended = lin.submit(case_path, f"{case_path}/extend", {"deadline": "2026-06-30", "reason": reason})
    assert extended.status_code == 302 and extended.location == case_path
    case = lin.open(case_path)
    assert "2026-06-30" in case.text("case-deadline") and "逾期" not in case.text("case-deadline")
    assert reason in case.text("decisions") and "2026-04-01 → 2026-06-30" in case.text("decisions")
    assert rows_of(lin.open("/org/cases?overdue=true")) == []

    # Past the new deadline too: the court orders restoration in kind instead, and closes the case.
    clock.advance(days=90)
    lin = sign_in(app, "clerk.lin")
    assert rows_of(lin.open("/org/cases?overdue=true")) == [case_id]
    no_reason = Page(lin.submit(case_path, f"{case_path}/close", {"reason": ""}))
    assert no_reason.status == 400 and beside(no_reason, "reason")
    closed = lin.submit(case_path, f"{case_path}/close", {"reason": "改判恢复原状，由被告补植复绿"})
    assert closed.status_code == 302
    case = lin.open(case_path)
    assert "已结案" in case.text("case") and "改判恢复原状" in case.text("closed-reason")
    assert "extend" not in {f.id for f in case.forms} and "close" not in {f.id for f in case.forms}
    assert rows_of(lin.open("/org/cases?status=closed")) == [case_id]
    assert rows_of(lin.open("/org/cases?overdue=true")) == []

    # The audit chain names her session (no token) for each decision.
    for action in ("case.open", "case.extend", "case.close"):
        (event,) = audit_events(operator, action)
        assert event["actor"].endswith(":clerk.lin"), event


def test_the_form_takes_a_money_case_skips_empty_payer_rows_and_names_the_row_at_fault(app, nanjing_court, people):
    lin = signed_in(app, people, "clerk.lin", "clerk", nanjing_court.id)
    money = {"case_no": "(2025)闽0627民初88号", "cause": "fire", "damage_region": NANJING_COUNTY,
             "loss.method": "money", "loss.amount_yuan": "12,000.50", "loss.basis": "生态服务功能损失",
             "loss.tonnes": "left over from another try", "multiplier": "1", "rounding": "up_tonne",
             "deadline": "2026-12-31", "payers.0.name": "王五", "payers.2.name": "赵六",
             "payers.2.share_percent": "half"}
    refused = Page(lin.submit("/org/cases/new", "/org/cases/new", money))
    assert refused.status == 400
    assert beside(refused, "payers.2.share_percent") and beside(refused, "payers.0.name") is None
    assert typed(refused, "new-case", "payers.2.name") == "赵六"
    assert 'value="money" checked' in refused.html

    shares = Page(lin.submit("/org/cases/new", "/org/cases/new",
                             {**money, "payers.0.share_percent": "30", "payers.2.share_percent": "60"}))
    assert shares.status == 400 and "100" in shares.text("payers-error")

    bad_sum = Page(lin.submit("/org/cases/new", "/org/cases/new", {**money, "loss.amount_yuan": "12000.505"}))
    assert bad_sum.status == 400 and beside(bad_sum, "loss.amount_yuan")

    opened = lin.submit("/org/cases/new", "/org/cases/new",
                        {**money, "payers.0.share_percent": "40", "payers.2.share_percent": "60"})
    assert opened.status_code == 302, Page(opened).html
    case = lin.open(opened.location)
    assert "¥12,000.50" in case.text("progress")
    assert "王五" in case.text("payers") and "赵六" in case.text("payers") and "40%" in case.text("payers")

    # The same number again in this court: refused beside the case number.
    again = Page(lin.submit("/org/cases/new", "/org/cases/new",
                            {**money, "payers.0.share_percent": "40", "payers.2.share_percent": "60"}))
    assert again.status == 409 and "已登记" in beside(again, "case_no")


def test_a_restored_cases_page_shows_purchases_certificates_and_the_witness_pdf(
        app, client, nanjing_court, county_listing, fake_wechat, people):
    case = open_case(client, nanjing_court, loss={"method": "appraisal", "tonnes": "1", "appraisal_body": "南靖县林业局",
                                                  "report_no": "南林鉴〔2024〕8号"}, multiplier="1")
    payer = defendant(client, "zhangsan")
    order = payer.order(county_listing, 1_000_000, purpose="judicial", claim_code=case["payers"][0]["claim_code"])
    fake_wechat.pay(order["order_no"])

    lin = signed_in(app, people, "clerk.lin", "clerk", nanjing_court.id)
    page = lin.open(f"/org/cases/{case['id']}")
    assert "已修复" in page.text("case") and "100%" in page.text("progress")
    assert "同县" in page.text("purchases") and order["order_no"] in page.text("purchases")
    shown = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert shown["purchases"][0]["tier_reason"] in page.text("purchases")
    retirement_no = shown["certificates"][0]["certificate_no"]
    witness_no = shown["witness_certificate_no"]
    assert f'href="/v/{retirement_no}"' in page.html and f'href="/v/{witness_no}"' in page.html
    pdf = f"/api/v1/certificates/{witness_no}/certificate.pdf"
    assert f'href="{pdf}"' in page.html
    assert client.get(f"/v/{retirement_no}").status_code == 200  # public: the links need no sign-in
    assert {f.id for f in page.forms} == {None}  # a restored case is decided: the header's sign-out form only

    # Each payer's 小程序码, from the page route: the same image the JSON route gives a token.
    payer_id = case["payers"][0]["id"]
    image_path = f"/org/cases/{case['id']}/payers/{payer_id}/claim-code"
    assert f'href="{image_path}"' in page.html
    image = lin.get(image_path)
    assert image.status_code == 200 and image.mimetype in ("image/jpeg", "image/png") and image.get_data()
    by_token = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}/payers/{payer_id}/claim-code")
    assert by_token.mimetype == image.mimetype
    assert lin.get(f"/org/cases/{case['id']}/payers/999999/claim-code").status_code == 404


def test_a_viewer_reads_the_case_but_sees_no_forms_and_may_not_decide(app, client, nanjing_court, people):
    case = open_case(client, nanjing_court)
    zhao = signed_in(app, people, "viewer.zhao", "viewer", nanjing_court.id)
    listed = zhao.open("/org/cases")
    assert rows_of(listed) == [case["id"]] and "new-case" not in listed.html
    page = zhao.open(f"/org/cases/{case['id']}")
    assert page.status == 200 and CASE_NO in page.text("case")
    assert [f.id for f in page.forms] == [None]  # the header's sign-out form only
    for action, fields in (("extend", {"deadline": "2026-06-30", "reason": "查看员试图延期"}),
                           ("close", {"reason": "查看员试图结案"})):
        assert zhao.submit(f"/org/cases/{case['id']}", f"/org/cases/{case['id']}/{action}",
                           fields).status_code == 403
    assert zhao.get("/org/cases/new").status_code == 403
    assert zhao.submit("/org/cases", "/org/cases/new", FORM).status_code == 403
    assert zhao.get("/org/cases.csv").status_code == 200
    assert nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()["decisions"] == []


def test_another_courts_clerk_finds_no_such_case(app, client, operator, nanjing_court, people):
    case = open_case(client, nanjing_court)
    pinghe = court(operator, app, "平和县人民法院", 2)
    other = signed_in(app, people, "clerk.pinghe", "clerk", pinghe.id)
    assert other.get(f"/org/cases/{case['id']}").status_code == 404
    payer_id = case["payers"][0]["id"]
    assert other.get(f"/org/cases/{case['id']}/payers/{payer_id}/claim-code").status_code == 404
    for action, fields in (("extend", {"deadline": "2026-06-30", "reason": "不是我的案子"}),
                           ("close", {"reason": "不是我的案子"})):
        assert other.submit("/org/cases", f"/org/cases/{case['id']}/{action}", fields).status_code == 404
    assert rows_of(other.open("/org/cases")) == []
    assert other.get("/org/cases.csv").get_data(as_text=True).count("\n") == 1  # the header alone
    mine = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert (mine["status"], mine["decisions"]) == ("ordered", [])


def test_pages_take_the_session_and_the_api_only_a_token(app, client, nanjing_court, people):
    case = open_case(client, nanjing_court)
    response = client.get(f"/org/cases/{case['id']}")  # nobody signed in: to the sign-in form, and back after
    assert response.status_code == 302 and response.location == f"/org/login?next=/org/cases/{case['id']}"
    lin = signed_in(app, people, "clerk.lin", "clerk", nanjing_court.id)
    assert lin.get(f"/org/cases/{case['id']}").status_code == 200
    assert lin.get(f"/api/org/v1/cases/{case['id']}").status_code == 401  # a cookie never opens the API

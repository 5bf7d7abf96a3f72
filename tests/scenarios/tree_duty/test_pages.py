"""The organisation's pages for its staff's tree duty (/org/tree-duty, a signed-in browser, no token): the upload
form, the report and quote on the list's page, paying by bank transfer, the progress that refreshes itself while
the job issues the vouchers, and the downloads."""

from __future__ import annotations

import io
import re

from backend import jobs
from tests.scenarios.portal import beside, people, signed_in  # noqa: F401  (people: the fixture)
from tests.scenarios.tree_duty.conftest import xlsx
from tests.staff.conftest import Page, password_hash  # noqa: F401  (the fixture)


def test_a_clerk_uploads_reads_the_report_pays_and_watches_the_vouchers_come(app, agency, people, finance,
                                                                              big_listing):
    li = signed_in(app, people, "clerk.li", "clerk", agency["id"])
    assert 'href="/org/tree-duty"' in li.open("/org/").html
    listed = li.open("/org/tree-duty")
    assert listed.text("no-rosters") and listed.form("upload")

    # A file that is no staff list comes back with the reason beside the file field.
    refused = Page(li.client.post("/org/tree-duty/rosters", content_type="multipart/form-data", data={
        "csrf_token": listed.csrf, "file": (io.BytesIO(b"name,birth_year\n"), "bad.csv")}))
    assert refused.status == 400 and "表头缺少列" in beside(refused, "file")

    staff = [["王一", 1980, "男", "W1"], [None, 1985, "女", "W2"], ["李小妹", 2016, "女", "W3"], ["赵四", 1990, "女", "W4"]]
    uploaded = li.client.post("/org/tree-duty/rosters", content_type="multipart/form-data", data={
        "csrf_token": listed.csrf, "file": (io.BytesIO(xlsx(staff)), "名单.xlsx")})
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)[:500]
    page = li.open(uploaded.location)
    assert page.text("persons") == "2" and "缺少姓名" in page.html and "李**" in page.html
    assert page.text("quote-amount").startswith("120.00 元") and 'http-equiv="refresh"' not in page.html

    pay = page.form("pay")
    paid = li.client.post(pay.action, data={**pay.hidden(), "payment": "offline"})
    assert paid.status_code == 302
    again = li.client.post(pay.action, data={**pay.hidden(), "payment": "offline"})  # a double click: one order
    assert again.status_code == 302
    page = li.open(uploaded.location)
    [order_no] = re.findall(r'data-order="(TH[0-9A-F]+)"', page.html)
    assert "待财务确认到账" in page.html

    finance.post(f"/api/admin/v1/orders/{order_no}/offline-payment", {"reference": "LI-2026-01", "amount_fen": 12_000})
    waiting = li.open(uploaded.location)
    assert waiting.text("issued") == "0 / 2" and 'http-equiv="refresh"' in waiting.html  # refreshes while issuing
    jobs.drain(app)
    done = li.open(uploaded.location)
    assert done.text("issued") == "2 / 2" and 'http-equiv="refresh"' not in done.html
    assert f'href="{uploaded.location}/vouchers.csv" id="csv"' in done.html
    csv_file = li.get(f"{uploaded.location}/vouchers.csv")
    assert csv_file.status_code == 200 and "王一" in csv_file.get_data(as_text=True)


def test_a_clerk_withdraws_a_wrong_list_from_its_page(app, agency, people, big_listing):
    li = signed_in(app, people, "clerk.li", "clerk", agency["id"])
    listed = li.open("/org/tree-duty")
    uploaded = li.client.post("/org/tree-duty/rosters", content_type="multipart/form-data", data={
        "csrf_token": listed.csrf, "file": (io.BytesIO(xlsx([["王一", 1980, "男", "W1"]])), "去年的名单.xlsx")})
    page = li.open(uploaded.location)
    withdraw = page.form("withdraw")
    assert li.client.post(withdraw.action, data=withdraw.hidden()).status_code == 302
    page = li.open(uploaded.location)
    assert page.text("status").startswith("已撤回") and not page.html.count('id="pay"')
    assert 'id="withdraw"' not in page.html

"""Worked example: a court's offline order paid by bank transfer, recorded in the console with four eyes.

南京市玄武区人民法院 orders 95 t of restoration credits for a case, to be paid by transfer (5,700 yuan). The
platform's rule for the story: from 1,000 yuan up a second finance user confirms. 钱会计 finds the order in the
console's queue of offline orders awaiting payment, records the bank's voucher — the order waits; she cannot
confirm her own record; 孙出纳 records the same voucher and amount, and the order is fulfilled with its
certificate. An auditor reads the same pages and has no button to press.
"""

from __future__ import annotations

import html
import re

from admin import listing
from backend import jobs
from tests.scenarios.judicial.conftest import open_case
from tests.scenarios.judicial.test_offline_payments import offline_order
from tests.staff.conftest import Browser, Page, People


def signed_in(app, password_hash, username: str, role: str) -> Browser:
    People(app, password_hash).make(username, role)
    browser = Browser(app)
    assert browser.sign_in(username).status_code == 302
    return browser


def test_a_large_transfer_is_recorded_by_one_finance_user_and_confirmed_by_another(
        app, client, nanjing_court, county_listing, password_hash):
    app.config["OFFLINE_SECOND_CONFIRMATION_FEN"] = 100_000
    case = open_case(client, nanjing_court)
    order = offline_order(client, nanjing_court, case, county_listing, 95_000_000)
    qian = signed_in(app, password_hash, "qian", "finance")

    queue = qian.open("/admin/orders?channel=offline&status=reserved")
    assert order["order_no"] in queue.text("order-table")
    path = f"/admin/orders/{order['order_no']}"
    opened = qian.open(path)
    assert "5,700.00 元" in opened.text("amount") and opened.form("offline-payment")

    wrong = qian.submit(path, f"{path}/offline-payment", {"reference": "NJ-AK-2024-0901", "amount": "5,600"})
    assert wrong.status_code == 409 and "不符" in Page(wrong).text("error")  # nothing noted
    bad = qian.submit(path, f"{path}/offline-payment", {"reference": "NJ-AK-2024-0901", "amount": "5700.001"})
    assert bad.status_code == 400 and "amount" in Page(bad).text("error")
    noted = qian.submit(path, f"{path}/offline-payment", {"reference": "nj-ak-2024-0901", "amount": "5,700.00"})
    assert noted.status_code == 302
    waiting = qian.open(path)
    assert waiting.text("order-status") == "待支付" and "待另一位财务人员复核" in waiting.text("voucher")
    mine_again = qian.submit(path, f"{path}/offline-payment", {"reference": "NJ-AK-2024-0901", "amount": "5700"})
    assert mine_again.status_code == 409 and "另一位财务" in Page(mine_again).text("error")

    sun = signed_in(app, password_hash, "sun", "finance")
    confirmed = sun.submit(path, f"{path}/offline-payment", {"reference": "NJ-AK-2024-0901", "amount": "5700"})
    assert confirmed.status_code == 302
    done = sun.open(path)
    assert done.text("order-status") == "已完成"
    assert re.findall(r">(order\.[a-z_]+)<", done.html) == [
        "order.create", "order.offline_payment_recorded", "order.paid", "order.fulfilled"]
    restored = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert restored["status"] == "restored"


def test_an_auditor_reads_orders_and_has_no_button(app, client, nanjing_court, county_listing, password_hash):
    case = open_case(client, nanjing_court)
    order = offline_order(client, nanjing_court, case, county_listing, 1_000_000)
    auditor = signed_in(app, password_hash, "shen", "auditor")
    path = f"/admin/orders/{order['order_no']}"
    opened = auditor.open(path)
    assert opened.status == 200 and [f.id for f in opened.forms] == [None]  # the sign-out form alone
    refused = auditor.client.post(f"{path}/offline-payment",
                                  data={"csrf_token": opened.csrf, "reference": "NJ-1", "amount": "60"})
    assert refused.status_code == 403
    asked = auditor.submit("/admin/orders?channel=offline", "/admin/exports/orders", {"query": "channel=offline"})
    assert asked.status_code == 302  # reading is all an export does: the auditor may
    export = asked.location
    waiting = auditor.get(export)
    assert waiting.headers["Refresh"] == "2" and "排队中" in Page(waiting).text("export")
    jobs.drain(app)
    done = auditor.open(export)
    assert "Refresh" not in done.response.headers and "共 1 行" in done.text("ready")
    lines = auditor.get(f"{export}/file").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(lines) == 2 and lines[1].startswith(order["order_no"])


def next_page(page: Page) -> str | None:
    found = re.search(r'href="([^"]+)" rel="next"', page.html)
    return None if found is None else html.unescape(found[1])


def test_the_order_list_pages_by_keyset_and_refuses_what_it_cannot_read(app, client, nanjing_court, county_listing,
                                                                         password_hash, monkeypatch):
    case = open_case(client, nanjing_court, payers=[{"name": f"被告{n}"} for n in range(5)])
    placed = [offline_order(client, nanjing_court, case, county_listing, 1_000_000, payer=n)["order_no"]
              for n in range(5)]
    finance = signed_in(app, password_hash, "qian", "finance")
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    seen, path = [], "/admin/orders?sort=amount&dir=asc&channel=offline"  # equal amounts: the id breaks the ties
    while path:
        opened = finance.open(path)
        seen += re.findall(r'<a href="/admin/orders/(TH[0-9A-F]+)">', opened.html)
        path = next_page(opened)
    assert seen == placed  # three pages, each order once, in the order asked

    for refused, field in (("status=lost", "status"), ("sort=secret", "sort"), ("after=!!!", "after"),
                           ("since=2026-02-30", "since"), ("dir=up", "dir"), ("until=9999-12-31", "until"),
                           ("since=0001-01-01", "since"), ("purpose=%00", "purpose")):
        page = finance.open(f"/admin/orders?{refused}")
        assert page.status == 400 and field in page.text("problem"), refused
    assert finance.open("/admin/orders/NOT-AN-ORDER").status == 400
    assert finance.open("/admin/orders/TH20260312000000000000").status == 404

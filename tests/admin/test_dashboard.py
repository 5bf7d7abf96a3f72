"""Worked example: the operator's dashboard after a day of sales.

A 1 t batch is on sale at 80 yuan a tonne (the shop fixture). On 植树节 (2026-03-12, Beijing time) a citizen
neutralises 250 kg for herself, gives 100 kg to her father, and keeps 300 kg that she then has refunded. The
dashboard counts what was paid and refunded today and this month, the grams retired by purpose (the gift apart from
her own), where the batch's serials are, and what waits for an operator; the next day, "today" starts empty and
"this month" keeps it all.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from admin import dashboard
from backend import overdue
from backend.db import read
from scenarios.events import service as events
from scenarios.events.models import Event
from scenarios.judicial import service as judicial
from scenarios.judicial.models import JudicialCase
from tests.staff.conftest import Browser, Page, People


def a_day_of_sales(app, citizen, fake_wechat, listing_id: int) -> None:
    for quantity_g, purpose, extra in ((250_000, "personal", {}), (100_000, "gift", {"beneficiary_name": "王建国"}),
                                       (300_000, "keep", {})):
        order = citizen.order(listing_id, quantity_g, purpose=purpose, **extra)
        fake_wechat.pay(order["order_no"])
        assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "fulfilled"
    assert citizen.post(f"/orders/{order['order_no']}/refund").get_json()["status"] == "refunding"
    fake_wechat.settle_refund(next(iter(fake_wechat.refunds)))


def figures(app) -> dict:
    with app.app_context():
        return read(lambda s: dashboard.figures(s, app.config["CLOCK"]()))


def test_the_dashboard_adds_up_a_day_of_sales(app, clock, shop, citizen, fake_wechat):
    a_day_of_sales(app, citizen, fake_wechat, shop["listing"]["id"])

    today, month = figures(app)["periods"]
    assert (today["label"], month["label"]) == ("今天 03-12", "本月 2026-03")
    # 650 kg paid at 80 yuan a tonne: 52 yuan; the kept 300 kg (24 yuan) came back.
    assert today["sales"] == {"purchases": 3, "received_fen": 5_200, "refunded_fen": 2_400, "net_fen": 2_800}
    assert today["retired_g"] == {"personal": 250_000, "gift": 100_000, "tree_duty": 0, "event": 0, "judicial": 0,
                                  "tourism": 0, "other": 0}
    assert month == {**today, "name": "month", "label": "本月 2026-03"}
    [batch] = figures(app)["inventory"]
    # The refunded 300 kg went back on sale: nothing reserved, 350 kg retired, and it all adds up to the batch.
    assert (batch["quantity_g"], batch["available_g"], batch["reserved_g"], batch["retired_g"],
            batch["cancelled_g"]) == (1_000_000, 650_000, 0, 350_000, 0)
    assert figures(app)["attention"]["orders"] == 0

    clock.advance(days=1)
    today, month = figures(app)["periods"]
    assert today["sales"] == {"purchases": 0, "received_fen": 0, "refunded_fen": 0, "net_fen": 0}
    assert sum(today["retired_g"].values()) == 0
    assert month["sales"]["net_fen"] == 2_800 and month["retired_g"]["gift"] == 100_000


def test_a_day_runs_midnight_to_midnight_in_beijing_whatever_the_server(clock):
    clock.now = clock.now.replace(hour=16, minute=30)  # 00:30 on 03-13 in Beijing, still 03-12 in UTC
    today, month = dashboard.periods(clock())
    assert (today.label, today.start.isoformat(), today.end.isoformat()) == (
        "今天 03-13", "2026-03-12T16:00:00+00:00", "2026-03-13T16:00:00+00:00")
    assert (month.start.isoformat(), month.end.isoformat()) == ("2026-02-28T16:00:00+00:00",
                                                                "2026-03-31T16:00:00+00:00")


def test_every_platform_role_reads_the_dashboard_in_yuan_and_tonnes(app, shop, citizen, fake_wechat, password_hash):
    a_day_of_sales(app, citizen, fake_wechat, shop["listing"]["id"])
    people = People(app, password_hash)
    for role in ("admin", "reviewer", "finance", "auditor"):
        people.make(f"{role}-1", role)
        browser = Browser(app)
        browser.sign_in(f"{role}-1")
        page = Page(browser.get("/admin/"))
        assert page.response.status_code == 200, role
        assert "52.00" in page.text("sales") and "28.00" in page.text("sales")
        assert "0.1" in page.text("retired-by-purpose") and "0.35" in page.text("inventory")
        assert "待人工处理的订单：0 笔" in page.text("attention")

    # The charts beside the tables draw the same figures, with the ECharts the app serves itself.
    charts = json.loads(page.text("chart-data"))
    assert charts["unit"] == "t CO2e"
    by_purpose, by_batch = charts["charts"]
    assert by_purpose["categories"][:2] == ["个人自愿", "赠送"]
    assert [series["values"][:2] for series in by_purpose["series"]] == [[0.25, 0.1], [0.25, 0.1]]
    assert [(series["name"], series["values"]) for series in by_batch["series"]] == [
        ("可用（含持有）", [0.65]), ("已预留", [0.0]), ("已注销", [0.35]), ("已作废", [0.0])]
    scripts = re.findall(r'<script src="([^"]+)"', page.html)
    assert scripts == ["/assets/staff/echarts/echarts.min.js", "/assets/staff/charts.js"]


def test_overdue_cases_and_events_are_counted_as_each_record_counts_itself(app, runner, clock):
    """The dashboard counts in the database what each case's and event's page decides one by one (is_overdue):
    the demo's court cases and events, today and three years on, when whatever is still owed is late."""
    with app.app_context():
        assert runner.invoke(args=["demo"]).exit_code == 0

    def counted_and_decided() -> tuple[dict, dict]:
        def look(session):
            now = clock()
            counted = {item["key"]: item["count"] for item in overdue.counts(session, now)}
            decided = {"judicial_cases": sum(judicial.is_overdue(case, now)
                                             for case in session.execute(select(JudicialCase)).scalars()),
                       "events": sum(events.is_overdue(event, now)
                                     for event in session.execute(select(Event)).scalars())}
            return counted, decided
        with app.app_context():
            return read(look)

    counted, decided = counted_and_decided()
    assert counted == decided
    clock.advance(days=3 * 365)
    counted, decided = counted_and_decided()
    assert counted == decided and counted["judicial_cases"] > 0 and counted["events"] > 0

"""The site's page as its people see it in a desktop browser (headless Chromium, the app served): the charts of
the days are drawn, each as wide as the page and one under the other — a chart drawn while its neighbour was still
hidden once sized itself to the whole row and then overlapped the neighbour."""

from __future__ import annotations

from tests.miniprogram.conftest import Citizen
from tests.scenarios.portal import signed_in
from tests.scenarios.tourism.test_pages import offer, voucher_after_offset

pytest_plugins = ("tests.browser",)


def test_the_days_charts_are_drawn_full_width_one_under_the_other(
        app, client, clock, scenic_area, gate, listings, fake_wechat, people, phone, live_server):
    offer(client, scenic_area, gate)
    voucher = voucher_after_offset(client, gate, listings, fake_wechat)
    for grams in (8_000, 11_000, 14_000):  # a visitor a day for three more days
        clock.advance(days=1)
        order = Citizen(client).order(listings["dayi"], grams, purpose="tourism", site_id=gate["id"])
        fake_wechat.pay(order["order_no"])
    assert scenic_area.api(client).post("/api/org/v1/perks/redeem", {"code": voucher["code"]}).status_code == 200
    clerk = signed_in(app, people, "clerk.zhang", "clerk", scenic_area.id)
    session = clerk.client.get_cookie(app.config["SESSION_COOKIE_NAME"])

    with phone.desktop():
        phone.driver.get(f"{live_server.url}/healthz")  # a page of the site, to set its cookie on
        phone.driver.add_cookie({"name": session.key, "value": session.value, "path": "/"})
        phone.driver.get(f"{live_server.url}/org/sites/{gate['id']}")
        people_chart, grams_chart = boxes = phone.chart_boxes("people-chart", "grams-chart")
        for box in boxes:
            assert box["canvas"] is not None, boxes  # drawn
            assert box["canvas"][2] == box["figure"][2] == box["row"], boxes  # as wide as the page
        assert grams_chart["figure"][1] >= people_chart["figure"][1] + people_chart["figure"][3], boxes  # below it
        phone.driver.execute_script("document.getElementById('people-chart').scrollIntoView()")
        phone.screenshot("tourism-site-statistics")

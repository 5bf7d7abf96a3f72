"""西岭雪山's people at their desks and at the gate, on the /org/ pages (a signed-in browser, no token): the site's
page with its perk offers, its gate code and its figures per Beijing day (a chart and a table of the same numbers);
the clerk defining an offer through the form; the gate redeeming a visitor's voucher once; and another scenic area,
for which the site does not exist.

The ledger invariants, tourism's invariants and the audit chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

import json

from backend.clock import beijing_date
from tests.miniprogram.conftest import Citizen
from tests.scenarios.portal import beside, signed_in, typed
from tests.scenarios.tourism.conftest import organisation
from tests.staff.conftest import Page

TICKET = {"title": "门票七折", "terms": "凭券购当日成人门票一张", "kind": "site_offset", "min_g": 5000}


def offer(client, scenic_area, gate) -> dict:
    response = scenic_area.api(client).post(f"/api/org/v1/sites/{gate['id']}/perks", TICKET)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def voucher_after_offset(client, gate, listings, fake_wechat) -> dict:
    """A visitor offsets 5 kg at the gate and pays: the offer issues their voucher by itself."""
    visitor = Citizen(client, "xiling-visitor")
    order = visitor.order(listings["dayi"], 5000, purpose="tourism", site_id=gate["id"])
    fake_wechat.pay(order["order_no"])
    [voucher] = visitor.get("/perks").get_json()["items"]
    return voucher


def test_the_site_page_shows_its_offers_its_code_and_the_days_figures_after_an_offset(
        app, client, scenic_area, gate, listings, fake_wechat, people):
    ticket = offer(client, scenic_area, gate)
    voucher_after_offset(client, gate, listings, fake_wechat)
    zhang = signed_in(app, people, "clerk.zhang", "clerk", scenic_area.id)
    home = zhang.open("/org/")
    assert 'href="/org/sites"' in home.html and 'href="/org/perks/redeem"' in home.html

    sites = zhang.open("/org/sites")
    assert sites.status == 200 and f'href="/org/sites/{gate["id"]}"' in sites.html
    assert "西岭雪山景区南门" in sites.text("sites") and "四川省成都市大邑县" in sites.text("sites")
    assert '<td class="num">1</td><td class="num">5</td>' in sites.html  # one offset, 5 kg

    site = zhang.open(f"/org/sites/{gate['id']}")
    assert site.status == 200 and "大邑县" in site.text("region")
    offers = site.text("offers")
    assert "门票七折" in offers and "一次抵销旅行碳排放不少于 5 千克" in offers and "1 / 不限" in offers
    assert "发放中" in offers and f'id="withdraw-{ticket["id"]}"' in site.html
    assert f'src="/org/sites/{gate["id"]}/gate-code"' in site.html
    image = zhang.get(f"/org/sites/{gate['id']}/gate-code")
    assert image.status_code == 200 and image.mimetype in ("image/jpeg", "image/png")

    # Today's figures, in the chart's data (the last of 30 days) and in the table beside it.
    today = beijing_date(app.config["CLOCK"]()).isoformat()
    charts = {chart["element"]: chart for chart in json.loads(site.text("chart-data"))["charts"]}
    assert set(charts) == {"people-chart", "grams-chart"} and len(charts["people-chart"]["categories"]) == 30
    assert [series["values"][-1] for series in charts["people-chart"]["series"]] == [1, 1, 0]
    assert charts["grams-chart"]["series"][0]["values"][-1] == 5.0
    assert f'<tr data-day="{today}"><td>{today}</td><td class="num">1</td><td class="num">1</td>' in site.html
    assert "echarts/echarts.min.js" in site.html and 'id="people-chart"' in site.html


def test_a_clerk_defines_an_offer_through_the_form_and_withdraws_it(app, client, scenic_area, gate, people):
    zhang = signed_in(app, people, "clerk.zhang", "clerk", scenic_area.id)
    page = f"/org/sites/{gate['id']}"
    # An offer for visitors who offset at the gate must say how much: the form comes back, the reason beside it.
    refused = Page(zhang.submit(page, f"{page}/perks", {"title": "门票七折", "terms": "成人票", "kind": "site_offset",
                                                       "valid_days": "30"}))
    assert refused.status == 400 and "抵销量下限" in beside(refused, "min_g")
    assert typed(refused, "new-offer", "title") == "门票七折"

    # Hainan voucher holders get a discount until the year's end (no start given: it starts today).
    defined = zhang.submit(page, f"{page}/perks", {
        "title": "索道半价", "terms": "凭券购索道票一张", "kind": "tree_duty", "duty_year": "2026",
        "duty_region": "460000", "duty_tier": "", "ends_on": "2026-12-31", "valid_days": "60", "stock": "500"})
    assert defined.status_code == 302 and defined.location == page
    site = zhang.open(page)
    assert "已发布权益「索道半价」" in site.html
    [row] = scenic_area.api(client).get(f"/api/org/v1/sites/{gate['id']}/perks").get_json()["items"]
    assert (row["kind"], row["duty_region"], row["stock"], row["ends_on"], row["open"]) == (
        "tree_duty", "460000", 500, "2026-12-31", True)
    assert "海南省的全民义务植树尽责凭证或荣誉凭证" in site.text("offers") and "0 / 500" in site.text("offers")

    withdrawn = zhang.submit(page, f"/org/perks/{row['id']}/withdraw")
    assert withdrawn.status_code == 302
    assert "已撤下" in zhang.open(page).text("offers")
    assert scenic_area.api(client).get(f"/api/org/v1/sites/{gate['id']}/perks").get_json()["items"][0]["open"] is False


def test_the_gate_redeems_a_voucher_once_and_then_says_when(app, client, scenic_area, gate, listings, fake_wechat,
                                                            people):
    offer(client, scenic_area, gate)
    voucher = voucher_after_offset(client, gate, listings, fake_wechat)
    li = signed_in(app, people, "clerk.li", "clerk", scenic_area.id)
    form = li.open("/org/perks/redeem")
    assert [i.get("name") for i in form.form("redeem").inputs] == ["csrf_token", "code"]
    assert "autofocus" in form.form("redeem").field("code")  # the scanner types into it straight away

    # The scanner types the code as the QR holds it; a clerk typing it by hand may use lower case and a dash.
    redeemed = Page(li.submit("/org/perks/redeem", "/org/perks/redeem", {"code": voucher["code_shown"].lower()}))
    assert redeemed.status == 200 and redeemed.text("redeemed-title") == "门票七折"
    assert "凭券购当日成人门票一张" in redeemed.text("redeemed") and "西岭雪山景区南门" in redeemed.text("redeemed")
    assert redeemed.text("redeemed-code") == voucher["code_shown"]

    again = Page(li.submit("/org/perks/redeem", "/org/perks/redeem", {"code": voucher["code"]}))
    assert again.status == 409 and again.text("redeemed") is None
    assert "此券已于" in again.text("refused") and "核销 (already redeemed)" in again.text("refused")
    unknown = Page(li.submit("/org/perks/redeem", "/org/perks/redeem", {"code": "0000-0000"}))
    assert unknown.status == 404 and "券码不存在" in unknown.text("refused")
    stats = scenic_area.api(client).get(f"/api/org/v1/sites/{gate['id']}/stats").get_json()
    assert stats["totals"]["perks_redeemed"] == 1


def test_another_scenic_areas_people_find_no_such_site(app, client, scenic_area, gate, people):
    ticket = offer(client, scenic_area, gate)
    other = organisation(app, "青城山景区管理处", "scenic_area", 2)
    wu = signed_in(app, people, "clerk.wu", "clerk", other.id)
    assert wu.get(f"/org/sites/{gate['id']}").status_code == 404
    assert wu.get(f"/org/sites/{gate['id']}/gate-code").status_code == 404
    assert wu.submit("/org/sites", f"/org/sites/{gate['id']}/perks", TICKET).status_code == 404
    assert wu.submit("/org/sites", f"/org/perks/{ticket['id']}/withdraw").status_code == 404
    assert wu.open("/org/sites").text("no-sites") is not None

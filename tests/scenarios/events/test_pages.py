"""The 2026 Chengdu forum on the web: the public page anyone opens from a poster or a link (/e/<id>, a phone, no
script), and the organiser's pages under /org/events (a signed-in browser, no token) — the list, the new-event form
that gives back what was typed with the reason beside the field, and the event page with its stages, the charts of
the plan and final breakdown (and a table of the same numbers for a page without script), the orders, the
certificate and the participants' 小程序码. Around them: a viewer who reads and may record nothing, another
organiser for whom the event does not exist, and the ECharts copy the app serves itself, with its licence.

The ledger invariants, the events' invariants and the audit chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path


from scenarios.events.pages import signed_tonnes, tonnes
from tests.miniprogram.conftest import Citizen
from tests.scenarios.events.conftest import FINAL_CALCULATION, FORUM, key, organiser, planned, put, record
from tests.scenarios.portal import beside, signed_in, typed
from tests.staff.conftest import Page

ECHARTS = Path(__file__).resolve().parents[3] / "backend" / "staff" / "static" / "echarts"
TRIP_G = 200_000  # a participant's return trip, 200 kg




def rows_of(page: Page) -> list[int]:
    assert page.status == 200, (page.status, page.response.location)
    return [int(n) for n in re.findall(r'<tr data-event="(\d+)"', page.html)]




def public(client, event_id: int) -> dict:
    return client.get(f"/api/v1/events/{event_id}").get_json()


def offset_by_participants(app, client, listing, fake_wechat, event_id: int, count: int) -> None:
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    for number in range(count):
        participant = Citizen(client, f"forum-goer-{number}")
        fake_wechat.pay(participant.order(listing, TRIP_G, purpose="event", event_id=event_id)["order_no"])


def accounted(client, clock, organiser_) -> dict:
    """The forum planned, held, and accounted for the day after it ended."""
    event = planned(client, organiser_)
    clock.advance(days=41)  # 2026-04-22 in Beijing
    response = put(client, organiser_, f"/api/org/v1/events/{event['id']}/final", {
        "calculation": copy.deepcopy(FINAL_CALCULATION), "measure_outcomes": ["会场 100% 绿电，已取得绿证"]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def offline_order(client, organiser_, listing, event_id: int, quantity_g: int) -> dict:
    response = organiser_.api(client).post(f"/api/org/v1/events/{event_id}/orders", {
        "listing_id": listing, "quantity_g": quantity_g, "payment": "offline"}, key=key("pages"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def neutralised(app, client, clock, forum_organiser, finance, listing, fake_wechat) -> dict:
    """Two participants offset their trips; after the final account the organiser offsets the rest by bank
    transfer, which finance records: the event is neutral."""
    event = planned(client, forum_organiser)
    offset_by_participants(app, client, listing, fake_wechat, event["id"], 2)
    clock.advance(days=41)
    put(client, forum_organiser, f"/api/org/v1/events/{event['id']}/final",
        {"calculation": copy.deepcopy(FINAL_CALCULATION)})
    left = forum_organiser.api(client).get(f"/api/org/v1/events/{event['id']}").get_json()["to_offset_left_g"]
    order = offline_order(client, forum_organiser, listing, event["id"], left)
    paid = finance.post(f"/api/admin/v1/orders/{order['order_no']}/offline-payment",
                        {"reference": "CDF-2026-0425-01", "amount_fen": order["amount_fen"]})
    assert paid.status_code == 200 and paid.get_json()["status"] == "fulfilled", paid.get_json()
    shown = public(client, event["id"])
    assert shown["status"] == "neutral"
    return shown


# --- the public page -------------------------------------------------------------------------------------------------

def test_the_public_page_of_a_planned_event_shows_the_plan_and_needs_no_script(client, forum_organiser):
    event = planned(client, forum_organiser)
    shown = public(client, event["id"])
    response = client.get(f"/e/{event['id']}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script may run, and none is needed
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = Page(response)
    assert "<script" not in page.html.lower() and page.forms == []

    assert page.text("name") == FORUM["name"] and "已制定计划" in page.text("status")
    assert "论坛" in page.html and page.text("organiser") == "成都林草碳汇论坛组委会"
    assert page.text("dates") == "2026-04-20 至 2026-04-21"
    assert "锦江区" in page.text("venue") and "成都世纪城国际会议中心" in page.text("venue")
    assert page.text("plan-total") == f"{tonnes(shown['plan_total_g'])} t"
    categories = page.text("plan-categories")
    for line in shown["plan"]["categories"]:
        assert f"{line['name']}{tonnes(line['total_g'])}" in categories, line  # cell after cell
    assert "会场使用绿电" in page.text("measures") and page.text("offset-method") == "购买林草碳汇注销抵销"
    assert page.text("retrospective") is None  # planned five weeks ahead
    assert "活动 2026-04-21 结束后核算" in page.text("final")
    assert "核算后开始抵销" in page.text("progress") and "2027-04-21" in page.text("deadline")
    assert page.text("participant-count") == "0"
    assert "只在最终核算所含的参与者交通排放以内计入" in page.text("no-double-counting")
    assert "No gram counts twice" in page.text("no-double-counting")
    assert "/v/" not in page.html and "注销量达到核算排放量后自动出具" in page.text("certificate")


def test_a_plan_recorded_after_the_event_is_marked_retrospective(client, forum_organiser):
    event = planned(client, forum_organiser, starts_on="2026-03-01", ends_on="2026-03-02")
    page = Page(client.get(f"/e/{event['id']}"))
    assert page.status == 200 and "追溯补录" in page.text("retrospective")


def test_the_public_page_of_a_neutral_event_shows_the_variance_progress_participants_and_certificate(
        app, client, clock, forum_organiser, finance, listing, fake_wechat):
    shown = neutralised(app, client, clock, forum_organiser, finance, listing, fake_wechat)
    page = Page(client.get(f"/e/{shown['id']}"))
    assert page.status == 200 and "<script" not in page.html.lower()
    assert "已碳中和" in page.text("status")

    # The final account, category by category against the plan, and the total difference.
    assert page.text("final-total") == f"{tonnes(shown['final_total_g'])} t"
    assert page.text("variance-total") == f"{signed_tonnes(shown['final']['variance_g'])} t"
    for line in shown["final"]["variance"]:
        row = re.search(rf'<tr data-category="{line["category"]}">(.*?)</tr>', page.html, re.S).group(1)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells == [line["name"], tonnes(line["plan_g"]), tonnes(line["final_g"]),
                         signed_tonnes(line["variance_g"])], cells
    assert "会场 100% 绿电" not in page.html  # no outcome was given for this one
    assert "自我评价" in page.text("evaluation")

    # The offset: everything that counts over the figure, 100%; the bar is CSS.
    figure = shown["final"]["to_offset_g"]
    assert shown["retired_g"] == figure
    assert page.text("progress-figures") == f"{tonnes(figure)} / {tonnes(figure)} t"
    assert "已抵销 100%" in page.text("progress-percent") and 'style="width:100%"' in page.html
    assert f"主办方注销 organiser {tonnes(shown['organiser_retired_g'])} t" in page.text("progress-percent")

    # Participants: two, 400 kg of their own trips, all of it within the participant travel the account includes.
    assert shown["participants"] == {"count": 2, "retired_g": 2 * TRIP_G, "counted_g": 2 * TRIP_G}
    assert page.text("participant-count") == "2" and page.text("participant-retired") == "0.400 t"
    assert page.text("participant-counted") == "0.400 t"

    # The certificate: its verify page and its PDF, both public.
    number = shown["certificate_no"]
    assert page.text("certificate-no") == number
    assert f'href="/v/{number}"' in page.html
    pdf = f"/api/v1/certificates/{number}/certificate.pdf"
    assert f'href="{pdf}"' in page.html
    assert client.get(f"/v/{number}").status_code == 200
    assert client.get(pdf).mimetype == "application/pdf"


def test_a_draft_event_has_no_public_page(client, forum_organiser):
    event = record(client, forum_organiser)
    response = client.get(f"/e/{event['id']}")
    assert response.status_code == 404 and response.mimetype == "text/html"  # a page, for people, not JSON
    page = Page(response)
    assert "活动不存在" in page.text("problem") and FORUM["name"] not in page.html
    assert "<script" not in page.html.lower()
    for nothing in ("999999", "99999999999", "0", "abc"):  # every miss is a page too
        missing = client.get(f"/e/{nothing}")
        assert missing.status_code == 404 and missing.mimetype == "text/html", nothing


# --- the organiser's pages -------------------------------------------------------------------------------------------

NEW_EVENT = {"name": "2026 成都林草碳汇论坛", "kind": "forum", "starts_on": "2026-04-20", "ends_on": "2026-04-21",
             "venue_region": "510100", "venue_name": "成都世纪城国际会议中心", "expected_participants": "800",
             "area_m2": ""}


def test_a_clerk_records_an_event_through_the_form_and_finds_it_in_the_list(app, forum_organiser, people):
    wang = signed_in(app, people, "clerk.wang", "clerk", forum_organiser.id)
    assert 'href="/org/events"' in wang.open("/org/").html  # the portal leads an organiser's people to their events
    listed = wang.open("/org/events")
    assert rows_of(listed) == [] and listed.text("no-events") and 'href="/org/events/new"' in listed.html

    # 510100 is the city of Chengdu, not a county: the form comes back with the reason beside the venue code and
    # everything she typed still in it.
    refused = Page(wang.submit("/org/events/new", "/org/events/new", NEW_EVENT))
    assert refused.status == 400
    assert "县级行政区划代码" in beside(refused, "venue_region")
    for name in ("name", "starts_on", "ends_on", "venue_region", "venue_name", "expected_participants"):
        assert typed(refused, "new-event", name) == NEW_EVENT[name], name
    assert re.search(r'<option value="forum" selected>', refused.html)
    venue = refused.form("new-event").field("venue_region")  # the template's attributes, as written
    assert (venue.get("inputmode"), venue.get("maxlength")) == ("numeric", "6")
    assert rows_of(wang.open("/org/events")) == []  # nothing was recorded

    malformed = Page(wang.submit("/org/events/new", "/org/events/new", {**NEW_EVENT, "venue_region": "51010",
                                                                       "expected_participants": "many"}))
    assert malformed.status == 400
    assert beside(malformed, "venue_region") and beside(malformed, "expected_participants")
    assert typed(malformed, "new-event", "expected_participants") == "many"
    backwards = Page(wang.submit("/org/events/new", "/org/events/new", {**NEW_EVENT, "venue_region": "510104",
                                                                       "ends_on": "2026-04-19"}))
    assert backwards.status == 400 and beside(backwards, "ends_on")

    recorded = wang.submit("/org/events/new", "/org/events/new", {**NEW_EVENT, "venue_region": "510104"})
    assert recorded.status_code == 302, Page(recorded).html
    event_id = int(recorded.location.rsplit("/", 1)[1])
    event = wang.open(recorded.location)
    assert event.status == 200 and "草稿" in event.text("status") and "锦江区" in event.text("venue")
    assert "PUT /api/org/v1/events/" in event.text("next-step")  # what to do next: the plan
    assert event.text("chart-data") is None and "<script" not in event.html  # no plan, nothing to draw
    assert 'href="/e/' not in event.html and event.text("participant-code") is None  # a draft is not public

    listed = wang.open("/org/events")
    assert rows_of(listed) == [event_id] and "草稿" in listed.text("events")
    assert "2026-04-20 至 2026-04-21" in listed.text("events")


def test_the_event_page_draws_the_plan_and_final_breakdown_and_tables_the_same_numbers(
        app, client, clock, forum_organiser, listing, fake_wechat, people):
    final = accounted(client, clock, forum_organiser)
    order = offline_order(client, forum_organiser, listing, final["id"], 10_000_000)
    wang = signed_in(app, people, "clerk.wang", "clerk", forum_organiser.id)
    response = wang.get(f"/org/events/{final['id']}")
    assert response.status_code == 200 and "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = Page(response)
    view = forum_organiser.api(client).get(f"/api/org/v1/events/{final['id']}").get_json()

    # Stages: recorded and planned done, the final account the stage reached, neutrality still ahead.
    marks = {stage: css for css, stage in re.findall(r'<li class="(\w+)" data-stage="(\w+)"', page.html)}
    assert marks == {"draft": "done", "planned": "done", "accounted": "current", "neutral": "todo"}
    assert "POST /api/org/v1/events/" in page.text("next-step")

    # The charts' numbers, in the page as data (no inline script): the plan by category, then final against plan.
    data = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page.html,
                                re.S).group(1))
    lines = view["final"]["variance"]
    names = [line["name"] for line in lines]
    assert data["unit"] == "t CO2e"
    plan_chart, final_chart = data["charts"]
    assert (plan_chart["element"], plan_chart["categories"]) == ("plan-chart", names)
    assert plan_chart["series"][0]["values"] == [round(line["plan_g"] / 1_000_000, 3) for line in lines]
    assert (final_chart["element"], final_chart["categories"]) == ("final-chart", names)
    assert [s["values"] for s in final_chart["series"]] == [
        [round(line["plan_g"] / 1_000_000, 3) for line in lines],
        [round(line["final_g"] / 1_000_000, 3) for line in lines]]
    assert 'id="plan-chart"' in page.html and 'id="final-chart"' in page.html

    # Every script the page loads is a file the app serves: ECharts and our own.
    scripts = re.findall(r"<script([^>]*)>", page.html)
    sources = [re.search(r'src="([^"]+)"', attributes).group(1) for attributes in scripts if "src=" in attributes]
    assert sources == ["/assets/staff/echarts/echarts.min.js", "/assets/staff/charts.js"]
    assert all('type="application/json"' in attributes for attributes in scripts if "src=" not in attributes)
    for source in sources:
        assert wang.get(source).status_code == 200

    # The same numbers as a table, for a browser without script.
    for line in lines:
        row = re.search(rf'<tr data-category="{line["category"]}">(.*?)</tr>', page.html, re.S).group(1)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells == [line["name"], tonnes(line["plan_g"]), tonnes(line["final_g"]),
                         signed_tonnes(line["variance_g"])], cells
    assert page.text("plan-total") == tonnes(view["plan_total_g"])
    assert page.text("final-total") == tonnes(view["final_total_g"])
    assert page.text("variance-total") == signed_tonnes(final["variance_g"])
    assert "会场 100% 绿电，已取得绿证" in page.text("measures")

    # The offline order, waiting for the transfer; progress and what is left (net of the unpaid order).
    assert order["order_no"] in page.text("orders") and "待财务确认到账" in page.text("orders")
    assert "银行转账" in page.text("orders") and "10.000" in page.text("orders")
    assert page.text("left").startswith(tonnes(view["to_offset_left_g"]))
    assert "0%" in page.text("progress")
    assert "尚无" not in page.text("certificate") and "自动出具" in page.text("certificate")

    # The participants' 小程序码 from the page route: the same image the JSON route gives a token; the public page.
    assert f'href="/org/events/{final["id"]}/participant-code"' in page.html
    image = wang.get(f"/org/events/{final['id']}/participant-code")
    assert image.status_code == 200 and image.mimetype in ("image/jpeg", "image/png") and image.get_data()
    by_token = forum_organiser.api(client).get(f"/api/org/v1/events/{final['id']}/participant-code")
    assert by_token.status_code == 200 and by_token.mimetype == image.mimetype
    assert f'href="/e/{final["id"]}"' in page.html


def test_a_neutral_events_page_links_its_certificate_and_pdf(app, client, clock, forum_organiser, finance, listing,
                                                            fake_wechat, people):
    shown = neutralised(app, client, clock, forum_organiser, finance, listing, fake_wechat)
    wang = signed_in(app, people, "clerk.wang", "clerk", forum_organiser.id)
    page = wang.open(f"/org/events/{shown['id']}")
    number = shown["certificate_no"]
    assert page.text("certificate-link") == number and f'href="/v/{number}"' in page.html
    assert f'href="/api/v1/certificates/{number}/certificate.pdf"' in page.html
    marks = {stage: css for css, stage in re.findall(r'<li class="(\w+)" data-stage="(\w+)"', page.html)}
    assert marks["neutral"] == "current" and marks["accounted"] == "done"
    assert "已注销" in page.text("orders") and "100%" in page.text("progress")
    assert "2 人自行抵销 0.400 t" in page.text("participants")
    listed = wang.open("/org/events")
    assert "已碳中和" in listed.text("events") and "100%" in listed.text("events")


def test_a_viewer_reads_everything_and_may_record_nothing(app, client, clock, forum_organiser, people):
    final = accounted(client, clock, forum_organiser)
    zhao = signed_in(app, people, "viewer.zhao", "viewer", forum_organiser.id)
    listed = zhao.open("/org/events")
    assert rows_of(listed) == [final["id"]] and "new-event" not in listed.html
    page = zhao.open(f"/org/events/{final['id']}")
    assert page.status == 200 and page.text("chart-data") and page.text("breakdown")
    assert [f.id for f in page.forms] == [None]  # the header's sign-out form only
    assert page.text("next-step") is None  # nothing for a viewer to do
    assert zhao.get(f"/org/events/{final['id']}/participant-code").status_code == 200  # for the venue's screens
    assert zhao.get("/org/events/new").status_code == 403
    assert zhao.submit("/org/events", "/org/events/new", {**NEW_EVENT, "venue_region": "510104"}).status_code == 403
    assert len(forum_organiser.api(client).get("/api/org/v1/events").get_json()["items"]) == 1


def test_another_organisers_member_finds_no_such_event(app, client, operator, forum_organiser, people):
    event = planned(client, forum_organiser)
    other = organiser(operator, app, "另一家会展公司", 2)
    li = signed_in(app, people, "clerk.li", "clerk", other.id)
    assert li.get(f"/org/events/{event['id']}").status_code == 404
    assert li.get(f"/org/events/{event['id']}/participant-code").status_code == 404
    assert rows_of(li.open("/org/events")) == []
    assert li.get(f"/e/{event['id']}").status_code == 200  # the public page is everyone's


def test_pages_take_the_session_and_send_a_stranger_to_sign_in(app, client, forum_organiser, people):
    event = planned(client, forum_organiser)
    response = client.get(f"/org/events/{event['id']}")
    assert response.status_code == 302 and response.location == f"/org/login?next=/org/events/{event['id']}"
    wang = signed_in(app, people, "clerk.wang", "clerk", forum_organiser.id)
    assert wang.get(f"/org/events/{event['id']}").status_code == 200
    assert wang.get(f"/api/org/v1/events/{event['id']}").status_code == 401  # a cookie never opens the API


# --- ECharts, served by the app --------------------------------------------------------------------------------------

def test_echarts_is_served_by_the_app_with_its_licence(client):
    served = client.get("/assets/staff/echarts/echarts.min.js")
    assert served.status_code == 200
    assert served.mimetype in ("text/javascript", "application/javascript")
    body = served.get_data()
    assert body == (ECHARTS / "echarts.min.js").read_bytes()
    assert b"Licensed to the Apache Software Foundation" in body[:400] and b'"5.6.0"' in body
    licence = client.get("/assets/staff/echarts/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.get_data(as_text=True)
    assert "Apache ECharts" in client.get("/assets/staff/echarts/NOTICE").get_data(as_text=True)
    assert "BSD 3-Clause" in client.get("/assets/staff/echarts/LICENSE-zrender").get_data(as_text=True)
    ours = client.get("/assets/staff/charts.js")
    assert ours.status_code == 200 and ours.mimetype in ("text/javascript", "application/javascript")
    assert client.get("/assets/events/events.css").mimetype == "text/css"

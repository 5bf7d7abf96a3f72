"""碳汇+旅游, told as a visitor from 成都 at 西岭雪山: the scenic area registers its gate and prints its 小程序码; the
visitor scans it, finds the trip calculator filled in for the drive there and back, calculates it, offsets it
with credits from the forest nearest the site, pays, and holds a certificate that names the site."""

from __future__ import annotations

from backend.cache import get_redis_bytes, key
from backend.shop.service import MIN_ORDER_G
from tests.miniprogram.conftest import Citizen
from tests.scenarios.tourism.conftest import DAYI, GATE

CHENGDU_JINJIANG = "510104"


def test_a_chengdu_visitor_offsets_the_trip_to_the_gate_and_the_certificate_names_the_site(
        app, client, scenic_area, gate, listings, fake_wechat):
    # The scenic area's clerk registered the gate (airport typed in lower case, kept as the table spells it).
    assert (gate["organisation_id"], gate["adcode"], gate["airport"], gate["active"]) == (
        scenic_area.id, DAYI, "CTU", True)
    code = scenic_area.api(client, scenic_area.viewer).get(f"/api/org/v1/sites/{gate['id']}/gate-code")
    assert code.status_code == 200 and code.mimetype in ("image/jpeg", "image/png")
    with app.app_context():  # made once by WeChat, then kept
        assert get_redis_bytes().get(key("site-code", str(gate["id"]))) == code.get_data()
    again = scenic_area.api(client).get(f"/api/org/v1/sites/{gate['id']}/gate-code")
    assert again.get_data() == code.get_data()

    # Anyone browsing sees the site; a visitor from 锦江区 who scans it gets the drive there and back prefilled.
    listed = client.get("/api/mp/v1/sites").get_json()["items"]
    assert [site["id"] for site in listed] == [gate["id"]]
    visitor = Citizen(client, "chengdu-visitor")
    assert visitor.client.patch("/api/mp/v1/me", json={"region": CHENGDU_JINJIANG},
                                headers=visitor.headers).status_code == 200
    scanned = visitor.get(f"/sites/{gate['id']}").get_json()
    assert (scanned["id"], scanned["name"], scanned["organisation_id"]) == (gate["id"], GATE["name"], scenic_area.id)
    assert scanned["trip_prefill"]["origin"] == CHENGDU_JINJIANG and scanned["trip_prefill"]["mode"] == "car"
    assert 60 < float(scanned["trip_prefill"]["distance_km"]) < 120
    trip = scanned["trip"]
    assert trip["destination"] == DAYI
    assert trip["legs"] == [{"mode": "car", "km": trip["legs"][0]["km"], "round_trip": True, "fuel": "petrol"}]
    # The projects nearest the site come first: 大邑's forest before 海南's rainforest, listed earlier.
    assert [item["id"] for item in scanned["listings"]] == [listings["dayi"], listings["hainan"]]
    assert float(scanned["listings"][0]["distance_km"]) < 50 < 1000 < float(scanned["listings"][1]["distance_km"])

    # The visitor calculates the trip as prefilled, and offsets it, rounded up to the kilogram.
    calculated = client.post("/api/v1/footprint/trip", json=trip)
    assert calculated.status_code == 200, calculated.get_json()
    footprint_g = calculated.get_json()["total_g"]
    assert footprint_g > 10_000  # a return drive of well over 100 km
    quantity_g = max(MIN_ORDER_G, -(-footprint_g // 1000) * 1000)
    order = visitor.order(scanned["listings"][0]["id"], quantity_g, purpose="tourism", site_id=gate["id"])
    fake_wechat.pay(order["order_no"])
    paid = visitor.get(f"/orders/{order['order_no']}").get_json()
    assert paid["status"] == "fulfilled" and paid["purpose"] == "tourism"

    certificate = client.get(f"/api/v1/certificates/{paid['certificate_no']}").get_json()
    assert certificate["payload"]["purpose"] == "tourism"
    assert certificate["payload"]["purpose_ref"] == f"{GATE['name']}（景区点位 {gate['id']}）"
    assert certificate["payload"]["quantity_g"] == quantity_g >= footprint_g

    # The scenic area sees the offset made at its gate.
    shown = scenic_area.api(client, scenic_area.viewer).get(f"/api/org/v1/sites/{gate['id']}").get_json()
    assert shown["offsets"] == {"count": 1, "retired_g": quantity_g}


def test_a_visitor_whose_region_is_unknown_is_left_to_say_where_they_come_from(client, gate, listings):
    scanned = client.get(f"/api/mp/v1/sites/{gate['id']}").get_json()
    assert scanned["trip"] == {"destination": DAYI, "legs": []}
    assert scanned["trip_prefill"]["origin"] is None and scanned["trip_prefill"]["mode"] == "hsr"


def test_a_visitor_from_beijing_flies_from_the_airport_nearest_home(client, gate, listings, fake_wechat):
    visitor = Citizen(client, "beijing-visitor")
    visitor.client.patch("/api/mp/v1/me", json={"region": "110105"}, headers=visitor.headers)
    scanned = visitor.get(f"/sites/{gate['id']}").get_json()
    assert scanned["trip_prefill"]["mode"] == "flight"
    leg = scanned["trip"]["legs"][0]
    assert leg["mode"] == "flight" and leg["to"] == "CTU" and leg["round_trip"] and leg["from"] in ("PEK", "PKX")
    assert client.post("/api/v1/footprint/trip", json=scanned["trip"]).status_code == 200


def test_a_visitor_chooses_where_from_and_how_and_the_trip_follows(client, gate, listings):
    """The mini-program's pickers: a Beijing visitor who takes the high-speed train, a visitor without a profile who
    says they come from 锦江区; a flight from where the nearest airport is the site's own is refused, naming mode."""
    by_train = client.get(f"/api/mp/v1/sites/{gate['id']}", query_string={"origin": "110105", "mode": "hsr"})
    assert by_train.status_code == 200, by_train.get_json()
    [leg] = by_train.get_json()["trip"]["legs"]
    assert (leg["mode"], leg["round_trip"]) == ("hsr", True) and int(leg["km"]) > 1_400
    assert client.post("/api/v1/footprint/trip", json=by_train.get_json()["trip"]).status_code == 200

    local = client.get(f"/api/mp/v1/sites/{gate['id']}", query_string={"origin": CHENGDU_JINJIANG}).get_json()
    assert local["trip_prefill"]["origin"] == CHENGDU_JINJIANG and local["trip"]["legs"][0]["mode"] == "car"

    for query, field in (({"origin": "000000"}, "origin"), ({"origin": CHENGDU_JINJIANG, "mode": "flight"}, "mode"),
                         ({"mode": "boat"}, "mode")):
        refused = client.get(f"/api/mp/v1/sites/{gate['id']}", query_string=query)
        assert refused.status_code == 400 and refused.get_json()["error"]["details"][0]["field"] == field, query

"""A citizen buys forestry credits on the phone, pays with WeChat Pay, and gets a certificate anyone can verify.

Every step goes through HTTP: the mini-program API, the fake WeChat's real HTTP server (prepay, query, close,
refund — each answer signed like the platform's), and its signed, encrypted notification POSTed to our notify URL.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import update

from backend.db import atomic, snapshot
from backend.ledger.invariants import check
from backend.orders.models import Order
from tests.miniprogram.conftest import PRICE_FEN_PER_T, Citizen


def listing_of(client, listing_id: int) -> dict:
    return client.get(f"/api/mp/v1/listings/{listing_id}").get_json()


def test_a_citizen_buys_350_kg_pays_and_gets_a_verifiable_certificate(client, shop, citizen, fake_wechat):
    listing = shop["listing"]
    # Browsing needs no login: the shop shows 1 t at 80 yuan a tonne, with the project's story.
    shown = client.get("/api/mp/v1/listings").get_json()["items"]
    assert [(i["id"], i["batch_id"], i["price_fen_per_t"], i["available_g"]) for i in shown] == [
        (listing["id"], shop["batch"]["id"], PRICE_FEN_PER_T, 1_000_000)]
    assert shown[0]["project"]["name"] == shop["project"]["name"] and shown[0]["title"] == "测试林场碳汇"

    # 350 kg at 80 yuan/t is exactly 28 yuan.
    quote = client.post("/api/mp/v1/quotes", json={"listing_id": listing["id"], "quantity_g": 350_000}).get_json()
    assert (quote["quantity_g"], quote["amount_fen"], quote["enough"]) == (350_000, 2_800, True)

    order = citizen.order(listing["id"], 350_000, key="first-purchase")
    assert (order["status"], order["amount_fen"], order["quantity_g"]) == ("reserved", 2_800, 350_000)
    # The credits are held for the buyer while they pay: 650 kg are left on sale.
    assert listing_of(client, listing["id"])["available_g"] == 650_000

    # wx.requestPayment gets the prepay id, signed with the merchant key over appId, time, nonce and package.
    params = order["pay_params"]
    assert params["package"].startswith("prepay_id=wx") and params["signType"] == "RSA"
    merchant = serialization.load_pem_private_key(fake_wechat.merchant_private_key_pem.encode(), None).public_key()
    signed = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    merchant.verify(base64.b64decode(params["paySign"]), signed, padding.PKCS1v15(), hashes.SHA256())
    assert fake_wechat.transactions[order["order_no"]]["total"] == 2_800

    # The citizen pays; WeChat notifies us; the order is fulfilled with a certificate.
    fake_wechat.pay(order["order_no"])
    done = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert done["status"] == "fulfilled" and done["certificate_no"].startswith("TH2026-")

    certificate = client.get(f"/api/v1/certificates/{done['certificate_no']}").get_json()
    assert certificate["record_check"]["genuine"] is True
    assert certificate["payload"]["quantity_g"] == 350_000
    assert certificate["payload"]["purpose"] == "personal"
    assert certificate["payload"]["beneficiary"]["masked"] == "微***"  # 微信用户: no name given yet
    assert listing_of(client, listing["id"])["available_g"] == 650_000  # sold, not back on sale


def test_the_same_idempotency_key_gives_back_the_same_order_and_a_different_request_is_refused(client, shop,
                                                                                               citizen):
    listing_id = shop["listing"]["id"]
    first = citizen.order(listing_id, 100_000, key="tap-twice")
    again = citizen.order(listing_id, 100_000, key="tap-twice")
    assert again["order_no"] == first["order_no"]
    assert listing_of(client, listing_id)["available_g"] == 900_000  # reserved once
    other = citizen.post("/orders", {"listing_id": listing_id, "quantity_g": 200_000, "purpose": "personal"},
                         key="tap-twice")
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_conflict"


def test_an_order_without_an_idempotency_key_or_with_bad_fields_is_refused_naming_the_field(app, client, shop,
                                                                                             citizen):
    # Twelve refused orders in one minute: this test is about naming the bad field, not about the per-minute limit
    # (test_limits.py), which counts a refused request too.
    app.config["MP_ORDERS_PER_MINUTE"] = 100
    listing_id = shop["listing"]["id"]
    body = {"listing_id": listing_id, "quantity_g": 100_000, "purpose": "personal"}
    cases = [
        (body, None, "Idempotency-Key"),
        ({**body, "quantity_g": "100000"}, "k1", "quantity_g"),
        ({**body, "quantity_g": -5}, "k2", "quantity_g"),
        ({**body, "quantity_g": 10**18}, "k3", "quantity_g"),
        ({**body, "purpose": "speculation"}, "k4", "purpose"),
        ({**body, "purpose": "gift"}, "k5", "beneficiary_name"),
        ({**body, "beneficiary_name": "张三"}, "k6", "beneficiary_name"),
        ({**body, "colour": "green"}, "k7", "colour"),
        ({**body, "quantity_g": 999}, "k8", "quantity_g"),
        ({"listing_id": listing_id, "purpose": "personal"}, "k9", "quantity_g"),
        ({**body, "footprint_id": "FP" + "0" * 24}, "k10", "quantity_g"),
        ({**body, "listing_id": 999}, "k11", None),
    ]
    for payload, key, field in cases:
        response = citizen.post("/orders", payload, key=key)
        error = response.get_json()["error"]
        if field is None:
            assert response.status_code == 404, (payload, error)
        else:
            assert response.status_code == 400, (payload, error)
            assert error["details"][0]["field"] == field, (payload, error)
    assert listing_of(client, listing_id)["available_g"] == 1_000_000  # nothing reserved by any of them
    assert citizen.get("/orders").get_json()["items"] == []


def test_more_than_is_on_sale_is_refused_and_reserves_nothing(client, shop, citizen):
    response = citizen.post("/orders", {"listing_id": shop["listing"]["id"], "quantity_g": 1_000_001,
                                        "purpose": "personal"}, key="too-much")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "insufficient_credits"
    assert listing_of(client, shop["listing"]["id"])["available_g"] == 1_000_000


def test_orders_need_a_session_and_are_private(client, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    assert client.post("/api/mp/v1/orders", json={}).status_code == 401
    stranger = Citizen(client, "someone-else")
    assert stranger.get(f"/orders/{order['order_no']}").status_code == 404


def test_a_gift_is_retired_in_the_named_beneficiarys_name(client, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 200_000, purpose="gift", beneficiary_name="李小龙")
    fake_wechat.pay(order["order_no"])
    done = citizen.get(f"/orders/{order['order_no']}").get_json()
    certificate = client.get(f"/api/v1/certificates/{done['certificate_no']}").get_json()
    assert certificate["payload"]["beneficiary"]["masked"] == "李**"


def test_a_lost_notification_is_made_good_by_the_order_status_query(client, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.pay(order["order_no"], deliver=False)  # paid at WeChat; the notification never arrives
    done = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert done["status"] == "fulfilled" and done["certificate_no"]


def test_a_kept_order_holds_the_credits_and_can_be_refunded_before_use(client, app, shop, citizen, fake_wechat,
                                                                     operator):
    listing_id = shop["listing"]["id"]
    order = citizen.order(listing_id, 300_000, purpose="keep")
    fake_wechat.pay(order["order_no"])
    kept = citizen.get(f"/orders/{order['order_no']}").get_json()
    assert kept["status"] == "fulfilled" and kept["certificate_no"] is None
    user = citizen.login["user"]["holder"]
    balances = operator.ok(operator.get(f"/accounts?holder={user}"))["items"]
    assert [(b["kind"], b["balance_g"]) for b in balances if b["balance_g"]] == [("available", 300_000)]

    refunding = citizen.post(f"/orders/{order['order_no']}/refund").get_json()
    assert refunding["status"] == "refunding"
    assert listing_of(client, listing_id)["available_g"] == 1_000_000  # back on sale at once
    refund_no = next(iter(fake_wechat.refunds))
    assert fake_wechat.refunds[refund_no]["refund"] == 2_400
    fake_wechat.settle_refund(refund_no)
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "refunded"


def test_a_retired_order_cannot_be_refunded(client, shop, citizen, fake_wechat):
    order = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.pay(order["order_no"])
    response = citizen.post(f"/orders/{order['order_no']}/refund")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "refund_refused"
    assert fake_wechat.refunds == {}


@pytest.mark.tampers
def test_the_invariant_checker_notices_a_paid_order_without_its_retirement(app, shop, citizen, fake_wechat):
    """Drift a row by hand, as a buggy release might: `ledger check` must name the order."""
    order = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.pay(order["order_no"])
    with app.app_context():
        def tamper(session):
            session.execute(update(Order).where(Order.order_no == order["order_no"]).values(retirement_id=None))
        atomic(tamper)
        with snapshot() as session:
            found = [str(v) for v in check(session)]
    assert found == [f"[order] order {order['order_no']} (fulfilled): no personal retirement of 100000 g for the "
                     "buyer"]

"""A citizen keeps some credits in the account, then buys more of the same batch to neutralise a footprint.

Each order owns the serials it bought: the personal order retires exactly its own, never the kept ones, so the
kept order can still be refunded afterwards.
"""

from __future__ import annotations

from tests.miniprogram.conftest import Citizen


def listing_of(client, listing_id: int) -> dict:
    return client.get(f"/api/mp/v1/listings/{listing_id}").get_json()


def test_a_personal_order_retires_its_own_serials_and_the_kept_order_can_still_be_refunded(
        client, shop, citizen: Citizen, fake_wechat, operator):
    listing_id = shop["listing"]["id"]
    user = citizen.login["user"]["holder"]

    # 200 kg kept in the account: the lowest serials of the 1 t batch, 1 … 200,000, are now the citizen's.
    kept = citizen.order(listing_id, 200_000, purpose="keep")
    fake_wechat.pay(kept["order_no"])
    assert citizen.get(f"/orders/{kept['order_no']}").get_json()["status"] == "fulfilled"

    # Then 100 kg retired for a footprint: serials 200,001 … 300,000 are posted to the citizen and retired.
    personal = citizen.order(listing_id, 100_000, purpose="personal")
    fake_wechat.pay(personal["order_no"])
    done = citizen.get(f"/orders/{personal['order_no']}").get_json()
    assert done["status"] == "fulfilled" and done["certificate_no"]

    # The citizen holds the kept 200 kg, untouched, and 100 kg retired.
    balances = operator.ok(operator.get(f"/accounts?holder={user}"))["items"]
    assert sorted((b["kind"], b["balance_g"]) for b in balances if b["balance_g"]) == [
        ("available", 200_000), ("retired", 100_000)]

    # The certificate names exactly the personal order's own serials, not the lowest the citizen held.
    certificate = client.get(f"/api/v1/certificates/{done['certificate_no']}").get_json()
    assert certificate["record_check"]["genuine"] is True
    assert certificate["payload"]["quantity_g"] == 100_000
    assert certificate["payload"]["serials"] == [[200_001, 300_000]]

    # The kept credits were never used, so the kept order can be refunded: they go back on sale.
    response = citizen.post(f"/orders/{kept['order_no']}/refund")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "refunding"
    assert listing_of(client, listing_id)["available_g"] == 900_000  # only the retired 100 kg are gone
    refund_no = next(iter(fake_wechat.refunds))
    assert fake_wechat.refunds[refund_no]["refund"] == 1_600  # 200 kg at 80 yuan a tonne
    fake_wechat.settle_refund(refund_no)
    assert citizen.get(f"/orders/{kept['order_no']}").get_json()["status"] == "refunded"

    # What the citizen retired stays retired; nothing else is left in the account.
    balances = operator.ok(operator.get(f"/accounts?holder={user}"))["items"]
    assert [(b["kind"], b["balance_g"]) for b in balances if b["balance_g"]] == [("retired", 100_000)]

"""What a hostile review of 权益兑换 found, each told as the story that failed before its fix: a visitor tapping
"claim" on several phones at once is told once that a voucher was issued; a visitor guessing at codes learns nothing
from another's voucher QR that an unknown code would not tell them; an offset whose certificate was revoked earns
no perk."""

from __future__ import annotations

import pytest

from tests.miniprogram.conftest import Citizen
from tests.miniprogram.test_concurrency import all_at_once
from tests.scenarios.tourism.test_perks import THIRTY_OFF, offer, offset, vouchers

ANY_CERTIFICATE = {"title": "纪念徽章", "terms": "凭券领取", "kind": "certificate", "stock": 10}


@pytest.mark.services_only
def test_one_visitor_claiming_from_five_phones_at_once_is_told_once_that_a_voucher_was_issued(
        app, client, scenic_area, gate, listings, fake_wechat):
    """201 means "issued now", 200 "the one you hold": five taps racing for one voucher are one 201 and four 200s,
    not five 201s naming the same code (the losers found the winner's voucher after its unique key refused them)."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    badge = offer(scenic_area, client, gate["id"], **ANY_CERTIFICATE)
    phones = [Citizen(app.test_client(), "five-phones") for _ in range(5)]  # one WeChat user, five sessions
    bought = phones[0].order(listings["dayi"], 1_000)
    fake_wechat.pay(bought["order_no"])

    answers = all_at_once(lambda phone: phone.post("/perks/claim", {"offer_id": badge["id"]}), phones)
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201], [a.get_json() for a in answers]
    assert len({a.get_json()["code"] for a in answers}) == 1 and len(vouchers(phones[0])) == 1


def test_another_visitors_voucher_qr_answers_exactly_as_a_code_nobody_holds(
        client, scenic_area, gate, listings, fake_wechat):
    """A code is all the gate asks for, so a stranger must not be able to tell a live code from a made-up one."""
    offer(scenic_area, client, gate["id"], **THIRTY_OFF)
    holder, stranger = Citizen(client), Citizen(client)
    offset(holder, fake_wechat, listings["dayi"], gate["id"], 5_000)
    [voucher] = vouchers(holder)
    made_up = "0000-0000" if voucher["code"] != "00000000" else "1111-1111"

    theirs, nobodys = (stranger.get(f"/perks/{code}/qr") for code in (voucher["code"], made_up))
    assert (theirs.status_code, theirs.get_json()) == (nobodys.status_code, nobodys.get_json())
    assert theirs.status_code == 404


def test_an_offset_whose_certificate_was_revoked_qualifies_for_nothing(
        client, operator, scenic_area, gate, listings, fake_wechat):
    """A revoked certificate vouches for nothing: an offset made before the perk began, whose certificate an operator
    revoked since, is not claimed into a perk (as a revoked tree-duty voucher or certificate is not)."""
    visitor = Citizen(client)
    paid = offset(visitor, fake_wechat, listings["dayi"], gate["id"], 6_000)
    operator.ok(operator.post(f"/certificates/{paid['certificate_no']}/revocation", {"reason": "重复登记"}), 201)
    thirty = offer(scenic_area, client, gate["id"], **THIRTY_OFF)
    refused = visitor.post("/perks/claim", {"offer_id": thirty["id"]})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "perk_not_qualified"

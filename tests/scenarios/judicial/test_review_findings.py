"""Review of the judicial scenario (issue 14): each test states what must hold and fails on HEAD 65f2d08.

The races run on PostgreSQL only (services_only); the rest on both stores.
"""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import select

from backend.db import read
from backend.ledger.models import Retirement
from backend.orders.models import Order
from scenarios.judicial import api as judicial_api
from tests.miniprogram.test_concurrency import all_at_once
from tests.scenarios.judicial.conftest import StaffApi, case_body, defendant, key, open_case
from tests.scenarios.judicial.test_pages import sign_in  # noqa: F401
from tests.staff.conftest import Page, People, password_hash  # noqa: F401  (the fixture)

TONNE = 1_000_000
_numbers = itertools.count(900)


def _one_tonne_case(client, court, **overrides) -> dict:
    body = dict(case_no=f"(2024)闽0627刑初{next(_numbers)}号",
                loss={"method": "appraisal", "tonnes": "1", "appraisal_body": "南靖县林业局",
                      "report_no": "南林鉴〔2024〕9号"}, multiplier="1")
    body.update(overrides)
    return open_case(client, court, **body)


def _retire_transfer_of(app, order_no: str) -> int:
    with app.app_context():
        return read(lambda s: s.execute(select(Retirement.transfer_id).join(
            Order, Order.retirement_id == Retirement.id).where(Order.order_no == order_no)).scalar_one())


# --- 1. a stale case under FOR UPDATE: an offline order placed on a case closed meanwhile -------------------------

@pytest.mark.services_only
def test_an_offline_order_is_not_placed_on_a_case_closed_while_it_was_being_placed(
        app, client, nanjing_court, county_listing, fake_wechat, monkeypatch):
    """``service.get_case(lock=True)`` runs SELECT … FOR UPDATE without ``populate_existing``: if the case is
    already in the session, SQLAlchemy returns that object with the attributes it read before the lock. The
    offline-order handler holds the case it scoped (``case = _case_of_mine(...)``, unlocked) while
    ``JudicialScenario.bind`` locks it again, so a close committed in between is not seen: ``_refuse_finished``
    passes and the order is placed (201) on a closed case, its credits reserved for six days. (close/extend are
    saved today only because their handlers drop the scoped object and CPython collects it before the lock.)"""
    case = _one_tonne_case(client, nanjing_court, payers=[{"name": "张三"}, {"name": "李四"}])
    scoped = judicial_api._case_of_mine

    def scope_then_another_clerk_closes(s, case_id, least, **kw):
        found = scoped(s, case_id, least, **kw)
        monkeypatch.setattr(judicial_api, "_case_of_mine", scoped)  # the other clerk's request: as it is
        closed = nanjing_court.api(app.test_client()).post(f"/api/org/v1/cases/{case_id}/close",
                                                           {"reason": "改判恢复原状"})
        assert closed.status_code == 200, closed.get_json()
        return found

    monkeypatch.setattr(judicial_api, "_case_of_mine", scope_then_another_clerk_closes)
    placed = nanjing_court.api(client).post(
        f"/api/org/v1/cases/{case['id']}/orders", {"claim_code": case["payers"][1]["claim_code"],
                                                   "listing_id": county_listing, "quantity_g": TONNE,
                                                   "payment": "offline"}, key=key("offline"))
    monkeypatch.undo()
    assert nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()["status"] == "closed"
    assert placed.status_code == 409, placed.get_json()
    assert placed.get_json()["error"]["code"] == "case_closed"


# --- 2. one bank voucher pays two orders ----------------------------------------------------------------------

@pytest.mark.services_only
def test_one_bank_voucher_recorded_for_two_orders_at_once_pays_only_one(
        app, client, nanjing_court, finance, county_listing, fake_wechat):
    """Two offline orders of a case (one per payer); finance records the same voucher against both at the same
    instant (two browser tabs, a double-submitted form). ``settle_offline`` looks for the voucher with a plain
    SELECT under each order's own row lock and there is no unique index on ``payment_reference``: both see
    nothing, both are fulfilled, and one bank transfer retires two orders' credits."""
    for round_ in range(5):
        case = open_case(client, nanjing_court, case_no=f"(2024)闽0627刑初{next(_numbers)}号",
                         payers=[{"name": "张三"}, {"name": "李四"}])
        clerk = nanjing_court.api(client)
        orders = []
        for payer in case["payers"]:
            placed = clerk.post(f"/api/org/v1/cases/{case['id']}/orders",
                                {"claim_code": payer["claim_code"], "listing_id": county_listing,
                                 "quantity_g": TONNE, "payment": "offline"}, key=key("offline"))
            assert placed.status_code == 201, placed.get_json()
            orders.append(placed.get_json())
        voucher = f"NJ-2024-DUP-{round_}"

        def record(order):
            return StaffApi(app.test_client(), finance.member).post(
                f"/api/admin/v1/orders/{order['order_no']}/offline-payment",
                {"reference": voucher, "amount_fen": order["amount_fen"]})

        answers = all_at_once(record, orders)
        assert sorted(a.status_code for a in answers) == [200, 409], (round_, [a.get_json() for a in answers])


# --- 3. the full case number published through a stored calculation's trace ------------------------------------

def test_a_stored_calculation_naming_the_case_does_not_publish_the_full_case_number(
        app, client, nanjing_court, county_listing, fake_wechat):
    """The judicial calculator notes ``案号：<full number>`` in its result when given the case number (its own
    field). ``_loss`` copies the calculation's notes into ``case.computation``, and the witness certificate
    signs and shows ``computation`` as a fact — so the public verify page, the API and the PDF carry the full
    case number although the court did not publish it (publish_case_no false)."""
    full = "(2024)闽0627刑初321号"
    calculation = client.post("/api/v1/footprint/judicial", json={
        "method": "stock", "species": "栎类", "volume_m3": "0.3", "case_no": full}).get_json()
    case = open_case(client, nanjing_court, case_no=full, multiplier="1",
                     loss={"method": "calculation", "calculation_id": calculation["id"]})
    assert case["case_no_public"] == "(2024)闽0627刑初***号"
    payer = defendant(client, "calc-payer")
    order = payer.order(county_listing, case["required_g"], purpose="judicial",
                        claim_code=case["payers"][0]["claim_code"])
    fake_wechat.pay(order["order_no"])
    number = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()["witness_certificate_no"]
    public = client.get(f"/api/v1/certificates/{number}").get_json()
    page = client.get(f"/v/{number}").get_data(as_text=True)
    assert full not in json.dumps(public, ensure_ascii=False)
    assert full not in page


def test_the_witness_certificate_does_not_lead_the_public_to_the_full_case_number(
        app, client, nanjing_court, county_listing, fake_wechat):
    """Second road to the same number: the witness payload keeps ``record.loss.calculation_id``, and
    GET /api/v1/footprint/calculations/<id> is public (PUBLIC_DOCUMENT) and answers the calculation's inputs —
    ``case_no`` in full among them."""
    full = "(2024)闽0627刑初322号"
    calculation = client.post("/api/v1/footprint/judicial", json={
        "method": "stock", "species": "栎类", "volume_m3": "0.3", "case_no": full}).get_json()
    case = open_case(client, nanjing_court, case_no=full, multiplier="1",
                     loss={"method": "calculation", "calculation_id": calculation["id"]})
    payer = defendant(client, "calc-payer-2")
    order = payer.order(county_listing, case["required_g"], purpose="judicial",
                        claim_code=case["payers"][0]["claim_code"])
    fake_wechat.pay(order["order_no"])
    number = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()["witness_certificate_no"]
    public = client.get(f"/api/v1/certificates/{number}").get_json()["payload"]
    linked = public["record"]["loss"].get("calculation_id")
    if linked is not None:
        found = client.get(f"/api/v1/footprint/calculations/{linked}")
        assert full not in found.get_data(as_text=True), "the public calculation names the case in full"


# --- 4. a stored calculation of zero tonnes is a 500 ----------------------------------------------------------

def test_a_stored_calculation_of_nothing_is_refused_naming_the_field(client, nanjing_court):
    """The calculator accepts volume_m3 0 (Quantity is ge=0) and stores a result of 0 g. Opening a case on it
    computes required_g 0, which the CHECK ck_case_required_g_positive refuses at INSERT: a 500."""
    calculation = client.post("/api/v1/footprint/judicial", json={
        "method": "stock", "species": "栎类", "volume_m3": "0"}).get_json()
    assert calculation["total_g"] == 0, calculation
    response = nanjing_court.api(client).post("/api/org/v1/cases", {
        "case_no": "(2024)闽0627刑初777号", "cause": "illegal_felling", "damage_region": "350627",
        "loss": {"method": "calculation", "calculation_id": calculation["id"]}, "deadline": "2027-06-30",
        "payers": [{"name": "张三"}]})
    assert response.status_code == 400, response.status_code
    assert response.get_json()["error"]["details"][0]["field"] == "loss.calculation_id"


# --- 5. the new-case form: a big sum of yuan is a 500 -----------------------------------------------------------

@pytest.fixture
def people(app, password_hash):  # noqa: F811
    return People(app, password_hash)


def test_the_case_form_refuses_a_sum_too_large_for_decimal_quantize_with_a_400(app, nanjing_court, people):
    """``forms._fen_of_yuan`` quantizes before any bound: Decimal('1e30').quantize(Decimal('0.01')) raises
    decimal.InvalidOperation (more digits than the context's 28), which nothing catches: a 500."""
    people.make("clerk.big", "clerk", organisation_id=nanjing_court.id)
    lin = sign_in(app, "clerk.big")
    form = {"case_no": "(2025)闽0627民初99号", "cause": "fire", "damage_region": "350627", "loss.method": "money",
            "loss.amount_yuan": "1e30", "multiplier": "1", "rounding": "up_tonne", "deadline": "2027-12-31",
            "payers.0.name": "王五"}
    refused = Page(lin.submit("/org/cases/new", "/org/cases/new", form))
    assert refused.status == 400, refused.status


# --- 6. a judicial retirement counted as the payer's own offset -------------------------------------------------

def test_a_judicial_purchase_is_not_the_payers_own_offset(client, nanjing_court, county_listing, fake_wechat):
    """The credits are retired for the case's restoration (the witness: 不得…重复使用). The payer's carbon
    account counts them as the payer's own offset (offset_g, neutral %, badges) and the public leaderboard
    ranks the defendant by them: the same tonnes claimed twice, once for the forest and once for the person."""
    case = _one_tonne_case(client, nanjing_court)
    payer = defendant(client, "defendant-offset")
    order = payer.order(county_listing, TONNE, purpose="judicial", claim_code=case["payers"][0]["claim_code"])
    fake_wechat.pay(order["order_no"])
    account = payer.get("/account").get_json()
    assert account["offset_g"] == 0, account


# --- 7. an operator's correction of a judicial retirement leaves the witness certificate standing ---------------

def test_reversing_a_retirement_of_a_restored_case_does_not_leave_its_witness_certificate_valid(
        app, client, operator, nanjing_court, county_listing, fake_wechat):
    """An admin corrects (reverses) the RETIRE of a restored case's only order: the credits go back to the
    payer's available account (from which they can be moved on), the retirement's own certificate reads
    revoked, yet the witness certificate still verifies as valid for the reversed tonnes and the case stays
    ``restored``; no invariant notices. Either the correction is refused for a judicial retirement, or the
    witness certificate stops standing."""
    case = _one_tonne_case(client, nanjing_court)
    payer = defendant(client, "defendant-corrected")
    order = payer.order(county_listing, TONNE, purpose="judicial", claim_code=case["payers"][0]["claim_code"])
    fake_wechat.pay(order["order_no"])
    witness = nanjing_court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()["witness_certificate_no"]
    corrected = operator.post(f"/ledger/transfers/{_retire_transfer_of(app, order['order_no'])}/correct",
                              {"reason": "录入错误"}, key=key("correct"))
    if corrected.status_code in (201, 200):
        status = client.get(f"/api/v1/certificates/{witness}").get_json()["status"]
        assert status != "valid", "the witness certificate still vouches for a reversed retirement"
    else:
        assert corrected.status_code == 409, corrected.get_json()


# --- 8. an order the clerk withdrew can still be paid by finance ------------------------------------------------

def test_an_offline_order_the_clerk_withdrew_cannot_be_recorded_as_paid(
        client, nanjing_court, finance, county_listing):
    """The clerk withdraws an unpaid offline order (the credits go back on sale). It is ``expired`` like an order
    the sweeper let lapse, and ``settle_offline`` accepts expired orders: finance can still record a transfer
    against it, which re-reserves and retires the credits the clerk released."""
    case = _one_tonne_case(client, nanjing_court)
    clerk = nanjing_court.api(client)
    placed = clerk.post(f"/api/org/v1/cases/{case['id']}/orders",
                        {"claim_code": case["payers"][0]["claim_code"], "listing_id": county_listing,
                         "quantity_g": TONNE, "payment": "offline"}, key=key("offline")).get_json()
    withdrawn = clerk.post(f"/api/org/v1/cases/{case['id']}/orders/{placed['order_no']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "expired"
    recorded = finance.post(f"/api/admin/v1/orders/{placed['order_no']}/offline-payment",
                            {"reference": "NJ-2024-WD-001", "amount_fen": placed["amount_fen"]})
    assert recorded.status_code == 409, recorded.get_json()


# --- 9. a tail below a kilogram could not be paid in the mini-program ---------------------------------------------

def test_a_part_that_would_leave_less_than_a_kilogram_owed_is_refused_and_the_whole_is_paid(
        client, nanjing_court, county_listing, fake_wechat):
    """The mini-program sells from a kilogram up; a case's last tail below that could never be paid there. So a
    part payment may leave nothing or at least a kilogram owed: 1 t of a 1.0005 t case is refused (it would leave
    500 g), naming quantity_g; paying the 1,000,500 g at once restores the case."""
    case = _one_tonne_case(client, nanjing_court, rounding="exact",
                           loss={"method": "appraisal", "tonnes": "1.0005", "appraisal_body": "南靖县林业局",
                                 "report_no": "南林鉴〔2024〕9号"})
    assert case["required_g"] == 1_000_500
    code = case["payers"][0]["claim_code"]
    payer = defendant(client, "tail-payer")
    part = payer.post("/orders", {"listing_id": county_listing, "quantity_g": TONNE, "purpose": "judicial",
                                  "claim_code": code}, key=key())
    assert part.status_code == 400 and part.get_json()["error"]["code"] == "tail_too_small"
    assert part.get_json()["error"]["details"][0]["field"] == "quantity_g"
    whole = payer.order(county_listing, 1_000_500, purpose="judicial", claim_code=code)
    fake_wechat.pay(whole["order_no"])
    assert payer.get(f"/orders/{whole['order_no']}").get_json()["status"] == "fulfilled"
    too_small = nanjing_court.api(client).post("/api/org/v1/cases", case_body(
        case_no="(2024)闽0627刑初1901号", rounding="exact",
        loss={"method": "appraisal", "tonnes": "0.0004", "appraisal_body": "南靖县林业局", "report_no": "南林鉴1号"}))  # × 2 = 800 g
    assert too_small.status_code == 400 and too_small.get_json()["error"]["details"][0]["field"] == "loss"


# --- 10. a platform reader's org_id filter out of range is a 500 ------------------------------------------------

def test_an_org_id_out_of_range_is_a_400_not_a_500(client, operator):
    """CaseListQuery.org_id and CaseIn.org_id have no bound (elsewhere ids are capped at MAX_ID): an admin's
    ?org_id=10^23 reaches the database — OverflowError on SQLite, NumericValueOutOfRange on PostgreSQL."""
    listed = operator.client.get("/api/org/v1/cases?org_id=99999999999999999999999", headers=operator.headers)
    assert listed.status_code == 400, listed.status_code
    opened = operator.client.post("/api/org/v1/cases", json={
        "case_no": "(2024)闽0627刑初888号", "cause": "illegal_felling", "damage_region": "350627",
        "loss": {"method": "appraisal", "tonnes": "1", "appraisal_body": "南靖县林业局", "report_no": "南林鉴9号"},
        "deadline": "2027-06-30", "payers": [{"name": "张三"}], "org_id": 99999999999999999999999},
        headers=operator.headers)
    assert opened.status_code in (400, 404), opened.status_code

"""Worked example: March and April of two project owners' statements, with refunds that cross a month.

大邑县国有林场's 1 t batch sells at 80 yuan a tonne with the platform's usual 5 % fee (the shop fixture);
塞罕坝机械林场's sells at 120 yuan with an 8 % fee. In March a citizen buys 250 kg of 大邑 to neutralise her year,
keeps 300 kg of it (and has that refunded the same month: the ledger corrects the credits back), buys 500 kg of
塞罕坝, and keeps 200 kg of 塞罕坝 that she has refunded on 2 April — after March's statement was paid. Mid-March
the platform lowers 大邑's fee to 3 %; what was sold before keeps 5 %.

Each month reconciles: over the owners, owed + fees + refunds = every fen paid that month. The April refund of a
March sale corrects April's statement (塞罕坝 owes money back), never the settled March one.
"""

from __future__ import annotations

import pytest

from admin import settlement
from backend.db import atomic, read
from backend.errors import Conflict
from tests.miniprogram.conftest import Citizen
from tests.staff.conftest import Browser, Page, People, last_events

SAIHANBA_PRICE = 12_000  # fen a tonne


@pytest.fixture
def second_owner(operator) -> dict:
    """塞罕坝机械林场's 1 t batch on sale at 120 yuan a tonne, 8 % to the platform."""
    made = operator.registered_project(name="塞罕坝人工林经营项目", owner_name="塞罕坝机械林场")
    listing = operator.ok(operator.post("/listings", {"batch_id": made["batch"]["id"], "fee_bp": 800,
                                                      "price_fen_per_t": SAIHANBA_PRICE, "title": "塞罕坝碳汇"}))
    return {**made, "listing": listing}


def buy(citizen: Citizen, fake_wechat, listing_id: int, grams: int, purpose: str = "personal") -> str:
    order = citizen.order(listing_id, grams, purpose=purpose)
    fake_wechat.pay(order["order_no"])
    assert citizen.get(f"/orders/{order['order_no']}").get_json()["status"] == "fulfilled"
    return order["order_no"]


def refund(citizen: Citizen, fake_wechat, order_no: str) -> None:
    assert citizen.post(f"/orders/{order_no}/refund").get_json()["status"] == "refunding"
    fake_wechat.settle_refund(next(iter(fake_wechat.refunds)))
    fake_wechat.refunds.clear()
    assert citizen.get(f"/orders/{order_no}").get_json()["status"] == "refunded"


def statements(app, month: str) -> dict[int, settlement.Statement]:
    with app.app_context():
        return {s.owner_id: s for s in read(lambda db: settlement.statements(db, app.config["CLOCK"](), month))}


def received(app, month: str) -> int:
    with app.app_context():
        return read(lambda db: settlement.received(db, month))


def reconciles(app, month: str) -> None:
    entries = list(statements(app, month).values())
    assert sum(e.owed_fen + e.fee_fen + e.refunds_fen for e in entries) == received(app, month)
    with app.app_context():
        assert sum(e.refunds_fen for e in entries) == read(lambda db: settlement.refunded(db, month))


def test_two_owners_settle_march_and_april(app, clock, operator, shop, second_owner, citizen, fake_wechat):
    dayi, saihanba = shop["owner"]["id"], second_owner["owner"]["id"]
    dayi_listing, saihanba_listing = shop["listing"]["id"], second_owner["listing"]["id"]

    buy(citizen, fake_wechat, dayi_listing, 250_000)  # 20 yuan, 5 %: 1 yuan to the platform
    kept = buy(citizen, fake_wechat, dayi_listing, 300_000, "keep")  # 24 yuan, 1.20 yuan fee
    refund(citizen, fake_wechat, kept)
    operator.ok(operator.client.patch(f"/api/admin/v1/listings/{dayi_listing}", json={"fee_bp": 300},
                                      headers=operator.headers))
    buy(citizen, fake_wechat, dayi_listing, 100_000)  # 8 yuan at the new 3 %: 0.24 yuan
    buy(citizen, fake_wechat, saihanba_listing, 500_000)  # 60 yuan, 8 %: 4.80 yuan
    kept_saihanba = buy(citizen, fake_wechat, saihanba_listing, 200_000, "keep")  # 24 yuan, 1.92 yuan fee

    march = statements(app, "2026-03")
    assert march[dayi].figures() == {"sold_g": 650_000, "gross_fen": 5_200, "refunds_fen": 2_400,
                                     "fee_fen": 100 + 24, "owed_fen": 5_200 - 2_400 - 124}
    assert (march[dayi].sales, march[dayi].refunds) == (3, 1)
    assert march[saihanba].figures() == {"sold_g": 700_000, "gross_fen": 8_400, "refunds_fen": 0,
                                         "fee_fen": 480 + 192, "owed_fen": 8_400 - 672}
    assert received(app, "2026-03") == 5_200 + 8_400
    reconciles(app, "2026-03")

    # 2 April, Beijing: March is over; she returns the 200 kg of 塞罕坝 she kept.
    clock.advance(days=21)
    citizen = Citizen(citizen.client, citizen.person)
    refund(citizen, fake_wechat, kept_saihanba)
    buy(citizen, fake_wechat, dayi_listing, 100_000)  # 8 yuan at 3 %

    march_again = statements(app, "2026-03")
    assert {o: s.figures() for o, s in march_again.items()} == {o: s.figures() for o, s in march.items()}
    april = statements(app, "2026-04")
    assert april[saihanba].figures() == {"sold_g": 0, "gross_fen": 0, "refunds_fen": 2_400, "fee_fen": -192,
                                         "owed_fen": -2_208}  # the owner pays back what it was paid for the sale
    assert april[dayi].figures() == {"sold_g": 100_000, "gross_fen": 800, "refunds_fen": 0, "fee_fen": 24,
                                     "owed_fen": 776}
    assert received(app, "2026-04") == 800
    reconciles(app, "2026-04")


def test_a_month_with_nothing_sold_reconciles_to_nothing(app):
    assert statements(app, "2026-02") == {}
    assert received(app, "2026-02") == 0
    reconciles(app, "2026-02")


# --- the pages -------------------------------------------------------------------------------------------------------

def signed_in(app, password_hash, username: str, role: str) -> Browser:
    People(app, password_hash).make(username, role)
    browser = Browser(app)
    assert browser.sign_in(username).status_code == 302
    return browser


def test_finance_reads_march_and_settles_an_owner(app, clock, operator, shop, second_owner, citizen, fake_wechat,
                                                 password_hash):
    dayi = shop["owner"]["id"]
    buy(citizen, fake_wechat, shop["listing"]["id"], 250_000)
    kept = buy(citizen, fake_wechat, shop["listing"]["id"], 300_000, "keep")
    refund(citizen, fake_wechat, kept)
    buy(citizen, fake_wechat, second_owner["listing"]["id"], 500_000)
    finance = signed_in(app, password_hash, "qian", "finance")

    month = finance.open("/admin/settlement?month=2026-03")
    assert month.status == 200
    assert "一致 (reconciled)" in month.text("reconciliation")
    # 3 sales, 1.05 t for 104 yuan; 24 refunded; fees 1 + 1.20 + 4.80 less the refunded sale's 1.20; 74.20 owed
    assert month.text("totals").split() == ["合计", "3", "1.05", "104.00", "24.00", "5.80", "74.20"]
    statement_path = f"/admin/settlement/{dayi}/2026-03"
    opened = finance.open(statement_path)
    assert "待结算" not in opened.text("state") and "本月尚未结束" in opened.text("state")
    assert finance.submit(statement_path, f"{statement_path}/paid", {"reference": "B1", "amount": "-3.00"}) \
        .status_code == 400  # a reference too short: the field is named, nothing recorded

    clock.advance(days=20)  # 1 April: March is over; a new day, a new sign-in
    finance.sign_in("qian")
    opened = finance.open(statement_path)
    assert opened.text("owed") == "19.00 元"  # 44 sold, 24 refunded, a fee of 1 yuan on the sale that stayed
    wrong = finance.submit(statement_path, f"{statement_path}/paid", {"reference": "BOC-20260401-7", "amount": "20"})
    assert wrong.status_code == 409 and "不符" in Page(wrong).text("error")
    paid = finance.submit(statement_path, f"{statement_path}/paid", {"reference": "boc-20260401-7", "amount": "19.00"})
    assert paid.status_code == 302
    assert "BOC-20260401-7" in finance.open(statement_path).text("state")
    again = finance.submit(statement_path, f"{statement_path}/paid", {"reference": "BOC-20260401-8",
                                                                      "amount": "19.00"})
    assert again.status_code == 409  # settled once
    [event] = last_events(app)
    assert (event["action"], event["object"], event["after"]["owed_fen"]) == (
        "settlement.paid", f"organisation:{dayi}", 1_900)

    lines = finance.get(f"{statement_path}?format=csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["销售", "销售", "退款"]


def test_an_auditor_reads_settlement_but_cannot_settle(app, clock, shop, citizen, fake_wechat, password_hash):
    buy(citizen, fake_wechat, shop["listing"]["id"], 250_000)
    clock.advance(days=20)  # March is over
    auditor = signed_in(app, password_hash, "shen", "auditor")
    path = f"/admin/settlement/{shop['owner']['id']}/2026-03"
    opened = auditor.open(path)
    assert opened.status == 200 and not [f for f in opened.forms if f.id == "mark-paid"]
    assert auditor.client.post(f"{path}/paid", data={"csrf_token": opened.csrf, "reference": "BOC-1",
                                                     "amount": "19.00"}).status_code == 403
    assert auditor.open("/admin/settlement?month=2026-13").status == 400  # names the month


def test_a_month_is_a_year_and_month(app, password_hash):
    finance = signed_in(app, password_hash, "qian", "finance")
    for month in ("March", "２０２６-03", "0000-01", "9999-12", "2026-3", "2026-13"):  # one spelling per month
        refused = finance.open(f"/admin/settlement?month={month}")
        assert refused.status == 400 and "month" in refused.text("problem"), month
        assert finance.open(f"/admin/settlement/1/{month}").status == 400, month


def test_one_transfer_settles_one_statement_and_the_same_record_again_answers_it(
        app, clock, shop, second_owner, citizen, fake_wechat):
    buy(citizen, fake_wechat, shop["listing"]["id"], 250_000)
    buy(citizen, fake_wechat, second_owner["listing"]["id"], 500_000)
    clock.advance(days=20)
    dayi, saihanba = shop["owner"]["id"], second_owner["owner"]["id"]
    owed = {o: s.owed_fen for o, s in statements(app, "2026-03").items()}

    def pay(owner: int, reference: str):
        with app.app_context():
            return atomic(lambda db: settlement.mark_paid(db, clock(), owner_id=owner, month="2026-03",
                                                          reference=reference, amount_fen=owed[owner],
                                                          actor="staff:9:qian"))
    first = pay(dayi, "BOC-1")
    assert pay(dayi, "boc-1").id == first.id  # a double click: the same payment
    with pytest.raises(Conflict) as reused:
        pay(saihanba, "BOC-1")
    assert reused.value.code == "reference_used"
    with pytest.raises(Conflict) as again:
        pay(dayi, "BOC-2")
    assert again.value.code == "already_settled"

"""The last tonne of a case, wanted by more than one payer at once, is never retired twice.

A case's payers are often jointly liable (连带责任): each may pay all that is still owed, so two of them can reach
for the same last tonne together — in the mini-program, at WeChat, or at the court's counter (案款, recorded by
the platform's finance). The case row is the referee: ``JudicialScenario.bind`` locks it before an order reserves
credits, ``before_retire`` locks it again when the order is paid, and whoever comes second sees what the first
did. The races run on PostgreSQL (row locks, threads, a barrier, each thread with its own test client); the late
payment runs on both stores. After every test the scenario invariants run too: no case retired more than it
requires, and a restored case has one witness certificate vouching for exactly its retirements.
"""

from __future__ import annotations

import itertools
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.certificates.models import Certificate
from backend.db import read
from backend.ledger.models import Retirement
from backend.orders.models import Order
from backend.orders.service import NOTIFICATION_GRACE_SECONDS
from scenarios.judicial.models import CasePurchase
from tests.miniprogram.test_concurrency import all_at_once
from tests.miniprogram.test_purchase import listing_of
from tests.scenarios.judicial.conftest import StaffApi, defendant, key, open_case

TONNE = 1_000_000
REQUIRED_G = 3 * TONNE  # an appraised 1.5 t, doubled
_numbers = itertools.count(200)  # one court, many cases: each its own 案号


def case_owing_the_last_tonne(client, court, listing, fake_wechat) -> dict:
    """张三 and 李四, jointly liable (no shares), owe 3 t; 张三 has paid 2 t already (order ``first``): 1 t is left."""
    case = open_case(client, court, case_no=f"(2024)闽0627刑初{next(_numbers)}号",
                     loss={"method": "appraisal", "tonnes": "1.5", "appraisal_body": "南靖县林业局",
                           "report_no": "南林鉴〔2024〕9号"},
                     payers=[{"name": "张三"}, {"name": "李四"}])
    assert case["required_g"] == REQUIRED_G and all(p["share_g"] is None for p in case["payers"])
    zhang, li = (p["claim_code"] for p in case["payers"])
    first = defendant(client, f"zhang-{case['id']}").order(listing, 2 * TONNE, purpose="judicial", claim_code=zhang)
    fake_wechat.pay(first["order_no"])
    shown = court.api(client).get(f"/api/org/v1/cases/{case['id']}").get_json()
    assert (shown["status"], shown["paid_g"], shown["owed_g"]) == ("partially_paid", 2 * TONNE, TONNE)
    return {**case, "zhang": zhang, "li": li, "first": first["order_no"]}


def order_body(listing: int, quantity_g: int, claim_code: str) -> dict:
    return {"listing_id": listing, "quantity_g": quantity_g, "purpose": "judicial", "claim_code": claim_code}


def case_now(client, court, case_id: int) -> dict:
    return court.api(client).get(f"/api/org/v1/cases/{case_id}").get_json()


def retired_for(app, case_id: int) -> int:
    """What the ledger itself retired for the case: its judicial retirements, through the case's orders."""
    with app.app_context():
        return read(lambda s: s.execute(
            select(func.coalesce(func.sum(Retirement.quantity_g), 0))
            .join(Order, Order.retirement_id == Retirement.id)
            .join(CasePurchase, CasePurchase.order_id == Order.id)
            .where(CasePurchase.case_id == case_id, Retirement.purpose == "judicial")).scalar_one())


def witnesses_of(app, case_id: int) -> list[dict]:
    """Witness certificates made for the case, found by what they say (not by the case's pointer to one)."""
    with app.app_context():
        documents = read(lambda s: s.execute(select(Certificate.payload).where(
            Certificate.kind == "judicial_witness")).scalars().all())
    return [d for d in documents if d["record"]["case_id"] == case_id]


def times_restored(app, case_id: int) -> int:
    with app.app_context():
        return read(lambda s: s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.object_type == "judicial_case", AuditEvent.object_id == str(case_id),
            AuditEvent.action == "case.restored")).scalar_one())


def assert_restored_once(app, client, court, case: dict, fulfilled: list[str]) -> dict:
    """Restored, with exactly the required grams retired in the ledger, and one witness certificate listing
    exactly the certificates of the case's fulfilled orders (``fulfilled``: their order numbers)."""
    done = case_now(client, court, case["id"])
    assert (done["status"], done["paid_g"], done["owed_g"]) == ("restored", REQUIRED_G, 0)
    assert retired_for(app, case["id"]) == REQUIRED_G
    assert times_restored(app, case["id"]) == 1
    [witness] = witnesses_of(app, case["id"])
    assert witness["quantity_g"] == REQUIRED_G
    paid = {p["certificate_no"] for p in done["purchases"] if p["status"] == "fulfilled"}
    assert {p["order_no"] for p in done["purchases"] if p["status"] == "fulfilled"} == set(fulfilled)
    assert {item["certificate_no"] for item in witness["items"]} == paid and len(paid) == len(fulfilled)
    record = client.get(f"/api/v1/certificates/{done['witness_certificate_no']}").get_json()
    assert record["payload"] == witness
    return done


def deliver(app, notification) -> int:
    """WeChat's POST of one notification, on its own connection."""
    return app.test_client().post(urlsplit(notification.url).path, data=notification.body,
                                  headers=notification.headers).status_code


@pytest.mark.services_only
def test_two_payers_ordering_the_last_tonne_at_once_get_one_order_and_the_other_is_told_it_is_paid_for(
        app, client, nanjing_court, county_listing, fake_wechat, caplog):
    """张三 and 李四 each open the mini-program and order the case's last tonne at the same instant. The case row is
    locked while each order is checked and reserved: the first takes the tonne, the second finds it held and is
    told 409 ``overpayment`` (owed 0) — never asked to pay for what the case no longer needs. The first pays; the
    case is restored with one witness certificate over its three tonnes. Five cases, five races."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000  # everyone logs in from one test address
    for round_ in range(5):
        case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
        payers = [(defendant(app.test_client(), f"zhang-phone-{round_}"), case["zhang"]),
                  (defendant(app.test_client(), f"li-phone-{round_}"), case["li"])]

        def order(item):
            payer, code = item
            return payer.post("/orders", order_body(county_listing, TONNE, code), key="last-tonne")

        sent_to_wechat = len(fake_wechat.transactions)
        with caplog.at_level("INFO", logger="backend.db"):
            answers = all_at_once(order, payers)
        assert "deadlock" not in caplog.text
        assert sorted(a.status_code for a in answers) == [201, 409], [a.get_json() for a in answers]
        assert len(fake_wechat.transactions) == sent_to_wechat + 1  # the refused one is never asked to pay
        assert len(case_now(client, nanjing_court, case["id"])["purchases"]) == 2  # 2 t paid, 1 t ordered
        [placed] = [a.get_json() for a in answers if a.status_code == 201]
        [refused] = [a.get_json()["error"] for a in answers if a.status_code == 409]
        assert refused["code"] == "overpayment"
        assert (refused["details"]["owed_g"], refused["details"]["requested_g"]) == (0, TONNE)
        assert placed["pay_params"]["paySign"] and placed["quantity_g"] == TONNE
        assert case_now(client, nanjing_court, case["id"])["owed_g"] == 0  # held by the unpaid order

        fake_wechat.pay(placed["order_no"])
        assert_restored_once(app, client, nanjing_court, case, [case["first"], placed["order_no"]])


@pytest.mark.services_only
def test_two_payments_completing_the_case_together_both_retire_under_one_witness_certificate(
        app, client, nanjing_court, county_listing, fake_wechat, caplog):
    """The last tonne is split: 张三 orders half of it, 李四 the other half, and both pay; WeChat's two
    notifications arrive at the same instant. Each is still owed when it is settled (the other's half is the other
    order's), so both are fulfilled; whichever is settled second completes the case and issues the witness
    certificate, which lists both retirements. They lock the same case and accounts: no deadlock, in five rounds
    with fresh cases."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    half = TONNE // 2
    for round_ in range(5):
        case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
        placed = [defendant(client, f"half-{who}-{round_}").order(county_listing, half, purpose="judicial",
                                                                  claim_code=case[who])
                  for who in ("zhang", "li")]
        held = [fake_wechat.pay(p["order_no"], deliver=False) for p in placed]  # paid at WeChat, not yet heard of

        with caplog.at_level("INFO", logger="backend.db"):
            answers = all_at_once(lambda n: deliver(app, n), held)
        assert answers == [200, 200]
        assert "deadlock" not in caplog.text

        purchases = case_now(client, nanjing_court, case["id"])["purchases"]
        assert sorted(p["status"] for p in purchases) == ["fulfilled"] * 3
        done = assert_restored_once(app, client, nanjing_court, case,
                                    [case["first"]] + [p["order_no"] for p in placed])
        halves = [p for p in done["purchases"] if p["quantity_g"] == half]
        assert sorted(p["payer"] for p in halves) == ["张*", "李*"]


def test_a_payment_made_at_the_deadline_keeps_its_tonne_while_its_notification_may_still_come(
        app, client, clock, nanjing_court, county_listing, fake_wechat):
    """李四 pays the last tonne at WeChat in the last minute; WeChat tells us two minutes after his deadline. In
    between, 张三 wants the same tonne: he is told it is taken (409 ``overpayment``), because WeChat may still
    report a payment made before the deadline, and the ledger holds the credits that long. 李四's payment is then
    delivered, not refunded, and the case is restored."""
    case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
    li = defendant(client, "li-last-minute")
    order = li.order(county_listing, TONNE, purpose="judicial", claim_code=case["li"])
    clock.advance(minutes=14, seconds=30)
    held = fake_wechat.pay(order["order_no"], deliver=False)
    clock.advance(minutes=1)  # past his deadline, within the grace

    zhang = defendant(client, "zhang-meanwhile")
    taken = zhang.post("/orders", order_body(county_listing, TONNE, case["zhang"]), key=key())
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "overpayment"

    clock.advance(minutes=1)
    retry = fake_wechat.notification(url=held.url, event_type="TRANSACTION.SUCCESS", original_type="transaction",
                                     resource=fake_wechat.transaction(order["order_no"]), summary="支付成功")
    assert deliver(app, retry) == 200
    assert li.get(f"/orders/{order['order_no']}").get_json()["status"] == "fulfilled"
    assert_restored_once(app, client, nanjing_court, case, [case["first"], order["order_no"]])


def test_a_payment_heard_of_after_others_paid_the_last_tonne_is_refunded_as_no_longer_owed(
        app, client, runner, clock, nanjing_court, county_listing, fake_wechat):
    """李四 orders the last tonne and pays at WeChat a minute before his order's deadline, but WeChat's
    notification is held up. His order's time runs out, and the ledger's grace after it: to the case his order
    no longer holds the tonne. 张三 orders it, pays, and the case is restored. Then 李四's payment is heard of at
    last (WeChat retries, signed afresh): the case is restored, so nothing is retired for him — his order ends
    ``refunding`` with reason ``no_longer_owed``, the credits it held go back on sale, and the refund reaches
    him. The case was restored once, with three tonnes retired, never four."""
    case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
    li = defendant(client, "li-late")
    late = li.order(county_listing, TONNE, purpose="judicial", claim_code=case["li"])
    clock.advance(minutes=14)  # 15 minutes to pay
    held = fake_wechat.pay(late["order_no"], deliver=False)
    clock.advance(minutes=1, seconds=NOTIFICATION_GRACE_SECONDS + 1)

    zhang = defendant(client, "zhang-again")
    claim = zhang.post("/cases/claim", {"claim_code": case["zhang"]}).get_json()
    assert (claim["status"], claim["owed_g"]) == ("partially_paid", TONNE)  # 李四's order holds nothing now
    last = zhang.order(county_listing, TONNE, purpose="judicial", claim_code=case["zhang"])
    fake_wechat.pay(last["order_no"])
    assert zhang.get(f"/orders/{last['order_no']}").get_json()["status"] == "fulfilled"
    assert_restored_once(app, client, nanjing_court, case, [case["first"], last["order_no"]])

    retry = fake_wechat.notification(url=held.url, event_type="TRANSACTION.SUCCESS", original_type="transaction",
                                     resource=fake_wechat.transaction(late["order_no"]), summary="支付成功")
    assert deliver(app, retry) == 200
    refunding = li.get(f"/orders/{late['order_no']}").get_json()
    assert (refunding["status"], refunding["refund_reason"], refunding["certificate_no"]) == (
        "refunding", "no_longer_owed", None)
    assert deliver(app, retry) == 200  # WeChat may well say it twice: acted on once
    assert li.get(f"/orders/{late['order_no']}").get_json()["status"] == "refunding"

    done = assert_restored_once(app, client, nanjing_court, case, [case["first"], last["order_no"]])
    assert [p["status"] for p in done["purchases"] if p["order_no"] == late["order_no"]] == ["refunding"]
    assert listing_of(client, county_listing)["available_g"] == 100 * TONNE - REQUIRED_G  # 李四's tonne went back on sale

    assert "1 refunds sent" in runner.invoke(args=["orders", "sweep"]).output
    [(refund_no, refund)] = [(n, r) for n, r in fake_wechat.refunds.items() if r["out_trade_no"] == late["order_no"]]
    assert refund["refund"] == late["amount_fen"]
    fake_wechat.settle_refund(refund_no)
    assert li.get(f"/orders/{late['order_no']}").get_json()["status"] == "refunded"


@pytest.mark.services_only
def test_the_courts_offline_order_holds_the_last_tonne_against_a_wechat_payer_until_finance_records_it(
        app, client, nanjing_court, finance, county_listing, fake_wechat, caplog):
    """李四 paid the court (案款): the clerk orders the last tonne for him, to be paid by bank transfer. Meanwhile
    张三, not knowing, tries to pay the same tonne in the mini-program: 409 ``overpayment``, the clerk's order holds
    it. Finance records the transfer at the very moment 张三 tries once more: the record goes through and 张三 is
    refused again (``overpayment`` while the order is unpaid, ``case_restored`` once it is retired). The case is
    restored once, its witness certificate over exactly the retirements."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
    clerk = nanjing_court.api(client)
    offline = clerk.post(f"/api/org/v1/cases/{case['id']}/orders",
                         {"claim_code": case["li"], "listing_id": county_listing, "quantity_g": TONNE,
                          "payment": "offline"}, key=key("offline"))
    assert offline.status_code == 201, offline.get_json()
    offline = offline.get_json()
    assert (offline["status"], offline["channel"]) == ("reserved", "offline")

    zhang = defendant(app.test_client(), "zhang-wechat")
    refused = zhang.post("/orders", order_body(county_listing, TONNE, case["zhang"]), key=key())
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "overpayment"
    assert refused.get_json()["error"]["details"]["owed_g"] == 0

    def act(kind):
        if kind == "finance":
            return StaffApi(app.test_client(), finance.member).post(
                f"/api/admin/v1/orders/{offline['order_no']}/offline-payment",
                {"reference": "NJ-2024-0901-007", "amount_fen": offline["amount_fen"]})
        return zhang.post("/orders", order_body(county_listing, TONNE, case["zhang"]), key=key())

    with caplog.at_level("INFO", logger="backend.db"):
        recorded, again = all_at_once(act, ["finance", "wechat"])
    assert "deadlock" not in caplog.text
    assert recorded.status_code == 200, recorded.get_json()
    assert recorded.get_json()["status"] == "fulfilled" and recorded.get_json()["certificate_no"]
    assert again.status_code == 409 and again.get_json()["error"]["code"] in ("overpayment", "case_restored")
    assert fake_wechat.transactions.get(offline["order_no"]) is None  # never sent to WeChat

    done = assert_restored_once(app, client, nanjing_court, case, [case["first"], offline["order_no"]])
    assert [p["channel"] for p in done["purchases"]] == ["jsapi", "offline"]  # 张三's refusals placed nothing


@pytest.mark.services_only
def test_the_clerk_and_a_wechat_payer_ordering_the_last_tonne_at_once_get_one_order_between_them(
        app, client, nanjing_court, finance, county_listing, fake_wechat, caplog):
    """The clerk's offline order and 张三's mini-program order for the last tonne, at the same instant (the clerk's
    locks the court, 张三's his user row, then both the case). One of them is placed, the other refused with
    ``overpayment``; the placed one is paid its own way (finance records the transfer, or WeChat notifies) and
    the case is restored. Five rounds."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    for round_ in range(5):
        case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
        zhang = defendant(app.test_client(), f"zhang-counter-{round_}")

        def order(kind):
            if kind == "offline":
                return nanjing_court.api(app.test_client()).post(
                    f"/api/org/v1/cases/{case['id']}/orders",
                    {"claim_code": case["li"], "listing_id": county_listing, "quantity_g": TONNE,
                     "payment": "offline"}, key=key("offline"))
            return zhang.post("/orders", order_body(county_listing, TONNE, case["zhang"]), key=key())

        with caplog.at_level("INFO", logger="backend.db"):
            answers = dict(zip(("offline", "wechat"), all_at_once(order, ["offline", "wechat"])))
        assert "deadlock" not in caplog.text
        assert sorted(a.status_code for a in answers.values()) == [201, 409], {
            k: a.get_json() for k, a in answers.items()}
        [(winner, placed)] = [(k, a.get_json()) for k, a in answers.items() if a.status_code == 201]
        [refused] = [a.get_json()["error"] for a in answers.values() if a.status_code == 409]
        assert refused["code"] == "overpayment" and refused["details"]["owed_g"] == 0
        if winner == "offline":
            recorded = finance.post(f"/api/admin/v1/orders/{placed['order_no']}/offline-payment",
                                    {"reference": f"NJ-2024-RACE-{round_}", "amount_fen": placed["amount_fen"]})
            assert recorded.status_code == 200, recorded.get_json()
        else:
            fake_wechat.pay(placed["order_no"])
        assert_restored_once(app, client, nanjing_court, case, [case["first"], placed["order_no"]])


@pytest.mark.services_only
def test_two_late_payments_for_the_last_tonne_heard_of_at_once_retire_it_once_and_refund_the_other(
        app, client, clock, nanjing_court, county_listing, fake_wechat, caplog):
    """Neither order holds the tonne any more when its payment is heard of, so neither payment is refused by the
    other's order: only the case's lock in ``before_retire`` tells them apart. 李四 orders the last tonne and pays
    at WeChat just before his deadline; the notification is held up and his order's time and grace run out, so
    张三 may order the tonne too, and pays just before his own deadline; his notification is held up as well. WeChat,
    back at last, delivers both at the same instant. The first settled retires the tonne and restores the case;
    the second finds it restored and is refunded (``no_longer_owed``). Three tonnes retired, never four; five
    rounds."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    for round_ in range(5):
        case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
        li, zhang = defendant(client, f"li-late-{round_}"), defendant(client, f"zhang-late-{round_}")
        first_order = li.order(county_listing, TONNE, purpose="judicial", claim_code=case["li"])
        clock.advance(minutes=14, seconds=30)
        li_paid = fake_wechat.pay(first_order["order_no"], deliver=False)
        # 李四's deadline and the ledger's grace after it have passed: his order no longer holds the tonne
        clock.advance(minutes=1, seconds=NOTIFICATION_GRACE_SECONDS)
        second_order = zhang.order(county_listing, TONNE, purpose="judicial", claim_code=case["zhang"])
        clock.advance(minutes=14, seconds=30)
        zhang_paid = fake_wechat.pay(second_order["order_no"], deliver=False)
        clock.advance(minutes=1)  # and now 张三's too; 李四's is past the ledger's grace as well

        retries = [fake_wechat.notification(url=held.url, event_type="TRANSACTION.SUCCESS",
                                            original_type="transaction", summary="支付成功",
                                            resource=fake_wechat.transaction(order["order_no"]))
                   for held, order in ((li_paid, first_order), (zhang_paid, second_order))]
        with caplog.at_level("INFO", logger="backend.db"):
            answers = all_at_once(lambda n: deliver(app, n), retries)
        assert answers == [200, 200]
        assert "deadlock" not in caplog.text

        shown = [who.get(f"/orders/{order['order_no']}").get_json()
                 for who, order in ((li, first_order), (zhang, second_order))]
        assert sorted((o["status"], o["refund_reason"]) for o in shown) == [
            ("fulfilled", None), ("refunding", "no_longer_owed")], shown
        [won] = [o["order_no"] for o in shown if o["status"] == "fulfilled"]
        assert_restored_once(app, client, nanjing_court, case, [case["first"], won])


def test_a_transfer_recorded_after_the_case_was_restored_online_is_refused_and_changes_nothing(
        app, client, runner, clock, nanjing_court, finance, county_listing, fake_wechat):
    """The clerk ordered the last tonne for 李四, to be paid by bank transfer, but the transfer did not come within
    the offline order's six days, and nobody swept the order: it no longer holds the tonne. 张三 pays it in the
    mini-program and the case is restored. When finance at last records 李四's transfer, it is refused with
    ``no_longer_owed`` and changes nothing (the money goes back the way it came, by bank); the sweeper then
    releases the order's credits. One tonne retired for the last tonne, not two."""
    case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
    offline = nanjing_court.api(client).post(
        f"/api/org/v1/cases/{case['id']}/orders",
        {"claim_code": case["li"], "listing_id": county_listing, "quantity_g": TONNE, "payment": "offline"},
        key=key("offline")).get_json()
    zhang = defendant(client, "zhang-online")
    held = zhang.post("/orders", order_body(county_listing, TONNE, case["zhang"]), key=key())
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "overpayment"

    clock.advance(seconds=app.config["OFFLINE_ORDER_TTL_SECONDS"] + 60)
    online = zhang.order(county_listing, TONNE, purpose="judicial", claim_code=case["zhang"])
    fake_wechat.pay(online["order_no"])
    assert_restored_once(app, client, nanjing_court, case, [case["first"], online["order_no"]])

    late = finance.post(f"/api/admin/v1/orders/{offline['order_no']}/offline-payment",
                        {"reference": "NJ-2024-LATE-001", "amount_fen": offline["amount_fen"]})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "no_longer_owed", late.get_json()
    done = assert_restored_once(app, client, nanjing_court, case, [case["first"], online["order_no"]])
    [shown] = [p for p in done["purchases"] if p["order_no"] == offline["order_no"]]
    assert (shown["status"], shown["payment_reference"], shown["certificate_no"]) == ("reserved", None, None)

    assert runner.invoke(args=["orders", "sweep"]).output.startswith("1 expired")
    assert [p["status"] for p in case_now(client, nanjing_court, case["id"])["purchases"]
            if p["order_no"] == offline["order_no"]] == ["expired"]
    assert listing_of(client, county_listing)["available_g"] == 100 * TONNE - REQUIRED_G


@pytest.mark.services_only
def test_payments_new_orders_and_the_clerk_on_one_case_at_once_never_deadlock_or_over_retire(
        app, client, nanjing_court, county_listing, fake_wechat, caplog):
    """Everything that locks a case, at the same instant: the two halves of the last tonne are paid (two
    notifications), while a third phone orders the last tonne in the mini-program and the clerk orders it for
    李四 at the counter. The case row is taken first by each (after the order, the user or the court), always
    before the ledger's accounts, so nobody waits in a circle: both payments are fulfilled,
    both new orders are refused (``overpayment`` while the halves are unpaid, ``case_restored`` after), and the
    case is restored once. Five rounds."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    half = TONNE // 2
    for round_ in range(5):
        case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
        placed = [defendant(client, f"all-{who}-{round_}").order(county_listing, half, purpose="judicial",
                                                                 claim_code=case[who])
                  for who in ("zhang", "li")]
        held = [fake_wechat.pay(p["order_no"], deliver=False) for p in placed]
        third = defendant(app.test_client(), f"all-third-{round_}")

        def act(item):
            kind, what = item
            if kind == "notify":
                return deliver(app, what)
            if kind == "order":
                return third.post("/orders", order_body(county_listing, TONNE, case["zhang"]), key=key())
            return nanjing_court.api(app.test_client()).post(
                f"/api/org/v1/cases/{case['id']}/orders",
                {"claim_code": case["li"], "listing_id": county_listing, "quantity_g": TONNE, "payment": "offline"},
                key=key("offline"))

        with caplog.at_level("INFO", logger="backend.db"):
            paid_a, paid_b, ordered, counter = all_at_once(act, [("notify", held[0]), ("notify", held[1]),
                                                                 ("order", None), ("clerk", None)])
        assert "deadlock" not in caplog.text
        assert (paid_a, paid_b) == (200, 200)
        for refused in (ordered, counter):
            assert refused.status_code == 409, refused.get_json()
            assert refused.get_json()["error"]["code"] in ("overpayment", "case_restored")
        purchases = case_now(client, nanjing_court, case["id"])["purchases"]
        assert sorted(p["status"] for p in purchases) == ["fulfilled"] * 3
        assert_restored_once(app, client, nanjing_court, case, 
                             [case["first"]] + [p["order_no"] for p in placed])


def test_a_payment_the_sweeper_finds_before_anyone_else_orders_is_delivered_and_the_next_payer_is_turned_away(
        app, client, runner, clock, nanjing_court, county_listing, fake_wechat):
    """李四's payment is held up again, but this time the sweeper comes by first: at his deadline it asks WeChat what
    became of his order before releasing anything, hears that he paid, and delivers it — the case is restored
    with his tonne. 张三, coming to pay the last tonne afterwards, is told the case is restored (409
    ``case_restored``) and pays nothing."""
    case = case_owing_the_last_tonne(client, nanjing_court, county_listing, fake_wechat)
    li = defendant(client, "li-swept")
    paid = li.order(county_listing, TONNE, purpose="judicial", claim_code=case["li"])
    clock.advance(minutes=14)
    fake_wechat.pay(paid["order_no"], deliver=False)  # the notification is lost
    clock.advance(minutes=2)
    assert "1 found paid" in runner.invoke(args=["orders", "sweep"]).output
    assert li.get(f"/orders/{paid['order_no']}").get_json()["status"] == "fulfilled"
    assert_restored_once(app, client, nanjing_court, case, [case["first"], paid["order_no"]])

    zhang = defendant(client, "zhang-too-late")
    refused = zhang.post("/orders", order_body(county_listing, TONNE, case["zhang"]), key=key())
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "case_restored"

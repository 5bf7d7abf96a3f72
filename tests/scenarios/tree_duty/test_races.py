"""One person's year is discharged once, however the payments for it arrive.

A citizen's row is the referee for their duty and their family's: the order service locks it while a tree-duty
order is priced and placed (so a second one sees the first, unpaid, and is refused), and ``before_retire`` locks it
again when a payment is settled (so of two payments for the same year, the second sees the first's retirement).
The races run on PostgreSQL (row locks, threads, a barrier); afterwards the scenario invariants run as after every
test: a voucher lists only its person's retirements of its year, and vouches for exactly the grams it lists.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.miniprogram.test_concurrency import all_at_once
from tests.scenarios.tree_duty.conftest import BEIJING, DutyCitizen


def deliver(app, notification) -> int:
    return app.test_client().post(urlsplit(notification.url).path, data=notification.body,
                                  headers=notification.headers).status_code


def body(listing: int) -> dict:
    return {"listing_id": listing, "purpose": "tree_duty", "tree_duty": {"year": 2026, "region": BEIJING}}


@pytest.mark.services_only
def test_two_phones_ordering_the_years_duty_at_once_place_one_order(app, listing, fake_wechat):
    """王小林 taps 尽责 on his phone and his tablet at the same instant: one order is placed, the other is told an
    unpaid duty order exists (409), and WeChat is asked for one payment only. Five rounds, five citizens."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    for round_ in range(5):
        person = f"two-phones-{round_}"
        phone = DutyCitizen(app.test_client(), person)
        phone.profile(real_name="王小林", birth_year=1990, sex="male", region=BEIJING)
        tablet = DutyCitizen(app.test_client(), person)
        sent = len(fake_wechat.transactions)
        answers = all_at_once(lambda device: device[0].post("/orders", body(listing), key=device[1]),
                              [(phone, "phone"), (tablet, "tablet")])
        assert sorted(a.status_code for a in answers) == [201, 409], [a.get_json() for a in answers]
        [refused] = [a.get_json()["error"] for a in answers if a.status_code == 409]
        assert refused["code"] == "tree_duty_order_pending"
        assert len(fake_wechat.transactions) == sent + 1


@pytest.mark.services_only
def test_two_payments_for_the_same_year_arriving_together_retire_once_and_refund_the_other(
        app, clock, listing, fake_wechat):
    """王小林 pays a duty order at WeChat in its last minute, but WeChat's notification is held up; once its time is
    up he places another and pays that too. Both notifications arrive at the same instant: one payment discharges
    the year (one voucher, 3 trees), the other is refunded as no longer owed — never a second duty voucher."""
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 1000
    for round_ in range(5):
        wang = DutyCitizen(app.test_client(), f"late-{round_}")
        wang.profile(real_name="王小林", birth_year=1990, sex="male", region=BEIJING)
        first = wang.duty_order(listing, year=2026, region=BEIJING, key="first")
        clock.advance(minutes=14, seconds=30)
        held_first = fake_wechat.pay(first["order_no"], deliver=False)
        clock.advance(minutes=1)  # past the first order's deadline: it no longer blocks a new one
        second = wang.duty_order(listing, year=2026, region=BEIJING, key="second")
        held_second = fake_wechat.pay(second["order_no"], deliver=False)

        assert all_at_once(lambda n: deliver(app, n), [held_first, held_second]) == [200, 200]

        outcomes = sorted((wang.status_of(o["order_no"])["status"], wang.status_of(o["order_no"])["refund_reason"])
                          for o in (first, second))
        assert outcomes == [("fulfilled", None), ("refunding", "no_longer_owed")], outcomes
        year = wang.year(2026)
        assert (year["status"], year["trees"], year["paid_fen"]) == ("duty_done", 3, 6000)
        assert len(year["vouchers"]) == 1
        clock.advance(hours=1)  # the next round's orders start afresh

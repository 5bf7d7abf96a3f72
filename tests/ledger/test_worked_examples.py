"""Worked examples: each test is one accounting story, told in the order it happens.

A batch of 1,000 t (serials 1 … 10^9 grams) sits in the platform's inventory. The ledger invariants and the audit
chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

import pytest

from backend.ledger import operations as op
from backend.ledger.errors import CorrectionRefused, InsufficientCredits, ReservationExpired, ReservationResolved
from backend.ledger.queries import serial_holder
from tests.ledger.story import TONNE

QUANTITY = 1_000 * TONNE


def test_a_citizen_buys_and_retires_350_kg(ledger, batch):
    """Reserve 350 kg for user 7, the payment arrives, post, and user 7 retires it to neutralise a footprint."""
    reservation = ledger(op.reserve, batch_id=batch.id, from_holder="platform", to_holder="user:7",
                         amount_g=350_000, ttl_seconds=900)
    assert ledger.balance("platform", batch.id) == QUANTITY - 350_000
    assert ledger.balance("platform", batch.id, "reserved") == 350_000
    assert ledger.ranges("platform", batch.id, "reserved") == [(1, 350_000)]

    ledger.clock.advance(minutes=3)
    ledger(op.post, reservation_id=reservation.id)
    assert ledger.balance("platform", batch.id, "reserved") == 0
    assert ledger.balance("user:7", batch.id) == 350_000

    retirement = ledger(op.retire, batch_id=batch.id, holder="user:7", amount_g=350_000, purpose="personal",
                        beneficiary_name="张三")
    assert ledger.balance("user:7", batch.id) == 0
    assert ledger.balance("user:7", batch.id, "retired") == 350_000
    assert retirement.beneficiary_masked == "张*"
    # The lowest serials went first, and the retirement knows exactly which.
    assert ledger.ranges("user:7", batch.id, "retired") == [(1, 350_000)]
    found = ledger.read(lambda s: serial_holder(s, batch.id, 123_456))
    assert found["kind"] == "retired"
    assert found["retirement"]["id"] == retirement.id
    assert found["retirement"]["ranges"] == [[1, 350_000]]


def test_an_unpaid_reservation_expires_and_the_sweeper_voids_it(ledger, batch):
    reservation = ledger(op.reserve, batch_id=batch.id, from_holder="platform", to_holder="user:8",
                         amount_g=2 * TONNE, ttl_seconds=900)
    ledger.clock.advance(minutes=14)
    assert ledger.read(lambda s: op.expired_reservations(s, ledger.clock())) == []

    ledger.clock.advance(minutes=1)
    assert ledger.read(lambda s: op.expired_reservations(s, ledger.clock())) == [reservation.id]
    with pytest.raises(ReservationExpired):  # the payment came too late to post
        ledger(op.post, reservation_id=reservation.id)

    ledger(op.void, client_id=f"expire:{reservation.id}", reservation_id=reservation.id, expired=True)
    assert ledger.balance("platform", batch.id) == QUANTITY
    assert ledger.ranges("platform", batch.id) == [(1, QUANTITY)]  # the serials came home and merged
    assert ledger.read(lambda s: op.expired_reservations(s, ledger.clock())) == []
    with pytest.raises(ReservationResolved):
        ledger(op.post, reservation_id=reservation.id)


def test_a_partial_post_delivers_part_and_returns_the_rest(ledger, batch):
    """An organiser reserved 10 t for an event, the final account says 7.5 t: post 7.5 t, 2.5 t go back."""
    reservation = ledger(op.reserve, batch_id=batch.id, from_holder="platform", to_holder="org:3",
                         amount_g=10 * TONNE, ttl_seconds=3600)
    ledger(op.post, reservation_id=reservation.id, amount_g=7_500_000)
    assert ledger.balance("org:3", batch.id) == 7_500_000
    assert ledger.ranges("org:3", batch.id) == [(1, 7_500_000)]
    assert ledger.balance("platform", batch.id, "reserved") == 0
    assert ledger.balance("platform", batch.id) == QUANTITY - 7_500_000
    assert ledger.ranges("platform", batch.id) == [(7_500_001, QUANTITY)]
    with pytest.raises(ReservationResolved):
        ledger(op.void, reservation_id=reservation.id)


def test_two_reservations_hold_their_own_serials(ledger, batch):
    first = ledger(op.reserve, batch_id=batch.id, from_holder="platform", to_holder="user:1", amount_g=100,
                   ttl_seconds=900)
    second = ledger(op.reserve, batch_id=batch.id, from_holder="platform", to_holder="user:2", amount_g=200,
                    ttl_seconds=900)
    ledger(op.void, reservation_id=first.id)  # serials 1–100 return; 101–300 stay earmarked for the second
    ledger(op.post, reservation_id=second.id)
    assert ledger.ranges("user:2", batch.id) == [(101, 300)]
    assert ledger.ranges("platform", batch.id) == [(1, 100), (301, QUANTITY)]


def test_credits_are_cancelled_out_of_circulation(ledger, batch):
    """Part of a batch is found to be double-counted with another registry: cancel it, with a reason."""
    ledger(op.cancel, batch_id=batch.id, holder="platform", amount_g=5 * TONNE, reason="与其他登记系统重复计算")
    assert ledger.balance("platform", batch.id, "cancelled") == 5 * TONNE
    assert ledger.balance("platform", batch.id) == QUANTITY - 5 * TONNE
    with pytest.raises(InsufficientCredits):
        ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=QUANTITY)


def test_a_mistaken_transfer_is_corrected_not_edited(ledger, batch):
    """The operator sent 3 t to the wrong cooperative; a correcting transfer brings those serials back."""
    wrong = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:9", amount_g=3 * TONNE)
    fix = ledger(op.correct, transfer_id=wrong.id, reason="收款单位填错 (wrong recipient)")
    assert fix.code == "CORRECT" and fix.corrects_id == wrong.id
    assert ledger.balance("org:9", batch.id) == 0
    assert ledger.ranges("platform", batch.id) == [(1, QUANTITY)]
    with pytest.raises(CorrectionRefused):
        ledger(op.correct, transfer_id=wrong.id, reason="again")
    right = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:10", amount_g=3 * TONNE)
    assert ledger.ranges("org:10", batch.id) == [(1, 3 * TONNE)]
    assert right.id > fix.id  # history only grows


def test_a_correction_is_refused_once_the_serials_moved_on(ledger, batch):
    first = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=1000)
    ledger(op.transfer, batch_id=batch.id, from_holder="org:1", to_holder="org:2", amount_g=10)
    with pytest.raises(CorrectionRefused):
        ledger(op.correct, transfer_id=first.id, reason="too late")
    assert ledger.balance("org:1", batch.id) == 990


def test_a_retirement_reversed_by_court_order(ledger, batch):
    """A retirement made in error (wrong case number) is reversed; the serials return to the holder."""
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:5", amount_g=4 * TONNE)
    retirement = ledger(op.retire, batch_id=batch.id, holder="user:5", amount_g=4 * TONNE, purpose="judicial",
                        purpose_ref="(2026)川0129刑初12号", beneficiary_name="李四")
    ledger(op.correct, transfer_id=retirement.transfer_id, reason="案号错误，依法院通知撤销")
    assert ledger.balance("user:5", batch.id) == 4 * TONNE
    assert ledger.balance("user:5", batch.id, "retired") == 0
    assert ledger.read(lambda s: serial_holder(s, batch.id, 1))["kind"] == "available"


def test_holdings_fragment_and_merge_by_serial(ledger, batch):
    """Retirements take the lowest serials, so the inventory stays one range; a holder with gaps gives lowest first."""
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=100)   # 1–100
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:2", amount_g=50)    # 101–150
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=100)   # 151–250
    assert ledger.ranges("org:1", batch.id) == [(1, 100), (151, 250)]
    moved = ledger(op.transfer, batch_id=batch.id, from_holder="org:1", to_holder="org:3", amount_g=120)
    assert ledger.ranges("org:3", batch.id) == [(1, 100), (151, 170)]
    assert ledger.ranges("org:1", batch.id) == [(171, 250)]
    assert moved.amount_g == 120


def test_a_correction_cuts_serials_that_merged_since(ledger, batch):
    """org:1 sends two separate runs (1–5, 8–10) to org:3, whose holding later merges them into 1–10.

    Correcting that transfer must take back exactly 1–5 and 8–10 and leave org:3 with 6–7 — not cut the merged
    row twice from its old bounds.
    """
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=5)   # 1–5
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:2", amount_g=2)   # 6–7
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=3)   # 8–10
    both_runs = ledger(op.transfer, batch_id=batch.id, from_holder="org:1", to_holder="org:3", amount_g=8)
    ledger(op.transfer, batch_id=batch.id, from_holder="org:2", to_holder="org:3", amount_g=2)
    assert ledger.ranges("org:3", batch.id) == [(1, 10)]

    ledger(op.correct, transfer_id=both_runs.id, reason="误转 (sent by mistake)")
    assert ledger.ranges("org:1", batch.id) == [(1, 5), (8, 10)]
    assert ledger.ranges("org:3", batch.id) == [(6, 7)]

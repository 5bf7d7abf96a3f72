"""Worked examples: retiring exactly the serials one transfer brought in (``retire(serials_of=…)``).

A holder may hold credits of one batch from several transfers — some kept, some bought to be retired. Retiring
"the serials of transfer T" takes exactly those, whatever lower serials the holder also has, so the other
transfers can still be corrected. A batch of 1,000 t sits in the platform's inventory; the ledger invariants and
the audit chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.ledger import operations as op
from backend.ledger.engine import transfer_ranges
from backend.ledger.errors import IdempotencyConflict, InsufficientCredits, InvalidInput
from backend.ledger.models import Retirement
from backend.ledger.queries import serial_holder
from tests.ledger.story import issue_batch


def retirements(ledger) -> int:
    return ledger.read(lambda s: s.execute(select(func.count()).select_from(Retirement)).scalar_one())


def test_a_transfers_own_serials_are_retired_and_the_lower_ones_are_left_alone(ledger, batch):
    """user:7 keeps 200 g (serials 1–200), then receives 100 g (201–300) to retire: 201–300 are retired."""
    kept = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7", amount_g=200)
    bought = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7", amount_g=100)
    assert ledger.ranges("user:7", batch.id) == [(1, 300)]  # one holding, merged

    retirement = ledger(op.retire, batch_id=batch.id, holder="user:7", amount_g=100, purpose="personal",
                        beneficiary_name="张三", serials_of=bought.id)
    assert ledger.ranges("user:7", batch.id, "retired") == [(201, 300)]
    assert ledger.ranges("user:7", batch.id) == [(1, 200)]
    found = ledger.read(lambda s: serial_holder(s, batch.id, 250))
    assert found["kind"] == "retired" and found["retirement"]["id"] == retirement.id
    assert found["retirement"]["ranges"] == [[201, 300]]

    # The kept transfer was never touched, so it can still be reversed exactly.
    ledger(op.correct, transfer_id=kept.id, reason="退回保留的碳汇 (the kept credits are returned)")
    assert ledger.balance("user:7", batch.id) == 0
    assert ledger.balance("user:7", batch.id, "retired") == 100
    assert ledger.ranges("platform", batch.id) == [(1, 200), (301, batch.quantity_g)]


def test_retiring_serials_that_have_moved_on_is_refused_and_changes_nothing(ledger, batch):
    """user:7 has 190 g — enough — but 10 of the serials it was asked to retire were given away since."""
    first = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7", amount_g=100)
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7", amount_g=100)
    ledger(op.transfer, batch_id=batch.id, from_holder="user:7", to_holder="org:2", amount_g=10)  # serials 1–10
    assert ledger.balance("user:7", batch.id) == 190

    with pytest.raises(InsufficientCredits) as refused:
        ledger(op.retire, batch_id=batch.id, holder="user:7", amount_g=100, purpose="personal",
               beneficiary_name="张三", serials_of=first.id)
    assert refused.value.code == "insufficient_credits" and refused.value.status == 409
    assert "no longer available" in refused.value.message

    assert ledger.balance("user:7", batch.id) == 190
    assert ledger.ranges("user:7", batch.id) == [(11, 200)]
    assert ledger.balance("user:7", batch.id, "retired") == 0
    assert retirements(ledger) == 0


def test_a_transfer_whose_later_range_has_moved_on_is_refused_whole(ledger, batch):
    """The refusal comes after the first of two ranges was already cut: it must be put back too.

    org:1 holds 1–100 and 111–130 (user:7 sold it 111–130) and sends all 120 g to user:7 in one transfer. user:7
    retires 111–130 as the serials of its own earlier purchase, then buys 50 g more: 150 g, enough for 120 —
    but not the 120 that transfer brought.
    """
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=100)  # 1–100
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:2", amount_g=10)   # 101–110
    bought = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7",
                    amount_g=20)                                                                      # 111–130
    ledger(op.transfer, batch_id=batch.id, from_holder="user:7", to_holder="org:1", amount_g=20)
    both = ledger(op.transfer, batch_id=batch.id, from_holder="org:1", to_holder="user:7", amount_g=120)
    assert ledger.read(lambda s: transfer_ranges(s, both.id)) == [(1, 100), (111, 130)]
    ledger(op.retire, batch_id=batch.id, holder="user:7", amount_g=20, purpose="personal", beneficiary_name="张三",
           serials_of=bought.id)
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7", amount_g=50)  # 131–180
    assert ledger.ranges("user:7", batch.id) == [(1, 100), (131, 180)]

    with pytest.raises(InsufficientCredits):
        ledger(op.retire, batch_id=batch.id, holder="user:7", amount_g=120, purpose="personal",
               beneficiary_name="张三", serials_of=both.id)
    assert ledger.ranges("user:7", batch.id) == [(1, 100), (131, 180)]
    assert ledger.balance("user:7", batch.id) == 150
    assert ledger.ranges("user:7", batch.id, "retired") == [(111, 130)]
    assert retirements(ledger) == 1


def test_the_same_client_id_gives_back_the_same_retirement_and_a_different_transfer_is_refused(ledger, batch):
    first = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7", amount_g=100)
    second = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7", amount_g=100)
    request = dict(batch_id=batch.id, holder="user:7", amount_g=100, purpose="personal", beneficiary_name="张三")

    retirement = ledger(op.retire, client_id="retire-once", serials_of=second.id, **request)
    again = ledger(op.retire, client_id="retire-once", serials_of=second.id, **request)
    assert again.id == retirement.id
    assert ledger.balance("user:7", batch.id, "retired") == 100  # retired once
    assert ledger.ranges("user:7", batch.id, "retired") == [(101, 200)]

    # The same client id for other serials, or for the lowest ones, is another request.
    with pytest.raises(IdempotencyConflict):
        ledger(op.retire, client_id="retire-once", serials_of=first.id, **request)
    with pytest.raises(IdempotencyConflict):
        ledger(op.retire, client_id="retire-once", **request)
    assert ledger.ranges("user:7", batch.id) == [(1, 100)]


def test_a_transfer_that_does_not_match_the_retirement_is_refused_naming_the_field(ledger, batch):
    bought = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="user:7", amount_g=100)
    held = ledger(op.reserve, batch_id=batch.id, from_holder="user:7", to_holder="org:2", amount_g=10,
                  ttl_seconds=900)
    other_batch = issue_batch(ledger, 1_000)
    elsewhere = ledger(op.transfer, batch_id=other_batch.id, from_holder="platform", to_holder="user:7",
                       amount_g=100)
    request = dict(batch_id=batch.id, holder="user:7", amount_g=100, purpose="personal", beneficiary_name="张三")
    cases = [
        ({"serials_of": bought.id, "amount_g": 50}, "amount_g"),          # only all of the transfer's serials
        ({"serials_of": bought.id, "holder": "user:8"}, "serials_of"),    # it credited user:7, not user:8
        ({"serials_of": elsewhere.id}, "serials_of"),                     # another batch
        ({"serials_of": held.id, "amount_g": 10}, "serials_of"),          # a reservation: into escrow, not available
        ({"serials_of": 999_999}, "serials_of"),                          # no such transfer
        ({"serials_of": "1"}, "serials_of"),
        ({"serials_of": True}, "serials_of"),
        ({"serials_of": -1}, "serials_of"),
        ({"serials_of": 2**63}, "serials_of"),
    ]
    for change, field in cases:
        with pytest.raises(InvalidInput) as refused:
            ledger(op.retire, **{**request, **change})
        assert refused.value.field == field and refused.value.status == 400, (change, refused.value.message)

    assert ledger.balance("user:7", batch.id) == 90
    assert ledger.balance("user:7", batch.id, "retired") == 0
    assert retirements(ledger) == 0

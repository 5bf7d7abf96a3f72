"""Concurrency on PostgreSQL: many buyers at once never oversell, never deadlock, and fail only cleanly.

SQLite serialises writers (BEGIN IMMEDIATE), so these run on PostgreSQL only, where row locks, READ COMMITTED
and the retry loop in ``backend.db.atomic`` are what keep the books. Every thread runs its own unit of work; a
barrier starts them together. The ``app`` fixture runs the invariant checker afterwards.
"""

from __future__ import annotations

import threading

import pytest

from backend.audit import verify
from backend.db import snapshot
from backend.errors import DomainError
from backend.ledger import operations as op
from backend.ledger.errors import InsufficientCredits, ReservationResolved
from backend.ledger.invariants import check
from tests.ledger.story import issue_batch

pytestmark = pytest.mark.services_only


def all_at_once(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; each result is a return value or an exception."""
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = work(i)
        except Exception as error:  # every outcome is inspected by the test
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a buyer is still waiting: a lock was never released"
    return outcomes


def split(outcomes: list) -> tuple[list, list]:
    failures = [o for o in outcomes if isinstance(o, Exception)]
    return [o for o in outcomes if not isinstance(o, Exception)], failures


def test_64_buyers_ask_for_more_than_there_is_and_nothing_is_oversold(ledger):
    """1,000 g in stock, 64 buyers want 30 g each (1,920 g): exactly 33 get theirs, 31 are told, nobody else."""
    batch = issue_batch(ledger, quantity_g=1_000)
    outcomes = all_at_once(64, lambda i: ledger(
        op.reserve, client_id=f"buyer-{i}", batch_id=batch.id, from_holder="platform", to_holder=f"user:{i + 1}",
        amount_g=30, ttl_seconds=900))
    reservations, failures = split(outcomes)
    assert all(isinstance(f, InsufficientCredits) and f.code == "insufficient_credits" for f in failures), failures
    assert len(reservations) == 33 and len(failures) == 31
    assert ledger.balance("platform", batch.id, "reserved") == 990
    assert ledger.balance("platform", batch.id) == 10
    # each reservation holds its own 30 serials; together they are exactly serials 1–990
    held = sorted(r for reservation in reservations for r in ledger.read(
        lambda s, rid=reservation.id: op.engine.transfer_ranges(s, rid)))
    assert op.engine.merge(held) == [(1, 990)] and sum(b - a + 1 for a, b in held) == 990


def test_64_buyers_reserve_pay_and_retire_at_once(ledger):
    """The whole purchase, 64 times in parallel: every retirement is backed by serials nobody else holds."""
    batch = issue_batch(ledger, quantity_g=2_000)

    def purchase(i: int):
        reservation = ledger(op.reserve, client_id=f"r-{i}", batch_id=batch.id, from_holder="platform",
                             to_holder=f"user:{i + 1}", amount_g=45, ttl_seconds=900)
        ledger(op.post, client_id=f"p-{i}", reservation_id=reservation.id)
        return ledger(op.retire, client_id=f"t-{i}", batch_id=batch.id, holder=f"user:{i + 1}", amount_g=45,
                      purpose="personal", beneficiary_name=f"买家{i}")

    retirements, failures = split(all_at_once(64, purchase))
    assert all(isinstance(f, InsufficientCredits) for f in failures), failures
    assert len(retirements) == 2_000 // 45 == 44
    retired = sorted(r for retirement in retirements for r in ledger.read(
        lambda s, tid=retirement.transfer_id: op.engine.transfer_ranges(s, tid)))
    assert sum(b - a + 1 for a, b in retired) == 44 * 45
    assert all(left[1] < right[0] for left, right in zip(retired, retired[1:])), "a serial was retired twice"
    assert ledger.balance("platform", batch.id) == 2_000 - 44 * 45


def test_a_reservation_resolves_once_however_many_try(ledger):
    """16 retries of the same POST and 16 other attempts race: one POST exists; same-key callers all see it."""
    batch = issue_batch(ledger, quantity_g=500)
    reservation = ledger(op.reserve, batch_id=batch.id, from_holder="platform", to_holder="user:1", amount_g=100,
                         ttl_seconds=900)

    def resolve(i: int):
        if i % 2 == 0:
            return ledger(op.post, client_id="the-payment", reservation_id=reservation.id)
        attempt = op.post if i % 4 == 1 else op.void
        return ledger(attempt, client_id=f"other-{i}", reservation_id=reservation.id)

    done, failures = split(all_at_once(32, resolve))
    winners = {transfer.id for transfer in done}
    assert len(winners) == 1, done
    winner = done[0]
    if winner.client_id == "the-payment":  # the payment won: every retry of it got that very transfer
        assert len(done) == 16 and ledger.balance("user:1", batch.id) == 100
    elif winner.code == "POST":  # another POST won: the payment's retries are told the reservation is gone
        assert len(done) == 1 and ledger.balance("user:1", batch.id) == 100
    else:  # a void won: likewise, and nothing was delivered
        assert len(done) == 1 and ledger.balance("user:1", batch.id) == 0
    assert all(isinstance(f, ReservationResolved) for f in failures), failures


def test_retirements_and_transfers_compete_for_one_balance(ledger):
    """A holder's 100 g: 20 retirements and 20 transfers of 10 g race. Ten succeed; the balance never dips."""
    batch = issue_batch(ledger, quantity_g=1_000)
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=100)

    def spend(i: int):
        if i % 2:
            return ledger(op.retire, client_id=f"ret-{i}", batch_id=batch.id, holder="org:1", amount_g=10,
                          purpose="event", purpose_ref="2026 成都马拉松", beneficiary_name="成都某某体育有限公司")
        return ledger(op.transfer, client_id=f"tr-{i}", batch_id=batch.id, from_holder="org:1",
                      to_holder=f"org:{i + 2}", amount_g=10)

    done, failures = split(all_at_once(40, spend))
    assert len(done) == 10
    assert all(isinstance(f, DomainError) and f.code == "insufficient_credits" for f in failures), failures
    assert ledger.balance("org:1", batch.id) == 0
    assert ledger.balance("org:1", batch.id, "retired") + sum(
        ledger.balance(f"org:{i + 2}", batch.id) for i in range(0, 40, 2)) == 100


def test_retries_of_one_request_all_get_its_first_result(ledger):
    """A payment notification delivered 8 times at once: each of reserve, post and retire happens once, and every
    retry is answered with that one result rather than a refusal."""
    batch = issue_batch(ledger, quantity_g=100)

    def same(operation, client_id, **kwargs):
        results, failures = split(all_at_once(8, lambda i: ledger(operation, client_id=client_id, **kwargs)))
        assert not failures, failures
        assert len({result.id for result in results}) == 1, results
        return results[0]

    reservation = same(op.reserve, "order-1-reserve", batch_id=batch.id, from_holder="platform",
                       to_holder="user:1", amount_g=60, ttl_seconds=900)
    same(op.post, "order-1-post", reservation_id=reservation.id)
    same(op.retire, "order-1-retire", batch_id=batch.id, holder="user:1", amount_g=60, purpose="personal",
         beneficiary_name="王五")
    assert ledger.balance("user:1", batch.id, "retired") == 60
    assert ledger.balance("platform", batch.id) == 40


def test_the_checkers_see_one_moment_while_buyers_keep_buying(app, ledger):
    """``ledger check`` and ``audit verify`` read many tables; with writers going on they must still see one
    consistent moment, or an operator would be woken by false alarms."""
    batch = issue_batch(ledger, quantity_g=10**9)
    stop = threading.Event()
    errors: list = []

    def buyer(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                reservation = ledger(op.reserve, client_id=f"w{n}-{i}", batch_id=batch.id, from_holder="platform",
                                     to_holder=f"user:{n + 1}", amount_g=7, ttl_seconds=900)
                ledger(op.post if i % 2 else op.void, client_id=f"w{n}-{i}-x", reservation_id=reservation.id)
            except Exception as error:  # any failure of a writer fails the test below
                errors.append(error)
                return

    writers = [threading.Thread(target=buyer, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    try:
        for _ in range(15):
            with snapshot(ledger.engine) as session:
                assert check(session) == []
                report = verify(session)
                assert report.ok, report.problem
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=60)
    assert not errors, errors

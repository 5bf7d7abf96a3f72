"""What a purchase sends to the database, counted.

Issue 17 found that Python per statement, not locking, is what a purchase costs (bench/ledger.py): so the ledger's
hot path has a budget. A buyer's second purchase of a batch — RESERVE in one unit of work, then POST and RETIRE
with its certificate in a second, as an order and its payment do — may send at most this many statements.
A change that adds one to the hot path must raise the budget here, on purpose, and say why.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

from sqlalchemy import event

from backend.db import atomic
from backend.ledger import operations as op

# PostgreSQL's figures; SQLite sends one statement fewer per operation (BEGIN IMMEDIATE holds the database, so
# there is no row lock to take). Before issue 17's second step: 13 and 42.
BUDGET = {"reserve": 9, "settle": 30}


@contextmanager
def counting(engine, tally: Counter, name: str):
    def count(_connection, _cursor, statement, _parameters, _context, _executemany):
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE opens the unit of work: no work itself
            tally[name] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", count)


def purchase(ledger, batch, buyer: str, tally: Counter | None = None):
    tally = Counter() if tally is None else tally
    with counting(ledger.engine, tally, "reserve"):
        reservation = ledger(op.reserve, batch_id=batch.id, from_holder="platform", to_holder=buyer,
                             amount_g=12_345, ttl_seconds=900)

    def settle(session):
        posted = op.post(session, ledger.clock(), client_id=ledger.key("post"), reservation_id=reservation.id,
                         actor="payer")
        return op.retire(session, ledger.clock(), client_id=ledger.key("retire"), batch_id=batch.id, holder=buyer,
                         amount_g=12_345, purpose="personal", beneficiary_name="张三", actor="payer",
                         certify=ledger.certify, serials_of=posted.id)

    with counting(ledger.engine, tally, "settle"):
        return atomic(settle, engine=ledger.engine), tally


def test_a_buyers_second_purchase_stays_within_the_statement_budget(ledger, batch):
    # The first purchase also creates the buyer's available and retired accounts (one INSERT each); someone else
    # buys in between, as on a busy batch, so the second purchase's serials do not touch the first's.
    purchase(ledger, batch, "user:1")
    purchase(ledger, batch, "user:2")
    retirement, sent = purchase(ledger, batch, "user:1")

    assert retirement.quantity_g == 12_345
    assert ledger.balance("user:1", batch.id, "retired") == 2 * 12_345
    assert ledger.ranges("user:1", batch.id, "retired") == [(1, 12_345), (24_691, 37_035)]
    for step, budget in BUDGET.items():
        assert sent[step] <= budget, f"{step}: {sent[step]} statements, budget {budget}"
    if ledger.engine.dialect.name == "postgresql":  # every lock is a statement of its own there
        assert sent == Counter(BUDGET), sent

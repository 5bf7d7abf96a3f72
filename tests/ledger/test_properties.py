"""Properties: whatever happens to a batch, in whatever order, the ledger keeps its books.

Hypothesis writes random stories, each about a fresh, small batch (1 … 5,000 g, so amounts run into balances,
reservations into each other and serials into their neighbours all the time): reservations posted in full or in
part, voided, or left to lapse and swept; transfers between holders; retirements; cancellations; corrections of
earlier transfers; replays of earlier requests under their client id; and requests that must be refused (spending
more than is there, posting a reservation already resolved or lapsed, correcting twice or after the serials moved
on, malformed input).

Beside the database each story keeps a model of its own, deliberately naive so that it is obviously right: the set
of serials each holder has in each kind of account, taken lowest first, and the serials each open reservation
earmarks. After every step the story proves:

* the ledger did what the model predicted: it succeeded, or refused with exactly the predicted error;
* a refused request changed nothing: no account, serial range, transfer or audit event appeared or moved;
* every balance equals the model's (each one the step changed is read once more through ``Ledger.balance``), and
  every holding is exactly the model's serials as the fewest ranges, the earmarked ones under their reservation;
* the batch's serial ranges partition ``[1, quantity_g]``;
* ``invariants.check`` finds nothing; and at the end of the story the audit chain verifies.

Each example runs on a database of its own (see ``fresh_ledger``). Two more tests: a reservation to oneself, and
the pure ``engine.merge``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backend import create_app
from backend.audit import verify
from backend.audit.models import AuditHead
from backend.ledger import engine
from backend.ledger import operations as op
from backend.ledger.errors import (
    CorrectionRefused,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidInput,
    ReservationExpired,
    ReservationResolved,
)
from backend.ledger.invariants import check
from backend.ledger.models import RETIREMENT_PURPOSES, LedgerAccount, SerialRange, Transfer
from tests.conftest import FakeClock
from tests.ledger.story import Ledger, issue_batch

HOLDERS = ("platform", "org:1", "user:1", "user:2")
KINDS = ("available", "reserved", "retired", "cancelled")
HELD_KINDS = ("available", "retired", "cancelled")  # the kinds whose serials carry no earmark


def runs(serials) -> list[tuple[int, int]]:
    """The maximal runs of consecutive serials, ascending: {1, 2, 3, 7} → [(1, 3), (7, 7)]. Not engine.merge."""
    found: list[list[int]] = []
    for serial in sorted(serials):
        if found and serial == found[-1][1] + 1:
            found[-1][1] = serial
        else:
            found.append([serial, serial])
    return [(first, last) for first, last in found]


def serials_of(ranges) -> set[int]:
    return {serial for first, last in ranges for serial in range(first, last + 1)}


def lowest(serials: set[int], count: int) -> set[int]:
    return set(sorted(serials)[:count])


def amounts(balance: int):
    """Mostly amounts the balance covers (a little, some, all of it), sometimes more than there is."""
    if balance == 0:
        return st.integers(1, 50)
    return st.one_of(st.integers(1, max(1, balance // 8)), st.integers(1, balance), st.just(balance),
                     st.integers(balance + 1, balance + 50))


@dataclass
class Reservation:
    id: int
    seller: str
    buyer: str
    amount_g: int
    expires_at: datetime
    outcome: str | None = None  # posted, voided or expired
    resolved_by: str | None = None  # the client id of the POST or VOID that resolved it


@dataclass
class Moved:
    """A transfer the story made, as a correction sees it: where its serials are now, where they would go back."""

    id: int
    code: str
    serials: frozenset[int] = frozenset()
    now_in: tuple[str, str] | None = None
    back_to: tuple[str, str] | None = None
    corrected: bool = False


@dataclass
class Done:
    """A request that succeeded, to be replayed under its client id."""

    operation: object
    client_id: str
    kwargs: dict
    result_id: int


class Story:
    """One story about one fresh batch. The model: ``held`` (holder, kind → serials) and ``escrow`` (open
    reservation → serials); ``reservations`` and ``moves`` are what later steps can refer back to."""

    def __init__(self, ledger, data, quantity_g: int) -> None:
        self.ledger, self.data = ledger, data
        self.batch = issue_batch(ledger, quantity_g=quantity_g)
        self.held: dict[tuple[str, str], set[int]] = {(h, k): set() for h in HOLDERS for k in HELD_KINDS}
        self.held["platform", "available"] = set(range(1, quantity_g + 1))
        self.escrow: dict[int, set[int]] = {}
        self.reservations: list[Reservation] = []
        issue_id = ledger.read(lambda s: s.execute(select(Transfer.id).where(
            Transfer.batch_id == self.batch.id, Transfer.code == "ISSUE")).scalar_one())
        self.moves: list[Moved] = [Moved(issue_id, "ISSUE")]
        self.done: list[Done] = []
        self.last_balances: dict[tuple[str, str], int] = {}
        self.last_checked = None  # the snapshot the invariant checker last passed
        self.known = None  # the snapshot after the last step: the state the next request starts from
        self.unchanged = False  # the step proved it changed nothing
        self.the_books_agree_with_the_model()

    # -- how a request is made and judged ------------------------------------------------------------------------

    def draw(self, strategy, label: str):
        return self.data.draw(strategy, label=label)

    def now(self) -> datetime:
        return self.ledger.clock()

    def snapshot(self):
        return self.ledger.read(self.snapshot_in)

    def snapshot_in(self, session):
        """Everything a request could change about this batch, and the audit chain's length."""
        accounts = {a.id: a for a in session.execute(
            select(LedgerAccount).where(LedgerAccount.batch_id == self.batch.id)).scalars()}
        ranges = session.execute(select(SerialRange.account_id, SerialRange.first, SerialRange.last,
                                        SerialRange.reservation_id)
                                 .where(SerialRange.batch_id == self.batch.id)).all()
        transfers = session.execute(select(func.count()).select_from(Transfer)
                                    .where(Transfer.batch_id == self.batch.id)).scalar_one()
        return {
            "accounts": sorted((a.holder, a.kind, a.debits_g, a.credits_g) for a in accounts.values()),
            "ranges": sorted((accounts[a].holder, accounts[a].kind, first, last, tag or 0)
                             for a, first, last, tag in ranges),
            "transfers": transfers,
            "audit_seq": session.get(AuditHead, 1).seq,
        }

    def refused(self, refusal, operation, **kwargs) -> None:
        """The request is refused with exactly ``refusal``, and nothing changed."""
        with pytest.raises(refusal) as caught:
            self.ledger(operation, **kwargs)
        assert type(caught.value) is refusal, f"expected {refusal.__name__}, got {caught.value!r}"
        self.nothing_changed(f"the refused {operation.__name__}")

    def nothing_changed(self, what: str) -> None:
        assert self.snapshot() == self.known, f"{what} changed the ledger"
        self.unchanged = True

    def succeed(self, operation, *, client_id: str | None = None, **kwargs):
        client_id = client_id or self.ledger.key(operation.__name__)
        result = self.ledger(operation, client_id=client_id, **kwargs)
        self.done.append(Done(operation, client_id, kwargs, result.id))
        return result

    def move(self, serials: set[int], source: tuple[str, str], destination: tuple[str, str]) -> None:
        assert serials <= self.held[source]
        self.held[source] -= serials
        self.held[destination] |= serials

    def available(self, holder: str) -> int:
        return len(self.held[holder, "available"])

    def holder(self, label: str) -> str:
        """Mostly a holder with something to spend, sometimes anyone (whose request may then be refused)."""
        rich = [h for h in HOLDERS if self.available(h)]
        choices = st.sampled_from(HOLDERS)
        if rich:
            choices = st.one_of(st.sampled_from(rich), st.sampled_from(rich), st.sampled_from(rich), choices)
        return self.draw(choices, label)

    def other_holder(self, holder: str, label: str) -> str:
        return self.draw(st.sampled_from([h for h in HOLDERS if h != holder]), label)

    # -- the steps ------------------------------------------------------------------------------------------------

    def reserve(self) -> None:
        seller = self.holder("seller")
        buyer = self.other_holder(seller, "buyer")  # to oneself: see malformed()
        amount = self.draw(amounts(self.available(seller)), "amount_g")
        ttl_seconds = self.draw(st.sampled_from([60, 900, 3600]), "ttl_seconds")
        request = dict(batch_id=self.batch.id, from_holder=seller, to_holder=buyer, amount_g=amount,
                       ttl_seconds=ttl_seconds)
        if amount > self.available(seller):
            return self.refused(InsufficientCredits, op.reserve, **request)
        transfer = self.succeed(op.reserve, **request)
        assert (transfer.code, transfer.counterparty, transfer.amount_g) == ("RESERVE", buyer, amount)
        self.escrow[transfer.id] = lowest(self.held[seller, "available"], amount)
        self.held[seller, "available"] -= self.escrow[transfer.id]
        self.reservations.append(Reservation(transfer.id, seller, buyer, amount,
                                             self.now() + timedelta(seconds=ttl_seconds)))
        self.moves.append(Moved(transfer.id, "RESERVE"))

    def resolve(self) -> None:
        """A reservation ends one of three ways, or is asked to end again: posted, voided, or swept once lapsed."""
        if not self.reservations:
            return None
        still_open = [r for r in self.reservations if r.outcome is None]
        choices = st.sampled_from(self.reservations)
        if still_open:  # mostly one still open, sometimes any (and then often refused)
            choices = st.one_of(st.sampled_from(still_open), st.sampled_from(still_open), choices)
        reservation = self.draw(choices, "reservation")
        how = self.draw(st.sampled_from(["post", "post", "void", "sweep"]), "how")
        if how == "post":
            return self.post(reservation)
        return self.void(reservation) if how == "void" else self.sweep(reservation)

    def post(self, reservation: Reservation) -> None:
        """Deliver all of a reservation, or part of it (the rest goes home), or ask for more than it holds."""
        how = self.draw(st.sampled_from(["full", "part", "more"]), "amount")
        amount = None
        if how == "part":
            amount = self.draw(st.integers(1, reservation.amount_g), "amount_g")
        elif how == "more":
            amount = reservation.amount_g + 1
        request = dict(reservation_id=reservation.id, amount_g=amount)
        if reservation.outcome is not None:
            return self.refused(ReservationResolved, op.post, **request)
        if reservation.expires_at <= self.now():
            return self.refused(ReservationExpired, op.post, **request)
        if how == "more":
            return self.refused(InvalidInput, op.post, **request)
        transfer = self.succeed(op.post, **request)
        earmarked = self.escrow.pop(reservation.id)
        delivered = lowest(earmarked, reservation.amount_g if amount is None else amount)
        assert (transfer.code, transfer.amount_g, transfer.pending_id) == ("POST", len(delivered), reservation.id)
        self.held[reservation.buyer, "available"] |= delivered
        self.held[reservation.seller, "available"] |= earmarked - delivered
        reservation.outcome, reservation.resolved_by = "posted", self.done[-1].client_id
        self.moves.append(Moved(transfer.id, "POST", frozenset(delivered), (reservation.buyer, "available"),
                                (reservation.seller, "available")))

    def void(self, reservation: Reservation) -> None:
        """Release a reservation, lapsed or not: its serials go home."""
        if reservation.outcome is not None:
            return self.refused(ReservationResolved, op.void, reservation_id=reservation.id)
        transfer = self.succeed(op.void, reservation_id=reservation.id)
        assert (transfer.code, transfer.reason) == ("VOID", "voided")
        self.held[reservation.seller, "available"] |= self.escrow.pop(reservation.id)
        reservation.outcome, reservation.resolved_by = "voided", self.done[-1].client_id
        self.moves.append(Moved(transfer.id, "VOID"))

    def sweep(self, reservation: Reservation) -> None:
        """The expiry sweeper voids a lapsed reservation under ``expire:<id>``; asked again, it gets the same
        answer and nothing moves."""
        client_id = f"expire:{reservation.id}"
        request = dict(reservation_id=reservation.id, expired=True)
        if reservation.resolved_by == client_id:
            again = self.ledger(op.void, client_id=client_id, **request)
            assert (again.pending_id, again.reason) == (reservation.id, "expired")
            return self.nothing_changed("sweeping again")
        if reservation.outcome is not None:
            return self.refused(ReservationResolved, op.void, client_id=client_id, **request)
        if reservation.expires_at > self.now():  # not lapsed yet
            assert reservation.id not in self.ledger.read(lambda s: op.expired_reservations(s, self.now()))
            return self.refused(InvalidInput, op.void, client_id=client_id, **request)
        assert reservation.id in self.ledger.read(lambda s: op.expired_reservations(s, self.now()))
        transfer = self.succeed(op.void, client_id=client_id, **request)
        assert (transfer.code, transfer.reason) == ("VOID", "expired")
        self.held[reservation.seller, "available"] |= self.escrow.pop(reservation.id)
        reservation.outcome, reservation.resolved_by = "expired", client_id
        assert reservation.id not in self.ledger.read(lambda s: op.expired_reservations(s, self.now()))
        self.moves.append(Moved(transfer.id, "VOID"))

    def time_passes(self) -> None:
        self.ledger.clock.advance(seconds=self.draw(st.one_of(st.integers(1, 300), st.integers(600, 4000)),
                                                    "seconds"))

    def transfer(self) -> None:
        sender = self.holder("sender")
        recipient = self.other_holder(sender, "recipient")
        amount = self.draw(amounts(self.available(sender)), "amount_g")
        request = dict(batch_id=self.batch.id, from_holder=sender, to_holder=recipient, amount_g=amount)
        if amount > self.available(sender):
            return self.refused(InsufficientCredits, op.transfer, **request)
        transfer = self.succeed(op.transfer, **request)
        serials = lowest(self.held[sender, "available"], amount)
        self.move(serials, (sender, "available"), (recipient, "available"))
        self.moves.append(Moved(transfer.id, "TRANSFER", frozenset(serials), (recipient, "available"),
                                (sender, "available")))

    def retire(self) -> None:
        holder = self.holder("holder")
        amount = self.draw(amounts(self.available(holder)), "amount_g")
        request = dict(batch_id=self.batch.id, holder=holder, amount_g=amount,
                       purpose=self.draw(st.sampled_from(RETIREMENT_PURPOSES), "purpose"), beneficiary_name="张三")
        if amount > self.available(holder):
            return self.refused(InsufficientCredits, op.retire, **request)
        retirement = self.succeed(op.retire, **request)
        assert (retirement.holder, retirement.quantity_g, retirement.beneficiary_masked) == (holder, amount, "张*")
        serials = lowest(self.held[holder, "available"], amount)
        self.move(serials, (holder, "available"), (holder, "retired"))
        self.moves.append(Moved(retirement.transfer_id, "RETIRE", frozenset(serials), (holder, "retired"),
                                (holder, "available")))

    def cancel(self) -> None:
        holder = self.holder("holder")
        amount = self.draw(amounts(self.available(holder)), "amount_g")
        request = dict(batch_id=self.batch.id, holder=holder, amount_g=amount, reason="与其他登记系统重复计算")
        if amount > self.available(holder):
            return self.refused(InsufficientCredits, op.cancel, **request)
        transfer = self.succeed(op.cancel, **request)
        serials = lowest(self.held[holder, "available"], amount)
        self.move(serials, (holder, "available"), (holder, "cancelled"))
        self.moves.append(Moved(transfer.id, "CANCEL", frozenset(serials), (holder, "cancelled"),
                                (holder, "available")))

    def correct(self) -> None:
        """Reverse an earlier transfer: only a TRANSFER, RETIRE, CANCEL or POST, only once, and only while all its
        serials are still where it put them."""
        correctable = [m for m in self.moves if m.code in op.CORRECTABLE and not m.corrected
                       and m.serials <= self.held[m.now_in]]
        choices = st.sampled_from(self.moves)
        if correctable:  # mostly one that can still be corrected, sometimes any (and then often refused)
            choices = st.one_of(st.sampled_from(correctable), st.sampled_from(correctable), choices)
        original = self.draw(choices, "original")
        request = dict(transfer_id=original.id, reason="更正 (correction)")
        if original.code not in op.CORRECTABLE or original.corrected:
            return self.refused(CorrectionRefused, op.correct, **request)
        if not original.serials <= self.held[original.now_in]:
            return self.refused(CorrectionRefused, op.correct, **request)
        fix = self.succeed(op.correct, **request)
        assert (fix.code, fix.corrects_id, fix.amount_g) == ("CORRECT", original.id, len(original.serials))
        self.move(set(original.serials), original.now_in, original.back_to)
        original.corrected = True
        self.moves.append(Moved(fix.id, "CORRECT"))

    def replay(self) -> None:
        """An earlier request again under its client id returns the first result and changes nothing; another
        request under that id (here: by another actor) is refused."""
        if not self.done:
            return None
        earlier = self.draw(st.sampled_from(self.done), "earlier")
        again = self.ledger(earlier.operation, client_id=earlier.client_id, **earlier.kwargs)
        assert again.id == earlier.result_id
        self.nothing_changed(f"replaying {earlier.operation.__name__}")
        self.refused(IdempotencyConflict, earlier.operation, client_id=earlier.client_id, actor="auditor",
                     **earlier.kwargs)

    def malformed(self) -> None:
        """A malformed request is refused before it touches anything."""
        batch_id = self.batch.id
        operation, kwargs = self.draw(st.sampled_from([
            (op.transfer, dict(batch_id=batch_id, from_holder="platform", to_holder="org:1", amount_g=0)),
            (op.transfer, dict(batch_id=batch_id, from_holder="platform", to_holder="registry", amount_g=1)),
            (op.transfer, dict(batch_id=batch_id, from_holder="org:1", to_holder="org:1", amount_g=1)),
            (op.reserve, dict(batch_id=batch_id, from_holder="platform", to_holder="user:1", amount_g=-5,
                              ttl_seconds=900)),
            (op.reserve, dict(batch_id=batch_id, from_holder="platform", to_holder="user:1", amount_g=1,
                              ttl_seconds=0)),
            (op.reserve, dict(batch_id=batch_id, from_holder="user:1", to_holder="user:1", amount_g=1,
                              ttl_seconds=900)),
            (op.retire, dict(batch_id=batch_id, holder="platform", amount_g=True, purpose="personal",
                             beneficiary_name="张三")),
            (op.retire, dict(batch_id=batch_id, holder="platform", amount_g=1, purpose="bragging",
                             beneficiary_name="张三")),
            (op.retire, dict(batch_id=batch_id, holder="platform", amount_g=1, purpose="personal",
                             beneficiary_name="   ")),
            (op.cancel, dict(batch_id=batch_id, holder="platform", amount_g=1, reason=" ")),
        ]), "request")
        self.refused(InvalidInput, operation, **kwargs)

    # -- what holds after every step ------------------------------------------------------------------------------

    def model_balances(self) -> dict[tuple[str, str], int]:
        balances = {key: len(serials) for key, serials in self.held.items()}
        for holder in HOLDERS:
            balances[holder, "reserved"] = sum(len(self.escrow[r.id]) for r in self.reservations
                                               if r.seller == holder and r.id in self.escrow)
        return balances

    def the_books_agree_with_the_model(self) -> None:
        stored = self.known if self.unchanged else self.snapshot()
        self.known, self.unchanged = stored, False
        if stored != self.last_checked:  # a step that changed nothing (a refusal, a replay) cannot break one
            violations = self.ledger.read(check)
            assert violations == [], "\n".join(map(str, violations))
            self.last_checked = stored

        # Balances: all of them from the one read, and each the step changed once more through Ledger.balance.
        expected = self.model_balances()
        stored_balances = {(holder, kind): credits - debits
                           for holder, kind, debits, credits in stored["accounts"] if kind != "issuance"}
        assert {k: v for k, v in stored_balances.items() if v} == {k: v for k, v in expected.items() if v}
        for (holder, kind), balance in expected.items():
            if balance != self.last_balances.get((holder, kind), 0):
                assert self.ledger.balance(holder, self.batch.id, kind) == balance, (holder, kind)
        self.last_balances = expected

        # Holdings: exactly the model's serials, as the fewest ranges; earmarked ones under their reservation.
        expected_ranges: dict[tuple, list] = {}
        for (holder, kind), serials in self.held.items():
            if serials:
                expected_ranges[holder, kind, 0] = runs(serials)
        for reservation in self.reservations:
            if reservation.id in self.escrow:
                expected_ranges[reservation.seller, "reserved", reservation.id] = runs(self.escrow[reservation.id])
        stored_ranges: dict[tuple, list] = {}
        for holder, kind, first, last, tag in stored["ranges"]:
            stored_ranges.setdefault((holder, kind, tag), []).append((first, last))
        assert stored_ranges == expected_ranges

        # The batch's serials: every one of [1, quantity_g] held exactly once, in the ledger and in the model.
        expected_next = 1
        for first, last in sorted((first, last) for _, _, first, last, _ in stored["ranges"]):
            assert first == expected_next, f"serial {min(first, expected_next)} is held twice or by no one"
            expected_next = last + 1
        assert expected_next == self.batch.quantity_g + 1
        model = [s for serials in itertools.chain(self.held.values(), self.escrow.values()) for s in serials]
        assert sorted(model) == list(range(1, self.batch.quantity_g + 1))


# How often each step comes up: reservations and their endings most, the rest now and then.
STEPS = ("reserve", "resolve", "transfer", "reserve", "resolve", "correct", "retire", "time_passes", "reserve",
         "resolve", "transfer", "cancel", "correct", "time_passes", "replay", "malformed")


@pytest.fixture
def fresh_ledger(stores, tmp_path):
    """A ``Ledger`` on a database of its own, with a clock of its own, for each hypothesis example.

    Examples must not share a database: the invariant checker looks at every batch, so one example that broke
    the books would fail every later one, and hypothesis would shrink to a story that is not the culprit.
    """
    made = []

    def make() -> Ledger:
        if made:
            made[-1].engine.dispose()
        directory = tmp_path / f"example-{len(made)}"
        directory.mkdir()
        clock = FakeClock()
        app = create_app({"TESTING": True, "APP_ENV": "test", "CLOCK": clock, "OPERATOR_TOKEN": "unused",
                          **stores.overrides(directory)})
        made.append(Ledger(app, clock))
        return made[-1]

    yield make
    if made:
        made[-1].engine.dispose()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantity_g=st.integers(1, 5000), steps=st.integers(0, 40).flatmap(  # long stories, yet shrinkable to short
    lambda at_least: st.lists(st.sampled_from(STEPS), min_size=at_least, max_size=at_least + 20)), data=st.data())
def test_random_stories_never_break_the_ledger(fresh_ledger, quantity_g, steps, data):
    """Each example is a fresh batch and a random story of up to 60 requests; after every one the ledger did what
    the model predicted, a refusal changed nothing, balances and serials match the model, the batch's serials
    partition it, and the invariant checker finds nothing (see the module docstring). At the end the audit chain
    verifies."""
    ledger = fresh_ledger()
    story = Story(ledger, data, quantity_g)
    for step in steps:
        getattr(story, step)()
        story.the_books_agree_with_the_model()
    chain = ledger.read(verify)
    assert chain.ok, f"audit chain broken at {chain.broken_at}: {chain.problem}"


def test_a_reservation_to_oneself_is_refused(ledger):
    """Like a transfer to oneself. Were it allowed, its POST would land in the holder's own available account, and
    correcting that POST would move serials from an account to itself: the ``debit ≠ credit`` CHECK constraint
    turned that into an IntegrityError, a 500 (so it was before commit aa44ee2)."""
    batch = issue_batch(ledger, quantity_g=100)
    with pytest.raises(InvalidInput) as refused:
        ledger(op.reserve, batch_id=batch.id, from_holder="platform", to_holder="platform", amount_g=10,
               ttl_seconds=900)
    assert refused.value.field == "to_holder"
    assert ledger.balance("platform", batch.id) == 100
    assert ledger.balance("platform", batch.id, "reserved") == 0


range_lists = st.lists(st.tuples(st.integers(1, 300), st.integers(0, 25)).map(lambda p: (p[0], p[0] + p[1])),
                       max_size=25)


@settings(max_examples=300, deadline=None)
@given(ranges=range_lists, order=st.randoms(use_true_random=False))
def test_merge_gives_the_fewest_ranges_covering_the_same_serials(ranges, order):
    """``engine.merge`` keeps exactly the serials it was given, as ascending, disjoint, non-touching ranges — the
    maximal runs — whatever order they came in, and merging again changes nothing."""
    merged = engine.merge(ranges)
    assert serials_of(merged) == serials_of(ranges)
    assert all(first <= last for first, last in merged)
    assert all(left[1] + 1 < right[0] for left, right in itertools.pairwise(merged))  # apart, not touching
    assert merged == runs(serials_of(ranges))
    shuffled = list(ranges)
    order.shuffle(shuffled)
    assert engine.merge(iter(shuffled)) == merged
    assert engine.merge(merged) == merged

"""The mechanism under every ledger operation: find and lock accounts, move serial ranges, write the transfer.

Double spending is stopped three times over: account rows are locked ``FOR UPDATE`` in id order (PostgreSQL;
SQLite serialises writers with ``BEGIN IMMEDIATE``), the debit is a guarded ``UPDATE … WHERE balance >= amount``,
and a CHECK constraint backs both. Serial ranges move lowest first and are re-merged where they touch, so a holding
stays a short list of ranges.

This is the hot path of every purchase, and Python, not the database, is what it waits on (bench/ledger.py): so
its statements are built once, here, as Core statements with bound parameters, and run on the session's
connection. A statement built per call costs more to construct and to key for the compiled cache than to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import BigInteger, and_, bindparam, case, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from backend.canonical import sha256_hex
from backend.ledger.errors import CorrectionRefused, IdempotencyConflict, InsufficientCredits
from backend.ledger.models import LedgerAccount, SerialRange, Transfer, TransferRange

Range = tuple[int, int]

_account = LedgerAccount.__table__
_range = SerialRange.__table__
_transfer = Transfer.__table__
_transfer_range = TransferRange.__table__


@dataclass(frozen=True)
class Account:
    """An account's identity (its balance lives in the row, read and changed only under lock)."""

    id: int
    holder: str
    batch_id: int
    kind: str

    @property
    def label(self) -> str:
        return f"{self.holder}/{self.kind}"


_ACCOUNT_COLUMNS = (_account.c.id, _account.c.holder, _account.c.batch_id, _account.c.kind)
_ACCOUNTS_OF_HOLDER = select(*_ACCOUNT_COLUMNS).where(
    _account.c.holder == bindparam("holder"), _account.c.batch_id == bindparam("batch_id"),
    _account.c.kind.in_(bindparam("kinds", expanding=True)))
_ACCOUNTS_BY_ID = select(*_ACCOUNT_COLUMNS).where(_account.c.id.in_(bindparam("ids", expanding=True)))
_LOCK = (select(_account.c.id).where(_account.c.id.in_(bindparam("ids", expanding=True)))
         .order_by(_account.c.id).with_for_update())
_NEW_ACCOUNT = {dialect: make(_account).values(
    holder=bindparam("holder"), batch_id=bindparam("batch_id"), kind=bindparam("kind"), debits_g=0, credits_g=0,
    created_at=bindparam("now")).on_conflict_do_nothing(index_elements=["holder", "batch_id", "kind"])
    .returning(*_ACCOUNT_COLUMNS)
    for dialect, make in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
_AMOUNT = bindparam("amount", type_=BigInteger)
# One UPDATE moves both balances: the destination's row always, the source's only if it holds the amount (the
# issuance account may go negative). One row changed instead of two means the source fell short.
_MOVE_BALANCES = (update(_account).where(or_(
    _account.c.id == bindparam("destination"),
    and_(_account.c.id == bindparam("source"),
         or_(_account.c.kind == "issuance", _account.c.credits_g - _account.c.debits_g >= _AMOUNT))))
    .values(debits_g=_account.c.debits_g + case((_account.c.id == bindparam("source"), _AMOUNT), else_=0),
            credits_g=_account.c.credits_g + case((_account.c.id == bindparam("destination"), _AMOUNT), else_=0)))
_BALANCE = select(_account.c.credits_g - _account.c.debits_g).where(_account.c.id == bindparam("account_id"))

_TRANSFER_BY_CLIENT_ID = select(_transfer.c.id, _transfer.c.request_hash).where(
    _transfer.c.client_id == bindparam("client_id"))
_TRANSFER_BY_ID = select(_transfer).where(_transfer.c.id == bindparam("transfer_id"))
_INSERT_TRANSFER = insert(_transfer).returning(_transfer.c.id)
_TRANSFER_COLUMNS = tuple(c.name for c in _transfer.c if c.name != "id")

_LOWEST = select(_range.c.id, _range.c.first, _range.c.last).where(
    _range.c.account_id == bindparam("account_id"), _range.c.reservation_id.is_(None),
    _range.c.first > bindparam("after")).order_by(_range.c.first).limit(64)
_SHRINK = update(_range).where(_range.c.id == bindparam("range_id")).values(first=bindparam("new_first"))
_NEED = bindparam("need", type_=BigInteger)
# The usual take: the account's lowest free range is larger than what is needed, so it shrinks from below and
# what it gave up is [first - need, first - 1] of its new first.
_SHRINK_LOWEST = (update(_range).where(
    _range.c.id == select(_range.c.id).where(_range.c.account_id == bindparam("lowest_of"),
                                             _range.c.reservation_id.is_(None))
    .order_by(_range.c.first).limit(1).scalar_subquery(),
    _range.c.last - _range.c.first + 1 > _NEED)
    .values(first=_range.c.first + _NEED).returning(_range.c.first))
_TAKE_TAGGED = (delete(_range).where(_range.c.account_id == bindparam("account_id"),
                                     _range.c.reservation_id == bindparam("tag"))
                .returning(_range.c.first, _range.c.last))
_DELETE_RANGES = delete(_range).where(_range.c.id.in_(bindparam("ids", expanding=True)))
_NEIGHBOURS = select(_range.c.id, _range.c.first, _range.c.last).where(
    _range.c.account_id == bindparam("account_id"), _range.c.reservation_id.is_(None),
    or_(_range.c.last.in_(bindparam("ends", expanding=True)), _range.c.first.in_(bindparam("starts", expanding=True))))
_CUT_CONTAINING = delete(_range).where(
    _range.c.account_id == bindparam("account_id"), _range.c.first <= bindparam("lo"), _range.c.last >= bindparam("hi")
).returning(_range.c.first, _range.c.last, _range.c.reservation_id)
_INSERT_RANGE = insert(_range)
_INSERT_TRANSFER_RANGE = insert(_transfer_range)
_TRANSFER_RANGES = (select(_transfer_range.c.first, _transfer_range.c.last)
                    .where(_transfer_range.c.transfer_id == bindparam("transfer_id")).order_by(_transfer_range.c.first))


def request_hash(operation: str, params: dict) -> str:
    return sha256_hex({"operation": operation, **params})


def replay(session: Session, client_id: str, digest: str) -> Transfer | None:
    """The transfer already made under this client id, if the request is the same; refuse a different one."""
    row = session.connection().execute(_TRANSFER_BY_CLIENT_ID, {"client_id": client_id}).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise IdempotencyConflict(
            f"client id {client_id} 已用于另一个请求 (already used for a different request)",
            details={"client_id": client_id, "transfer_id": row.id})
    return transfer_by_id(session, row.id)


def transfer_by_id(session: Session, transfer_id: int) -> Transfer | None:
    """A read-only copy of the transfer row (no ORM identity map: this is on every settlement's path)."""
    row = session.connection().execute(_TRANSFER_BY_ID, {"transfer_id": transfer_id}).first()
    return None if row is None else Transfer.model_construct(**row._mapping)


def accounts_of(session: Session, holder: str, batch_id: int, kinds: Sequence[str], *, now: datetime,
                create: Iterable[str] = ()) -> dict[str, Account]:
    """The holder's accounts of these kinds in the batch, creating the ``create`` ones if they do not exist yet."""
    params = {"holder": holder, "batch_id": batch_id, "kinds": list(kinds)}
    found = {row.kind: Account(*row) for row in session.connection().execute(_ACCOUNTS_OF_HOLDER, params)}
    missing = [kind for kind in create if kind not in found]
    return {**found, **create_accounts(session, holder, batch_id, missing, now=now)} if missing else found


def create_accounts(session: Session, holder: str, batch_id: int, kinds: Iterable[str], *,
                    now: datetime) -> dict[str, Account]:
    """Create the holder's accounts of these kinds in the batch (the caller found them missing) and return them."""
    connection = session.connection()
    statement = _NEW_ACCOUNT[connection.dialect.name]
    made, lost = {}, []
    for kind in sorted(kinds):
        row = connection.execute(statement, {"holder": holder, "batch_id": batch_id, "kind": kind, "now": now}).first()
        if row is None:  # ON CONFLICT DO NOTHING: a concurrent first buyer created it a moment ago
            lost.append(kind)
        else:
            made[kind] = Account(*row)
    if lost:
        made.update((row.kind, Account(*row)) for row in connection.execute(
            _ACCOUNTS_OF_HOLDER, {"holder": holder, "batch_id": batch_id, "kinds": lost}))
    return made


def accounts_by_id(session: Session, *ids: int) -> dict[int, Account]:
    return {row.id: Account(*row) for row in session.connection().execute(_ACCOUNTS_BY_ID, {"ids": list(ids)})}


def lock_or_replay(session: Session, client_id: str, digest: str, *accounts: Account) -> Transfer | None:
    """Lock the accounts' rows in ascending id order (so two transfers over them cannot deadlock), then look for a
    transfer already made under this client id: an earlier request's, or a concurrent retry's that committed while
    we waited — its result is ours too. The one look an operation makes: after the lock, so it is final.

    SQLite has no row locks; there the transaction has held the whole database since BEGIN IMMEDIATE.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        connection.execute(_LOCK, {"ids": sorted({account.id for account in accounts})}).all()
    return replay(session, client_id, digest)


def balance(session: Session, account: Account) -> int:
    return session.connection().execute(_BALANCE, {"account_id": account.id}).scalar_one()


def move_balances(session: Session, source: Account, destination: Account, amount_g: int) -> None:
    """Debit the source and credit the destination (both locked by the caller); InsufficientCredits if the source
    holds less than the amount, leaving the caller's unit of work to roll the credit back."""
    changed = session.connection().execute(_MOVE_BALANCES, {"source": source.id, "destination": destination.id,
                                                            "amount": amount_g}).rowcount
    if changed != 2:
        balance_g = balance(session, source)
        raise InsufficientCredits(
            f"可用碳汇不足：需要 {amount_g} 克，现有 {balance_g} 克 (insufficient credits)",
            details={"holder": source.holder, "batch_id": source.batch_id, "kind": source.kind,
                     "requested_g": amount_g, "balance_g": balance_g})


def take_lowest(session: Session, account: Account, amount_g: int, *, tag: int | None = None) -> list[Range]:
    """Remove the lowest ``amount_g`` serials from the account's ranges (with this tag) and return them.

    Two shapes cover nearly every call in one statement each: a reservation's earmarked serials are taken whole
    (any excess goes back under the earmark), and free serials come off the bottom of the lowest range when it
    is larger than the amount. Anything else walks the ranges lowest first.
    """
    connection = session.connection()
    if tag is not None:
        taken, rest = _lowest(sorted(tuple(row) for row in connection.execute(
            _TAKE_TAGGED, {"account_id": account.id, "tag": tag})), amount_g)
        if sum(last - first + 1 for first, last in taken) < amount_g:
            _short(account, amount_g)
        if rest:
            connection.execute(_INSERT_RANGE, [{"batch_id": account.batch_id, "account_id": account.id, "first": a,
                                                "last": b, "reservation_id": tag} for a, b in rest])
        return taken
    shrunk = connection.execute(_SHRINK_LOWEST, {"lowest_of": account.id, "need": amount_g}).first()
    if shrunk is not None:
        return [(shrunk.first - amount_g, shrunk.first - 1)]
    taken: list[Range] = []
    need, after = amount_g, 0
    while need > 0:
        rows = connection.execute(_LOWEST, {"account_id": account.id, "after": after}).all()
        if not rows:
            _short(account, amount_g)
        emptied = []
        for row_id, first, last in rows:
            size = last - first + 1
            if size <= need:
                taken.append((first, last))
                emptied.append(row_id)
                need -= size
            else:
                taken.append((first, first + need - 1))
                connection.execute(_SHRINK, {"range_id": row_id, "new_first": first + need})
                need = 0
            after = last
            if need == 0:
                break
        if emptied:
            connection.execute(_DELETE_RANGES, {"ids": emptied})
    return taken


def _lowest(ranges: Sequence[Range], amount_g: int) -> tuple[list[Range], list[Range]]:
    """Split sorted ranges into the lowest ``amount_g`` serials and the rest."""
    taken, rest, need = [], [], amount_g
    for first, last in ranges:
        if need <= 0:
            rest.append((first, last))
        elif last - first + 1 <= need:
            taken.append((first, last))
            need -= last - first + 1
        else:
            taken.append((first, first + need - 1))
            rest.append((first + need, last))
            need = 0
    return taken, rest


def _short(account: Account, amount_g: int) -> NoReturn:
    raise InsufficientCredits(
        f"账户序列号不足 (the account's serial ranges hold less than {amount_g} g)",
        details={"holder": account.holder, "batch_id": account.batch_id, "kind": account.kind})


def carve(session: Session, account: Account, ranges: Sequence[Range]) -> bool:
    """Remove exactly these serials from the account; False if it no longer holds them all.

    One range at a time: two ranges of a transfer may since have merged into one stored row, which must be cut
    as it is after the first cut, not as it was. On False the caller's unit of work rolls back any cut made.
    Stored ranges are disjoint, so at most one contains a range: it is deleted and what it held around the range
    put back.
    """
    connection = session.connection()
    for first, last in ranges:
        row = connection.execute(_CUT_CONTAINING, {"account_id": account.id, "lo": first, "hi": last}).first()
        if row is None:
            return False
        leftovers = [(a, b) for a, b in ((row.first, first - 1), (last + 1, row.last)) if a <= b]
        if leftovers:
            connection.execute(_INSERT_RANGE, [
                {"batch_id": account.batch_id, "account_id": account.id, "first": a, "last": b,
                 "reservation_id": row.reservation_id} for a, b in leftovers])
    return True


def merge(ranges: Iterable[Range]) -> list[Range]:
    merged: list[Range] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def place(session: Session, account: Account, ranges: Sequence[Range], *, tag: int | None = None) -> None:
    """Add serials to the account; untagged ones merge with the neighbours they touch.

    Earmarked serials (``tag``: a new reservation) have no neighbours under the same earmark to merge with.
    """
    connection = session.connection()
    pieces = merge(ranges)
    if tag is None:
        neighbours = connection.execute(_NEIGHBOURS, {"account_id": account.id,
                                                      "ends": [first - 1 for first, _ in pieces],
                                                      "starts": [last + 1 for _, last in pieces]}).all()
        if neighbours:
            connection.execute(_DELETE_RANGES, {"ids": [n.id for n in neighbours]})
            pieces = merge(list(pieces) + [(n.first, n.last) for n in neighbours])
    connection.execute(_INSERT_RANGE, [
        {"batch_id": account.batch_id, "account_id": account.id, "first": first, "last": last,
         "reservation_id": tag} for first, last in pieces])


def record(session: Session, now: datetime, *, code: str, client_id: str, digest: str, source: Account,
           destination: Account, amount_g: int, actor: str, **fields: Any) -> Transfer:
    """Insert the immutable transfer row and return a read-only copy of it (not attached to the session)."""
    values = dict.fromkeys(_TRANSFER_COLUMNS)
    values.update(client_id=client_id, request_hash=digest, code=code, batch_id=source.batch_id,
                  debit_account_id=source.id, credit_account_id=destination.id, amount_g=amount_g, actor=actor,
                  created_at=now, **fields)
    transfer_id = session.connection().execute(_INSERT_TRANSFER, values).scalar_one()
    return Transfer.model_construct(id=transfer_id, **values)


def record_ranges(session: Session, transfer: Transfer, ranges: Sequence[Range]) -> None:
    session.connection().execute(_INSERT_TRANSFER_RANGE, [
        {"transfer_id": transfer.id, "first": first, "last": last} for first, last in merge(ranges)])


def transfer_ranges(session: Session, transfer_id: int) -> list[Range]:
    return [(row.first, row.last) for row in
            session.connection().execute(_TRANSFER_RANGES, {"transfer_id": transfer_id})]


def move(session: Session, now: datetime, *, code: str, client_id: str, digest: str, source: Account,
         destination: Account, amount_g: int, actor: str, source_tag: int | None = None,
         exact: Sequence[Range] | None = None, earmark: bool = False,
         **fields: Any) -> tuple[Transfer, list[Range]]:
    """Debit, credit, move the serials and record the transfer with its ranges — all or nothing.

    The caller has locked both accounts. ``exact`` moves those serials (a correction); otherwise the lowest ones
    (under ``source_tag``) move. ``earmark`` tags the moved serials with the new transfer (a reservation).
    """
    if exact is not None and not carve(session, source, exact):
        raise CorrectionRefused("这些序列号已不在原账户中 (some of these serials have moved on since)",
                                details={"holder": source.holder, "kind": source.kind})
    move_balances(session, source, destination, amount_g)
    transfer = record(session, now, code=code, client_id=client_id, digest=digest, source=source,
                      destination=destination, amount_g=amount_g, actor=actor, **fields)
    ranges = list(exact) if exact is not None else take_lowest(session, source, amount_g, tag=source_tag)
    place(session, destination, ranges, tag=transfer.id if earmark else None)
    record_ranges(session, transfer, ranges)
    return transfer, merge(ranges)


def issue_serials(session: Session, destination: Account, first: int, last: int) -> None:
    session.connection().execute(_INSERT_RANGE, [{"batch_id": destination.batch_id, "account_id": destination.id,
                                                  "first": first, "last": last, "reservation_id": None}])

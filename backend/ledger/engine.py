"""The mechanism under every ledger operation: find and lock accounts, move serial ranges, write the transfer.

Double spending is stopped three times over: account rows are locked ``FOR UPDATE`` in id order (PostgreSQL;
SQLite serialises writers with ``BEGIN IMMEDIATE``), the debit is a guarded ``UPDATE … WHERE balance >= amount``,
and a CHECK constraint backs both. Serial ranges move lowest first and are re-merged where they touch, so a holding
stays a short list of ranges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from backend.canonical import sha256_hex
from backend.ledger.errors import CorrectionRefused, IdempotencyConflict, InsufficientCredits
from backend.ledger.models import LedgerAccount, SerialRange, Transfer, TransferRange

Range = tuple[int, int]


def request_hash(operation: str, params: dict) -> str:
    return sha256_hex({"operation": operation, **params})


def replay(session: Session, client_id: str, digest: str) -> Transfer | None:
    """The transfer already made under this client id, if the request is the same; refuse a different one."""
    existing = session.execute(select(Transfer).where(Transfer.client_id == client_id)).scalar_one_or_none()
    if existing is None:
        return None
    if existing.request_hash != digest:
        raise IdempotencyConflict(
            f"client id {client_id} 已用于另一个请求 (already used for a different request)",
            details={"client_id": client_id, "transfer_id": existing.id})
    return existing


def find_account(session: Session, holder: str, batch_id: int, kind: str) -> LedgerAccount | None:
    return session.execute(select(LedgerAccount).where(
        LedgerAccount.holder == holder, LedgerAccount.batch_id == batch_id, LedgerAccount.kind == kind)
    ).scalar_one_or_none()


def ensure_account(session: Session, holder: str, batch_id: int, kind: str, now: datetime) -> LedgerAccount:
    account = find_account(session, holder, batch_id, kind)
    if account is not None:
        return account
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(dialect_insert(LedgerAccount).values(
        holder=holder, batch_id=batch_id, kind=kind, debits_g=0, credits_g=0, created_at=now,
    ).on_conflict_do_nothing(index_elements=["holder", "batch_id", "kind"]))
    return find_account(session, holder, batch_id, kind)  # type: ignore[return-value]


def lock_accounts(session: Session, *accounts: LedgerAccount) -> None:
    """Lock the rows in ascending id order, so two transfers over the same accounts cannot deadlock."""
    ids = sorted({account.id for account in accounts})
    session.execute(select(LedgerAccount.id).where(LedgerAccount.id.in_(ids))
                    .order_by(LedgerAccount.id).with_for_update()).all()


def debit(session: Session, account: LedgerAccount, amount_g: int) -> None:
    guard = LedgerAccount.credits_g - LedgerAccount.debits_g >= amount_g
    if account.kind == "issuance":
        guard = LedgerAccount.kind == "issuance"
    result = session.execute(update(LedgerAccount).where(LedgerAccount.id == account.id, guard)
                             .values(debits_g=LedgerAccount.debits_g + amount_g)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        balance = session.execute(select(LedgerAccount.credits_g - LedgerAccount.debits_g)
                                  .where(LedgerAccount.id == account.id)).scalar_one()
        raise InsufficientCredits(
            f"可用碳汇不足：需要 {amount_g} 克，现有 {balance} 克 (insufficient credits)",
            details={"holder": account.holder, "batch_id": account.batch_id, "kind": account.kind,
                     "requested_g": amount_g, "balance_g": balance})


def credit(session: Session, account: LedgerAccount, amount_g: int) -> None:
    session.execute(update(LedgerAccount).where(LedgerAccount.id == account.id)
                    .values(credits_g=LedgerAccount.credits_g + amount_g)
                    .execution_options(synchronize_session=False))


def _tag_filter(tag: int | None):
    return SerialRange.reservation_id.is_(None) if tag is None else SerialRange.reservation_id == tag


def take_lowest(session: Session, account: LedgerAccount, amount_g: int, *, tag: int | None = None) -> list[Range]:
    """Remove the lowest ``amount_g`` serials from the account's ranges (with this tag) and return them."""
    taken: list[Range] = []
    need, after = amount_g, 0
    while need > 0:
        rows = session.execute(select(SerialRange.id, SerialRange.first, SerialRange.last)
                               .where(SerialRange.account_id == account.id, _tag_filter(tag),
                                      SerialRange.first > after)
                               .order_by(SerialRange.first).limit(64)).all()
        if not rows:
            raise InsufficientCredits(
                f"账户序列号不足 (the account's serial ranges hold less than {amount_g} g)",
                details={"holder": account.holder, "batch_id": account.batch_id, "kind": account.kind})
        emptied = []
        for row_id, first, last in rows:
            size = last - first + 1
            if size <= need:
                taken.append((first, last))
                emptied.append(row_id)
                need -= size
            else:
                taken.append((first, first + need - 1))
                session.execute(update(SerialRange).where(SerialRange.id == row_id)
                                .values(first=first + need).execution_options(synchronize_session=False))
                need = 0
            after = last
            if need == 0:
                break
        if emptied:
            session.execute(delete(SerialRange).where(SerialRange.id.in_(emptied))
                            .execution_options(synchronize_session=False))
    return taken


def carve(session: Session, account: LedgerAccount, ranges: Sequence[Range]) -> bool:
    """Remove exactly these serials from the account; False (and nothing changed) if it no longer holds them all."""
    plan = []
    for first, last in ranges:
        row = session.execute(select(SerialRange.id, SerialRange.first, SerialRange.last, SerialRange.reservation_id)
                              .where(SerialRange.account_id == account.id, SerialRange.first <= first,
                                     SerialRange.last >= last)).first()
        if row is None:
            return False
        plan.append((row, first, last))
    for (row_id, row_first, row_last, tag), first, last in plan:
        session.execute(delete(SerialRange).where(SerialRange.id == row_id)
                        .execution_options(synchronize_session=False))
        leftovers = [(row_first, first - 1), (last + 1, row_last)]
        for piece_first, piece_last in leftovers:
            if piece_first <= piece_last:
                session.execute(insert(SerialRange).values(batch_id=account.batch_id, account_id=account.id,
                                                           first=piece_first, last=piece_last,
                                                           reservation_id=tag))
    return True


def merge(ranges: Iterable[Range]) -> list[Range]:
    merged: list[Range] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def place(session: Session, account: LedgerAccount, ranges: Sequence[Range], *, tag: int | None = None) -> None:
    """Add serials to the account, merged with the neighbours they touch."""
    pieces = merge(ranges)
    touching = or_(SerialRange.last.in_([first - 1 for first, _ in pieces]),
                   SerialRange.first.in_([last + 1 for _, last in pieces]))
    neighbours = session.execute(select(SerialRange.id, SerialRange.first, SerialRange.last)
                                 .where(SerialRange.account_id == account.id, _tag_filter(tag), touching)).all()
    if neighbours:
        session.execute(delete(SerialRange).where(SerialRange.id.in_([n.id for n in neighbours]))
                        .execution_options(synchronize_session=False))
        pieces = merge(list(pieces) + [(n.first, n.last) for n in neighbours])
    session.execute(insert(SerialRange), [
        {"batch_id": account.batch_id, "account_id": account.id, "first": first, "last": last,
         "reservation_id": tag} for first, last in pieces])


def record(session: Session, now: datetime, *, code: str, client_id: str, digest: str, debit_account: LedgerAccount,
           credit_account: LedgerAccount, amount_g: int, actor: str, **fields) -> Transfer:
    transfer = Transfer(client_id=client_id, request_hash=digest, code=code, batch_id=debit_account.batch_id,
                        debit_account_id=debit_account.id, credit_account_id=credit_account.id, amount_g=amount_g,
                        actor=actor, created_at=now, **fields)
    session.add(transfer)
    session.flush()
    return transfer


def record_ranges(session: Session, transfer: Transfer, ranges: Sequence[Range]) -> None:
    session.execute(insert(TransferRange), [
        {"transfer_id": transfer.id, "first": first, "last": last} for first, last in merge(ranges)])


def transfer_ranges(session: Session, transfer_id: int) -> list[Range]:
    return [tuple(row) for row in session.execute(
        select(TransferRange.first, TransferRange.last).where(TransferRange.transfer_id == transfer_id)
        .order_by(TransferRange.first)).all()]


def move(session: Session, now: datetime, *, code: str, client_id: str, digest: str, source: LedgerAccount,
         destination: LedgerAccount, amount_g: int, actor: str, source_tag: int | None = None,
         exact: Sequence[Range] | None = None, tag_for_destination=None, **fields) -> tuple[Transfer, list[Range]]:
    """Debit, credit, move the serials and record the transfer with its ranges — all or nothing.

    ``exact`` moves those serials (a correction); otherwise the lowest ones move. ``tag_for_destination`` is a
    function of the new transfer giving the earmark for the moved serials (a reservation tags them with itself).
    """
    lock_accounts(session, source, destination)
    if exact is not None and not carve(session, source, exact):
        raise CorrectionRefused("这些序列号已不在原账户中 (some of these serials have moved on since)",
                                details={"holder": source.holder, "kind": source.kind})
    debit(session, source, amount_g)
    credit(session, destination, amount_g)
    transfer = record(session, now, code=code, client_id=client_id, digest=digest, debit_account=source,
                      credit_account=destination, amount_g=amount_g, actor=actor, **fields)
    ranges = list(exact) if exact is not None else take_lowest(session, source, amount_g, tag=source_tag)
    tag = tag_for_destination(transfer) if tag_for_destination else None
    place(session, destination, ranges, tag=tag)
    record_ranges(session, transfer, ranges)
    return transfer, merge(ranges)


def issue_serials(session: Session, destination: LedgerAccount, first: int, last: int) -> None:
    session.execute(insert(SerialRange).values(batch_id=destination.batch_id, account_id=destination.id,
                                               first=first, last=last, reservation_id=None))


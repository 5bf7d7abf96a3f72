"""Replay the ledger's history and compare it with what is stored.

The stored serial ranges are a consequence of the transfers: starting from nothing and applying every transfer's
recorded ranges in order must give exactly the holdings in ``serial_range``, and at every step the debited
account must have held the serials it gave. Each transfer code may move only between certain account kinds.
A row changed behind the ledger's back (a shifted range, a swapped holding, a rewritten transfer) breaks one of
these, and the violation says which transfer or which serials.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import select
from sqlmodel import Session

from backend.ledger.models import LedgerAccount, SerialRange, Transfer, TransferRange
from backend.ledger.violation import Violation
from backend.registry.models import Batch

# code → (debit kind, credit kind, same holder?) ; None: checked separately (a correction reverses its original)
ALLOWED_MOVES: dict[str, tuple[str, str, bool | None]] = {
    "ISSUE": ("issuance", "available", None),
    "RESERVE": ("available", "reserved", True),
    "POST": ("reserved", "available", None),
    "VOID": ("reserved", "available", True),
    "TRANSFER": ("available", "available", False),
    "RETIRE": ("available", "retired", True),
    "CANCEL": ("available", "cancelled", True),
}

Owner = tuple[int, int | None]  # (account id, reservation earmark)


class Holdings:
    """Disjoint serial intervals of one batch, each with its owner, kept sorted by first serial."""

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.spans: list[tuple[int, int, Owner]] = []

    def _overlapping(self, first: int, last: int) -> Iterator[int]:
        index = max(bisect.bisect_right(self.firsts, first) - 1, 0)
        while index < len(self.spans) and self.spans[index][0] <= last:
            if self.spans[index][1] >= first:
                yield index
            index += 1

    def owners(self, first: int, last: int) -> list[tuple[int, int, Owner]]:
        return [self.spans[i] for i in self._overlapping(first, last)]

    def covered_by(self, first: int, last: int, owner: Owner) -> bool:
        expected, covered = first, self.owners(first, last)
        for span_first, span_last, span_owner in covered:
            if span_owner != owner or span_first > expected:
                return False
            expected = span_last + 1
        return bool(covered) and expected > last

    def move(self, first: int, last: int, owner: Owner) -> None:
        """Give ``[first, last]`` to ``owner``, whoever held any of it."""
        indexes = list(self._overlapping(first, last))
        pieces = []
        for index in indexes:
            span_first, span_last, span_owner = self.spans[index]
            if span_first < first:
                pieces.append((span_first, first - 1, span_owner))
            if span_last > last:
                pieces.append((last + 1, span_last, span_owner))
        pieces.append((first, last, owner))
        if indexes:
            del self.spans[indexes[0]:indexes[-1] + 1]
            del self.firsts[indexes[0]:indexes[-1] + 1]
        for piece in pieces:
            at = bisect.bisect_left(self.firsts, piece[0])
            self.firsts.insert(at, piece[0])
            self.spans.insert(at, piece)

    def merged(self) -> list[tuple[int, int, Owner]]:
        merged: list[tuple[int, int, Owner]] = []
        for span in self.spans:
            if merged and merged[-1][2] == span[2] and merged[-1][1] + 1 == span[0]:
                merged[-1] = (merged[-1][0], span[1], span[2])
            else:
                merged.append(span)
        return merged


def _check_kinds(transfer: Transfer, accounts: dict[int, LedgerAccount], originals: dict[int, Transfer],
                 code: str) -> str | None:
    debit, credit = accounts.get(transfer.debit_account_id), accounts.get(transfer.credit_account_id)
    if debit is None or credit is None:
        return "an account it names does not exist"
    if debit.batch_id != transfer.batch_id or credit.batch_id != transfer.batch_id:
        return "its accounts belong to another batch"
    if transfer.code == "CORRECT":
        original = originals.get(transfer.corrects_id)
        if original is None or original.code not in ("TRANSFER", "RETIRE", "CANCEL", "POST"):
            return "it corrects no correctable transfer"
        if transfer.debit_account_id != original.credit_account_id:
            return f"it does not take back from the account transfer {original.id} credited"
        return None
    rule = ALLOWED_MOVES.get(code)
    if rule is None:
        return f"unknown code {code}"
    debit_kind, credit_kind, same_holder = rule
    if (debit.kind, credit.kind) != (debit_kind, credit_kind):
        return f"{code} moved {debit.kind} → {credit.kind}, it may only move {debit_kind} → {credit_kind}"
    if same_holder is not None and (debit.holder == credit.holder) != same_holder:
        return f"{code} between {debit.holder} and {credit.holder}"
    return None


def _label(accounts: dict[int, LedgerAccount], owner: Owner) -> str:
    account = accounts.get(owner[0])
    name = f"account {owner[0]} ({account.holder}/{account.kind})" if account else f"account {owner[0]}"
    return name + (f" earmarked for reservation {owner[1]}" if owner[1] else "")


def check_history(session: Session) -> list[Violation]:
    found: list[Violation] = []
    accounts = {a.id: a for a in session.execute(select(LedgerAccount)).scalars()}
    batches = {b.id: b for b in session.execute(select(Batch)).scalars()}
    transfers = {t.id: t for t in session.execute(select(Transfer).order_by(Transfer.id)).scalars()}
    ranges: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for transfer_id, first, last in session.execute(
            select(TransferRange.transfer_id, TransferRange.first, TransferRange.last)
            .order_by(TransferRange.transfer_id, TransferRange.first)):
        ranges[transfer_id].append((first, last))
    holdings: dict[int, Holdings] = defaultdict(Holdings)
    for transfer in transfers.values():
        batch = batches.get(transfer.batch_id)
        where = f"transfer {transfer.id} ({transfer.code}) of batch {batch.code if batch else transfer.batch_id}"
        problem = _check_kinds(transfer, accounts, transfers, transfer.code)
        if problem:
            found.append(Violation("history_kinds", f"{where}: {problem}"))
        source_tag = transfer.pending_id if transfer.code in ("POST", "VOID") else None
        target_tag = transfer.id if transfer.code == "RESERVE" else None
        state = holdings[transfer.batch_id]
        for first, last in ranges.get(transfer.id, []):
            if transfer.code == "ISSUE":
                if state.owners(first, last):
                    found.append(Violation("history_serials", f"{where}: issued serials {first}–{last} that "
                                           "already existed"))
            elif not state.covered_by(first, last, (transfer.debit_account_id, source_tag)):
                held = "; ".join(f"{a}–{b} by {_label(accounts, o)}" for a, b, o in state.owners(first, last))
                found.append(Violation("history_serials", f"{where}: moved serials {first}–{last} from "
                                       f"{_label(accounts, (transfer.debit_account_id, source_tag))}, which did "
                                       f"not hold them all (held: {held or 'nobody'})"))
            state.move(first, last, (transfer.credit_account_id, target_tag))
    stored: dict[int, list[tuple[int, int, Owner]]] = defaultdict(list)
    for row in session.execute(select(SerialRange).order_by(SerialRange.batch_id, SerialRange.first)).scalars():
        stored[row.batch_id].append((row.first, row.last, (row.account_id, row.reservation_id)))
    for batch_id in sorted(set(stored) | set(holdings)):
        replayed = holdings[batch_id].merged()
        actual = Holdings()
        for first, last, owner in stored[batch_id]:
            actual.move(first, last, owner)
        if replayed != actual.merged():
            code = batches[batch_id].code if batch_id in batches else batch_id
            difference = _first_difference(replayed, actual.merged(), accounts)
            found.append(Violation("history_holdings", f"batch {code}: stored holdings differ from the replayed "
                                   f"history; first difference: {difference}"))
    return found


def _first_difference(replayed, stored, accounts) -> str:
    for mine, theirs in zip(replayed, stored):
        if mine != theirs:
            return (f"the history has serials {mine[0]}–{mine[1]} held by {_label(accounts, mine[2])}, the stored "
                    f"rows have {theirs[0]}–{theirs[1]} held by {_label(accounts, theirs[2])}")
    longer, which = (replayed, "history") if len(replayed) > len(stored) else (stored, "stored rows")
    extra = longer[min(len(replayed), len(stored))]
    return f"serials {extra[0]}–{extra[1]} appear only in the {which}"

"""The ledger's invariants (DESIGN.md §3), checked from the stored rows alone.

``check(session)`` returns every violation it finds, each naming the batch, the account and, where it is about
serials, the serial. An empty list means all hold. Run after every scenario test and by ``flask ledger check``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from backend.certificates.invariants import check_certificates
from backend.ledger.audit_trail import check_audit_trail
from backend.ledger.history import check_history
from backend.ledger.models import LedgerAccount, PendingResolution, Retirement, SerialRange, Transfer, TransferRange
from backend.ledger.violation import Violation
from backend.orders.invariants import check_orders
from backend.registry.models import Batch
from backend.transparency.verify import check_log


def _accounts(session: Session) -> dict[int, LedgerAccount]:
    return {a.id: a for a in session.execute(select(LedgerAccount)).scalars()}


def _label(account: LedgerAccount | None, account_id: int) -> str:
    if account is None:
        return f"account {account_id} (missing)"
    return f"account {account.id} ({account.holder}/{account.kind})"


def check_supply(session: Session, accounts: dict[int, LedgerAccount], batches: dict[int, Batch]) -> list[Violation]:
    """Per batch: issued = available + reserved + retired + cancelled; no negative balance."""
    found = []
    held: dict[int, int] = defaultdict(int)
    issued: dict[int, int] = defaultdict(int)
    for account in accounts.values():
        if account.kind == "issuance":
            issued[account.batch_id] += -account.balance_g
            continue
        held[account.batch_id] += account.balance_g
        if account.balance_g < 0:
            found.append(Violation("non_negative", f"batch {batches[account.batch_id].code}: "
                                   f"{_label(account, account.id)} has a negative balance {account.balance_g} g"))
    for batch in batches.values():
        if issued[batch.id] != batch.quantity_g:
            found.append(Violation("issued", f"batch {batch.code}: issuance account shows {issued[batch.id]} g "
                                   f"issued, the batch says {batch.quantity_g} g"))
        if held[batch.id] != issued[batch.id]:
            found.append(Violation("supply", f"batch {batch.code}: available + reserved + retired + cancelled = "
                                   f"{held[batch.id]} g, issued = {issued[batch.id]} g"))
    return found


def check_balances_match_transfers(session: Session, accounts: dict[int, LedgerAccount]) -> list[Violation]:
    """Each account's running totals equal the sums of the transfers that touched it."""
    debits = dict(session.execute(select(Transfer.debit_account_id, func.sum(Transfer.amount_g))
                                  .group_by(Transfer.debit_account_id)).all())
    credits = dict(session.execute(select(Transfer.credit_account_id, func.sum(Transfer.amount_g))
                                   .group_by(Transfer.credit_account_id)).all())
    found = []
    for account in accounts.values():
        d, c = int(debits.get(account.id) or 0), int(credits.get(account.id) or 0)
        if (d, c) != (account.debits_g, account.credits_g):
            found.append(Violation("totals", f"{_label(account, account.id)} of batch {account.batch_id}: "
                                   f"stored debits/credits {account.debits_g}/{account.credits_g} g, "
                                   f"transfers sum to {d}/{c} g"))
    return found


def check_serials(session: Session, accounts: dict[int, LedgerAccount], batches: dict[int, Batch]) -> list[Violation]:
    """The ranges of each batch partition [1, quantity_g]; each account's ranges add up to its balance."""
    found = []
    held_by_account: dict[int, int] = defaultdict(int)
    rows = session.execute(select(SerialRange.batch_id, SerialRange.first, SerialRange.last, SerialRange.account_id)
                           .order_by(SerialRange.batch_id, SerialRange.first, SerialRange.last))
    expected_next: dict[int, int] = {}
    last_holder: dict[int, int] = {}
    for batch_id, first, last, account_id in rows:
        batch = batches.get(batch_id)
        code = batch.code if batch else f"#{batch_id}"
        account = accounts.get(account_id)
        held_by_account[account_id] += last - first + 1
        if account is None or account.batch_id != batch_id or account.kind == "issuance":
            found.append(Violation("serial_owner", f"batch {code}: serials {first}–{last} sit in "
                                   f"{_label(account, account_id)}, which cannot hold serials of this batch"))
        nxt = expected_next.get(batch_id, 1)
        if first > nxt:
            found.append(Violation("serial_gap", f"batch {code}: serials {nxt}–{first - 1} are held by no account"))
        elif first < nxt:
            other = accounts.get(last_holder[batch_id])
            found.append(Violation("serial_overlap", f"batch {code}: serial {first} is held twice, by "
                                   f"{_label(other, last_holder[batch_id])} and {_label(account, account_id)}"))
        if last + 1 > nxt:
            expected_next[batch_id] = last + 1
            last_holder[batch_id] = account_id
    for batch in batches.values():
        nxt = expected_next.get(batch.id, 1)
        if nxt <= batch.quantity_g:
            found.append(Violation("serial_gap", f"batch {batch.code}: serials {nxt}–{batch.quantity_g} are held "
                                   "by no account"))
        elif nxt > batch.quantity_g + 1:
            found.append(Violation("serial_range", f"batch {batch.code}: serials up to {nxt - 1} are held, "
                                   f"beyond the batch's {batch.quantity_g}"))
    for account in accounts.values():
        expected = 0 if account.kind == "issuance" else account.balance_g
        if held_by_account[account.id] != expected:
            found.append(Violation("serial_balance", f"{_label(account, account.id)} of batch {account.batch_id}: "
                                   f"holds {held_by_account[account.id]} serials, balance is {expected} g"))
    return found


def check_reservations(session: Session, accounts: dict[int, LedgerAccount]) -> list[Violation]:
    """Reserved serials are exactly the open reservations; a resolved one delivered or returned all it held."""
    found = []
    tagged = dict(session.execute(select(SerialRange.reservation_id, func.sum(SerialRange.last - SerialRange.first + 1))
                                  .where(SerialRange.reservation_id.is_not(None))
                                  .group_by(SerialRange.reservation_id)).all())
    for account_id, count in session.execute(
            select(SerialRange.account_id, func.count()).where(SerialRange.reservation_id.is_(None))
            .group_by(SerialRange.account_id)).all():
        account = accounts.get(account_id)
        if account is not None and account.kind == "reserved":
            found.append(Violation("escrow_untagged", f"{_label(account, account_id)} of batch {account.batch_id} "
                                   f"holds {count} serial range(s) earmarked for no reservation"))
    resolved = {r.pending_id: r for r in session.execute(select(PendingResolution)).scalars()}
    settled = dict(session.execute(select(Transfer.pending_id, func.sum(Transfer.amount_g))
                                   .where(Transfer.pending_id.is_not(None)).group_by(Transfer.pending_id)).all())
    for reservation in session.execute(select(Transfer).where(Transfer.code == "RESERVE")).scalars():
        held = int(tagged.pop(reservation.id, 0) or 0)
        if reservation.id in resolved:
            if held:
                found.append(Violation("escrow_resolved", f"reservation {reservation.id} (batch {reservation.batch_id})"
                                       f" is {resolved[reservation.id].outcome} but {held} g stay earmarked for it"))
            if int(settled.get(reservation.id) or 0) != reservation.amount_g:
                found.append(Violation("escrow_settled", f"reservation {reservation.id} (batch {reservation.batch_id}):"
                                       f" POST + VOID moved {settled.get(reservation.id) or 0} g of "
                                       f"{reservation.amount_g} g"))
        elif held != reservation.amount_g or settled.get(reservation.id):
            found.append(Violation("escrow_open", f"reservation {reservation.id} (batch {reservation.batch_id}) is "
                                   f"open for {reservation.amount_g} g but {held} g are earmarked for it"))
    for reservation_id, held in tagged.items():
        found.append(Violation("escrow_orphan", f"{held} g are earmarked for {reservation_id}, which is no "
                               "reservation"))
    return found


def check_transfer_ranges(session: Session) -> list[Violation]:
    """Every transfer's recorded serials add up to its amount; every RETIRE has exactly one retirement."""
    found = []
    sums = session.execute(
        select(Transfer.id, Transfer.batch_id, Transfer.amount_g,
               func.coalesce(func.sum(TransferRange.last - TransferRange.first + 1), 0))
        .outerjoin(TransferRange, TransferRange.transfer_id == Transfer.id)
        .group_by(Transfer.id, Transfer.batch_id, Transfer.amount_g)).all()
    for transfer_id, batch_id, amount, ranged in sums:
        if int(ranged) != amount:
            found.append(Violation("transfer_ranges", f"transfer {transfer_id} (batch {batch_id}) moved {amount} g "
                                   f"but records {ranged} serials"))
    retire_ids = set(session.execute(select(Transfer.id).where(Transfer.code == "RETIRE")).scalars())
    for retirement in session.execute(select(Retirement)).scalars():
        transfer = session.get(Transfer, retirement.transfer_id)
        if retirement.transfer_id not in retire_ids or transfer is None:
            found.append(Violation("retirement", f"retirement {retirement.id} points at transfer "
                                   f"{retirement.transfer_id}, which is no RETIRE"))
            continue
        retire_ids.discard(retirement.transfer_id)
        if (transfer.amount_g, transfer.batch_id) != (retirement.quantity_g, retirement.batch_id):
            found.append(Violation("retirement", f"retirement {retirement.id}: {retirement.quantity_g} g of batch "
                                   f"{retirement.batch_id}, its transfer moved {transfer.amount_g} g of batch "
                                   f"{transfer.batch_id}"))
    for transfer_id in sorted(retire_ids):
        found.append(Violation("retirement", f"RETIRE transfer {transfer_id} has no retirement record"))
    return found


SCENARIO_CHECKS: list = []
"""Each scenario's own invariants over its records (a restored case has its witness certificate …), registered by
the scenario when the app starts: ``check`` runs them too, so every test and ``flask ledger check`` does."""


def check(session: Session, *, now: datetime | None = None, delay_seconds: float | None = None,
          progress: Callable[[int, int], None] | None = None) -> list[Violation]:
    """Every violation; with ``now`` and ``delay_seconds`` also certificates the sequencer left out of the
    transparency log for too long. ``progress`` hears (checks done, checks in all) after each."""
    accounts = _accounts(session)
    batches = {b.id: b for b in session.execute(select(Batch)).scalars()}
    steps = [lambda: check_supply(session, accounts, batches),
             lambda: check_balances_match_transfers(session, accounts),
             lambda: check_serials(session, accounts, batches),
             lambda: check_reservations(session, accounts),
             lambda: check_transfer_ranges(session),
             lambda: check_history(session),
             lambda: check_audit_trail(session),
             lambda: check_certificates(session),
             lambda: check_orders(session),
             lambda: check_log(session, now=now, delay_seconds=delay_seconds),
             *[(lambda scenario_check=scenario_check: scenario_check(session)) for scenario_check in SCENARIO_CHECKS]]
    found: list[Violation] = []
    for number, step in enumerate(steps, start=1):
        found += step()
        if progress is not None:
            progress(number, len(steps))
    return found

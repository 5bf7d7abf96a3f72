"""Read-side views of the ledger: balances, batch supply, transfers with their serials, who holds a serial."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, select
from sqlmodel import Session

from backend.certificates.models import Certificate
from backend.clock import isoformat_utc
from backend.errors import NotFound
from backend.ledger.engine import transfer_ranges
from backend.ledger.models import (
    PLATFORM_HOLDER,
    LedgerAccount,
    PendingResolution,
    Retirement,
    SerialRange,
    Transfer,
    TransferRange,
)
from backend.privacy.models import BeneficiaryName


def batch_supply(session: Session, batch_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per batch: grams available to buy (the platform inventory), and totals by account kind."""
    ids = list(batch_ids)
    supply: dict[int, dict[str, int]] = defaultdict(lambda: {"available_g": 0, "reserved_g": 0, "retired_g": 0,
                                                            "cancelled_g": 0, "held_g": 0})
    if not ids:
        return {}
    for account in session.execute(select(LedgerAccount).where(LedgerAccount.batch_id.in_(ids))).scalars():
        totals = supply[account.batch_id]
        if account.kind == "available":
            if account.holder == PLATFORM_HOLDER:
                totals["available_g"] += account.balance_g
            else:
                totals["held_g"] += account.balance_g
        elif account.kind != "issuance":
            totals[f"{account.kind}_g"] += account.balance_g
    return {batch_id: supply[batch_id] for batch_id in ids}



def serial_map(batch_id: int, *, holder: str | None = None, kind: str | None = None) -> Select:
    """Who holds which serials of a batch: its ranges, each with the account holding it, as rows
    ``(SerialRange, holder, kind)`` for the caller to order and page (``ix_serial_range_batch_first`` serves
    the serial order)."""
    statement = (select(SerialRange, LedgerAccount.holder, LedgerAccount.kind)
                 .join(LedgerAccount, LedgerAccount.id == SerialRange.account_id)
                 .where(SerialRange.batch_id == batch_id))
    if holder is not None:
        statement = statement.where(LedgerAccount.holder == holder)
    if kind is not None:
        statement = statement.where(LedgerAccount.kind == kind)
    return statement


def serial_totals(session: Session, batch_id: int, *, holder: str | None = None,
                  kind: str | None = None) -> dict[str, dict[str, int]]:
    """Grams and ranges by account kind over the serial map (the same filters): for a whole batch the grams add
    up to its quantity, since the ranges partition ``[1, quantity_g]``."""
    ranges = serial_map(batch_id, holder=holder, kind=kind).subquery()
    grams = func.sum(ranges.c.last - ranges.c.first + 1)
    return {found_kind: {"grams": int(total), "ranges": count} for found_kind, total, count in session.execute(
        select(ranges.c.kind, grams, func.count()).group_by(ranges.c.kind))}

def account_view(account: LedgerAccount) -> dict[str, Any]:
    return {"id": account.id, "holder": account.holder, "batch_id": account.batch_id, "kind": account.kind,
            "balance_g": account.balance_g, "debits_g": account.debits_g, "credits_g": account.credits_g}


def balances(session: Session, *, holder: str | None = None, batch_id: int | None = None) -> list[dict[str, Any]]:
    statement = select(LedgerAccount).where(LedgerAccount.kind != "issuance")
    if holder is not None:
        statement = statement.where(LedgerAccount.holder == holder)
    if batch_id is not None:
        statement = statement.where(LedgerAccount.batch_id == batch_id)
    return [account_view(a) for a in session.execute(statement.order_by(LedgerAccount.id)).scalars()]


def transfer_views(session: Session, transfers: list[Transfer]) -> list[dict[str, Any]]:
    """Transfers with their accounts, serials and (for a reservation) status, in four queries however many."""
    ids = [t.id for t in transfers]
    account_ids = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
    accounts = {a.id: a for a in session.execute(
        select(LedgerAccount).where(LedgerAccount.id.in_(account_ids))).scalars()}
    ranges: dict[int, list[list[int]]] = defaultdict(list)
    for transfer_id, first, last in session.execute(
            select(TransferRange.transfer_id, TransferRange.first, TransferRange.last)
            .where(TransferRange.transfer_id.in_(ids)).order_by(TransferRange.first)):
        ranges[transfer_id].append([first, last])
    outcomes = dict(session.execute(select(PendingResolution.pending_id, PendingResolution.outcome)
                                    .where(PendingResolution.pending_id.in_(ids))).all())
    views = []
    for transfer in transfers:
        debit, credit = accounts[transfer.debit_account_id], accounts[transfer.credit_account_id]
        view: dict[str, Any] = {
            "id": transfer.id, "client_id": transfer.client_id, "code": transfer.code,
            "batch_id": transfer.batch_id, "amount_g": transfer.amount_g,
            "from": {"holder": debit.holder, "kind": debit.kind}, "to": {"holder": credit.holder, "kind": credit.kind},
            "ranges": ranges[transfer.id], "actor": transfer.actor, "created_at": isoformat_utc(transfer.created_at),
        }
        for name in ("pending_id", "counterparty", "corrects_id", "reason"):
            if getattr(transfer, name) is not None:
                view[name] = getattr(transfer, name)
        if transfer.expires_at is not None:
            view["expires_at"] = isoformat_utc(transfer.expires_at)
        if transfer.code == "RESERVE":
            view["status"] = outcomes.get(transfer.id, "pending")
        views.append(view)
    return views


def transfer_view(session: Session, transfer: Transfer) -> dict[str, Any]:
    return transfer_views(session, [transfer])[0]


def recent_transfers(session: Session, *, batch_id: int | None = None, before_id: int | None = None,
                     limit: int = 100) -> list[dict[str, Any]]:
    """Newest first; ``before_id`` pages back."""
    statement = select(Transfer).order_by(Transfer.id.desc()).limit(limit)
    if batch_id:
        statement = statement.where(Transfer.batch_id == batch_id)
    if before_id:
        statement = statement.where(Transfer.id < before_id)
    return transfer_views(session, list(session.execute(statement).scalars()))


def retirement_view(session: Session, retirement: Retirement, *, public: bool = False) -> dict[str, Any]:
    corrected = session.execute(select(Transfer.id).where(Transfer.corrects_id == retirement.transfer_id)).first()
    view = {"id": retirement.id, "transfer_id": retirement.transfer_id, "batch_id": retirement.batch_id,
            "quantity_g": retirement.quantity_g, "purpose": retirement.purpose, "purpose_ref": retirement.purpose_ref,
            "beneficiary_masked": retirement.beneficiary_masked,
            "ranges": [list(r) for r in transfer_ranges(session, retirement.transfer_id)],
            "retired_at": isoformat_utc(retirement.retired_at),
            "status": "reversed" if corrected else "retired",
            "certificate_no": session.execute(select(Certificate.number).where(
                Certificate.retirement_id == retirement.id)).scalar_one_or_none()}
    if not public:
        view["holder"] = retirement.holder
        # The full name, unless erased (then None: the masked name is all that is left of it).
        view["beneficiary_name"] = session.execute(select(BeneficiaryName.full_name).where(
            BeneficiaryName.retirement_id == retirement.id)).scalar_one_or_none()
    return view


def serial_holder(session: Session, batch_id: int, serial: int, *, public: bool = False) -> dict[str, Any]:
    """Who holds serial ``serial`` of the batch now; for a retired serial, the retirement that claims it."""
    row = session.execute(select(SerialRange).where(SerialRange.batch_id == batch_id, SerialRange.first <= serial,
                                                    SerialRange.last >= serial)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"序列号 {serial} 不在此批次中 (no such serial in this batch)",
                       details={"batch_id": batch_id, "serial": serial})
    account = session.get(LedgerAccount, row.account_id)
    found: dict[str, Any] = {"batch_id": batch_id, "serial": serial, "kind": account.kind,
                             "range": [row.first, row.last]}
    if not public:
        found["holder"] = account.holder
    if account.kind == "retired":
        retirement = session.execute(
            select(Retirement).join(Transfer, Transfer.id == Retirement.transfer_id)
            .join(TransferRange, TransferRange.transfer_id == Transfer.id)
            .where(Transfer.credit_account_id == account.id, TransferRange.first <= serial,
                   TransferRange.last >= serial)
            .order_by(Transfer.id.desc()).limit(1)).scalar_one_or_none()
        if retirement is not None:  # absent only if history was tampered with; `ledger check` names that
            found["retirement"] = retirement_view(session, retirement, public=public)
    return found

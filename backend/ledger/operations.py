"""Ledger operations: ISSUE, RESERVE, POST, VOID, TRANSFER, RETIRE, CANCEL, CORRECT (DESIGN.md §3).

Each takes an explicit session and the current time, is idempotent by ``client_id`` (same request → the first
result; different request → ``IdempotencyConflict``), writes one immutable transfer (a partial POST writes a
second, for the remainder), and appends one audit event. Nothing commits here: the caller's unit of work does.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import select
from sqlmodel import Session

from backend import audit
from backend.clock import as_utc
from backend.ledger import engine
from backend.ledger.errors import (
    CorrectionRefused,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    ReservationExpired,
    ReservationResolved,
)
from backend.ledger.holders import check_holder, mask_name
from backend.ledger.models import (
    REGISTRY_HOLDER,
    RETIREMENT_PURPOSES,
    LedgerAccount,
    PendingResolution,
    Retirement,
    Transfer,
)
from backend.registry.models import Batch

MAX_AMOUNT_G = 10**15  # one billion tonnes: far above any batch, far below BIGINT
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
CORRECTABLE = ("TRANSFER", "RETIRE", "CANCEL", "POST")


def check_amount(amount_g: Any, field: str = "amount_g") -> int:
    if isinstance(amount_g, bool) or not isinstance(amount_g, int):
        raise InvalidInput(field, "应为整数克数 (must be an integer number of grams)")
    if amount_g <= 0:
        raise InvalidInput(field, "应为正数 (must be positive)")
    if amount_g > MAX_AMOUNT_G:
        raise InvalidInput(field, f"不能超过 {MAX_AMOUNT_G} 克 (must not exceed {MAX_AMOUNT_G} g)")
    return amount_g


def check_client_id(client_id: Any, field: str = "client_id") -> str:
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.match(client_id):
        raise InvalidInput(field, "应为 1–64 位字母、数字或 ._:- (1–64 letters, digits or ._:-)")
    return client_id


def get_batch(session: Session, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFound(f"批次 {batch_id} 不存在 (unknown batch)", details={"batch_id": batch_id})
    return batch


def _account_label(session: Session, account_id: int) -> str:
    account = session.get(LedgerAccount, account_id)
    return f"{account.holder}/{account.kind}"


def _audit(session: Session, now: datetime, transfer: Transfer, ranges: list[engine.Range], actor: str,
           **extra: Any) -> None:
    after = {"code": transfer.code, "batch_id": transfer.batch_id, "amount_g": transfer.amount_g,
             "from": _account_label(session, transfer.debit_account_id),
             "to": _account_label(session, transfer.credit_account_id),
             "ranges": [list(r) for r in ranges], "client_id": transfer.client_id, **extra}
    audit.append(session, now, actor=actor, action=f"ledger.{transfer.code.lower()}", object_type="transfer",
                 object_id=transfer.id, after=after)


def issue(session: Session, now: datetime, *, client_id: str, batch: Batch, to_holder: str, actor: str,
          request: dict[str, Any]) -> Transfer:
    """Bring a whole batch into being: serials ``[1, quantity_g]`` into ``to_holder``'s available account.

    ``request`` is what the caller was asked to do (the batch's creation request): its hash makes replays of the
    creation idempotent; see ``issue_digest``.
    """
    check_client_id(client_id)
    check_holder(to_holder, "to_holder")
    digest = issue_digest(request)
    source = engine.ensure_account(session, REGISTRY_HOLDER, batch.id, "issuance", now)
    destination = engine.ensure_account(session, to_holder, batch.id, "available", now)
    engine.lock_accounts(session, source, destination)
    if source.debits_g:
        raise InvalidInput("batch_id", "批次已签发 (batch already issued)", code="already_issued")
    engine.debit(session, source, batch.quantity_g)
    engine.credit(session, destination, batch.quantity_g)
    transfer = engine.record(session, now, code="ISSUE", client_id=client_id, digest=digest, debit_account=source,
                             credit_account=destination, amount_g=batch.quantity_g, actor=actor)
    engine.issue_serials(session, destination, 1, batch.quantity_g)
    engine.record_ranges(session, transfer, [(1, batch.quantity_g)])
    _audit(session, now, transfer, [(1, batch.quantity_g)], actor, batch_code=batch.code)
    return transfer


def issue_digest(request: dict[str, Any]) -> str:
    return engine.request_hash("issue", request)


def reserve(session: Session, now: datetime, *, client_id: str, batch_id: int, from_holder: str, to_holder: str,
            amount_g: int, ttl_seconds: int, actor: str) -> Transfer:
    """Earmark the lowest available serials of ``from_holder`` for ``to_holder`` until ``now + ttl``."""
    check_client_id(client_id)
    check_holder(from_holder, "from_holder")
    check_holder(to_holder, "to_holder")
    check_amount(amount_g)
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or not 1 <= ttl_seconds <= 7 * 86400:
        raise InvalidInput("ttl_seconds", "应为 1–604800 秒 (must be 1 to 604800 seconds)")
    digest = engine.request_hash("reserve", {"batch_id": batch_id, "from_holder": from_holder,
                                             "to_holder": to_holder, "amount_g": amount_g,
                                             "ttl_seconds": ttl_seconds, "actor": actor})
    if (done := engine.replay(session, client_id, digest)) is not None:
        return done
    get_batch(session, batch_id)
    source = engine.find_account(session, from_holder, batch_id, "available")
    if source is None:
        _no_credits(from_holder, batch_id, amount_g)
    escrow = engine.ensure_account(session, from_holder, batch_id, "reserved", now)
    transfer, ranges = engine.move(session, now, code="RESERVE", client_id=client_id, digest=digest, source=source,
                                   destination=escrow, amount_g=amount_g, actor=actor, counterparty=to_holder,
                                   expires_at=now + timedelta(seconds=ttl_seconds),
                                   tag_for_destination=lambda t: t.id)
    _audit(session, now, transfer, ranges, actor, counterparty=to_holder,
           expires_at=as_utc(transfer.expires_at).isoformat())
    return transfer


def _no_credits(holder: str, batch_id: int, amount_g: int) -> NoReturn:
    raise InsufficientCredits(f"可用碳汇不足：需要 {amount_g} 克，现有 0 克 (insufficient credits)",
                              details={"holder": holder, "batch_id": batch_id, "kind": "available",
                                       "requested_g": amount_g, "balance_g": 0})


def _open_reservation(session: Session, reservation_id: int) -> Transfer:
    reservation = session.get(Transfer, reservation_id)
    if reservation is None or reservation.code != "RESERVE":
        raise NotFound(f"预留 {reservation_id} 不存在 (unknown reservation)",
                       details={"reservation_id": reservation_id})
    return reservation


def _refuse_if_resolved(session: Session, reservation: Transfer) -> None:
    resolution = session.get(PendingResolution, reservation.id, populate_existing=True)
    if resolution is not None:
        raise ReservationResolved(f"预留 {reservation.id} 已{_OUTCOME_ZH[resolution.outcome]} "
                                  f"(reservation already {resolution.outcome})",
                                  details={"reservation_id": reservation.id, "outcome": resolution.outcome,
                                           "transfer_id": resolution.transfer_id})


_OUTCOME_ZH = {"posted": "完成", "voided": "撤销", "expired": "过期"}


def post(session: Session, now: datetime, *, client_id: str, reservation_id: int, actor: str,
         amount_g: int | None = None) -> Transfer:
    """Deliver all or part of a reservation to its counterparty; any remainder goes back to the source."""
    check_client_id(client_id)
    if amount_g is not None:
        check_amount(amount_g)
    digest = engine.request_hash("post", {"reservation_id": reservation_id, "amount_g": amount_g, "actor": actor})
    if (done := engine.replay(session, client_id, digest)) is not None:
        return done
    reservation = _open_reservation(session, reservation_id)
    escrow = session.get(LedgerAccount, reservation.credit_account_id)
    source = session.get(LedgerAccount, reservation.debit_account_id)
    destination = engine.ensure_account(session, reservation.counterparty, reservation.batch_id, "available", now)
    engine.lock_accounts(session, escrow, source, destination)
    _refuse_if_resolved(session, reservation)
    if as_utc(reservation.expires_at) <= now:
        raise ReservationExpired(f"预留 {reservation.id} 已过期 (reservation expired)",
                                 details={"reservation_id": reservation.id,
                                          "expires_at": as_utc(reservation.expires_at).isoformat()})
    amount = reservation.amount_g if amount_g is None else amount_g
    if amount > reservation.amount_g:
        raise InvalidInput("amount_g", f"不能超过预留数量 {reservation.amount_g} 克 (exceeds the reservation)")
    transfer, ranges = engine.move(session, now, code="POST", client_id=client_id, digest=digest, source=escrow,
                                   destination=destination, amount_g=amount, actor=actor, source_tag=reservation.id,
                                   pending_id=reservation.id)
    if amount < reservation.amount_g:
        remainder, back = engine.move(session, now, code="VOID", client_id=f"{client_id}#remainder", digest=digest,
                                      source=escrow, destination=source, amount_g=reservation.amount_g - amount,
                                      actor=actor, source_tag=reservation.id, pending_id=reservation.id,
                                      reason="partial post remainder")
        _audit(session, now, remainder, back, actor, pending_id=reservation.id)
    session.add(PendingResolution(pending_id=reservation.id, outcome="posted", transfer_id=transfer.id,
                                  resolved_at=now))
    _audit(session, now, transfer, ranges, actor, pending_id=reservation.id)
    return transfer


def void(session: Session, now: datetime, *, client_id: str, reservation_id: int, actor: str,
         expired: bool = False) -> Transfer:
    """Release a reservation: its serials go back to the source's available account."""
    check_client_id(client_id)
    digest = engine.request_hash("void", {"reservation_id": reservation_id, "expired": expired, "actor": actor})
    if (done := engine.replay(session, client_id, digest)) is not None:
        return done
    reservation = _open_reservation(session, reservation_id)
    escrow = session.get(LedgerAccount, reservation.credit_account_id)
    source = session.get(LedgerAccount, reservation.debit_account_id)
    engine.lock_accounts(session, escrow, source)
    _refuse_if_resolved(session, reservation)
    if expired and as_utc(reservation.expires_at) > now:
        raise InvalidInput("reservation_id", "预留尚未过期 (reservation has not expired yet)")
    transfer, ranges = engine.move(session, now, code="VOID", client_id=client_id, digest=digest, source=escrow,
                                   destination=source, amount_g=reservation.amount_g, actor=actor,
                                   source_tag=reservation.id, pending_id=reservation.id,
                                   reason="expired" if expired else "voided")
    outcome = "expired" if expired else "voided"
    session.add(PendingResolution(pending_id=reservation.id, outcome=outcome, transfer_id=transfer.id,
                                  resolved_at=now))
    _audit(session, now, transfer, ranges, actor, pending_id=reservation.id, outcome=outcome)
    return transfer


def expired_reservations(session: Session, now: datetime, *, limit: int = 500) -> list[int]:
    """Reservations past their expiry that nothing has resolved yet, oldest first."""
    return list(session.execute(
        select(Transfer.id).outerjoin(PendingResolution, PendingResolution.pending_id == Transfer.id)
        .where(Transfer.code == "RESERVE", Transfer.expires_at <= now, PendingResolution.pending_id.is_(None))
        .order_by(Transfer.expires_at, Transfer.id).limit(limit)).scalars())


def _holder_move(session: Session, now: datetime, *, operation: str, code: str, client_id: str, batch_id: int,
                 from_holder: str, to_holder: str, to_kind: str, amount_g: int, actor: str,
                 params: dict[str, Any], reason: str | None = None) -> tuple[Transfer, list[engine.Range], bool]:
    digest = engine.request_hash(operation, {"batch_id": batch_id, "from_holder": from_holder, "to_holder": to_holder,
                                             "amount_g": amount_g, "actor": actor, **params})
    if (done := engine.replay(session, client_id, digest)) is not None:
        return done, engine.transfer_ranges(session, done.id), True
    get_batch(session, batch_id)
    source = engine.find_account(session, from_holder, batch_id, "available")
    if source is None:
        _no_credits(from_holder, batch_id, amount_g)
    destination = engine.ensure_account(session, to_holder, batch_id, to_kind, now)
    transfer, ranges = engine.move(session, now, code=code, client_id=client_id, digest=digest, source=source,
                                   destination=destination, amount_g=amount_g, actor=actor, reason=reason)
    return transfer, ranges, False


def transfer(session: Session, now: datetime, *, client_id: str, batch_id: int, from_holder: str, to_holder: str,
             amount_g: int, actor: str) -> Transfer:
    """Move available credits from one holder to another."""
    check_client_id(client_id)
    check_holder(from_holder, "from_holder")
    check_holder(to_holder, "to_holder")
    check_amount(amount_g)
    if from_holder == to_holder:
        raise InvalidInput("to_holder", "不能转给自己 (cannot transfer to the same holder)")
    moved, ranges, replayed = _holder_move(session, now, operation="transfer", code="TRANSFER", client_id=client_id,
                                           batch_id=batch_id, from_holder=from_holder, to_holder=to_holder,
                                           to_kind="available", amount_g=amount_g, actor=actor, params={})
    if not replayed:
        _audit(session, now, moved, ranges, actor)
    return moved


def retire(session: Session, now: datetime, *, client_id: str, batch_id: int, holder: str, amount_g: int,
           purpose: str, beneficiary_name: str, actor: str, purpose_ref: str | None = None) -> Retirement:
    """Retire the holder's lowest available serials for a purpose, on behalf of a beneficiary. Permanent."""
    check_client_id(client_id)
    check_holder(holder)
    check_amount(amount_g)
    if purpose not in RETIREMENT_PURPOSES:
        raise InvalidInput("purpose", f"应为 {', '.join(RETIREMENT_PURPOSES)} 之一 (unknown purpose)")
    beneficiary_name = " ".join(str(beneficiary_name or "").split())
    if not 1 <= len(beneficiary_name) <= 200:
        raise InvalidInput("beneficiary_name", "应为 1–200 个字符 (1 to 200 characters)")
    if purpose_ref is not None and not 1 <= len(purpose_ref) <= 200:
        raise InvalidInput("purpose_ref", "应为 1–200 个字符 (1 to 200 characters)")
    params = {"purpose": purpose, "purpose_ref": purpose_ref, "beneficiary_name": beneficiary_name}
    moved, ranges, replayed = _holder_move(session, now, operation="retire", code="RETIRE", client_id=client_id,
                                           batch_id=batch_id, from_holder=holder, to_holder=holder,
                                           to_kind="retired", amount_g=amount_g, actor=actor, params=params)
    if replayed:
        return session.execute(select(Retirement).where(Retirement.transfer_id == moved.id)).scalar_one()
    retirement = Retirement(transfer_id=moved.id, holder=holder, batch_id=batch_id, quantity_g=amount_g,
                            purpose=purpose, purpose_ref=purpose_ref, beneficiary_name=beneficiary_name,
                            beneficiary_masked=mask_name(beneficiary_name), retired_at=now)
    session.add(retirement)
    session.flush()
    _audit(session, now, moved, ranges, actor, retirement_id=retirement.id, purpose=purpose,
           purpose_ref=purpose_ref, beneficiary_masked=retirement.beneficiary_masked)
    return retirement


def cancel(session: Session, now: datetime, *, client_id: str, batch_id: int, holder: str, amount_g: int,
           reason: str, actor: str) -> Transfer:
    """Take available credits out of circulation for good (invalidated, moved to another registry …)."""
    check_client_id(client_id)
    check_holder(holder)
    check_amount(amount_g)
    if not reason or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason", "必须说明原因，不超过 500 字 (a reason of at most 500 characters is required)")
    moved, ranges, replayed = _holder_move(session, now, operation="cancel", code="CANCEL", client_id=client_id,
                                           batch_id=batch_id, from_holder=holder, to_holder=holder,
                                           to_kind="cancelled", amount_g=amount_g, actor=actor,
                                           params={"reason": reason}, reason=reason)
    if not replayed:
        _audit(session, now, moved, ranges, actor, reason=reason)
    return moved


def correct(session: Session, now: datetime, *, client_id: str, transfer_id: int, reason: str,
            actor: str) -> Transfer:
    """Reverse a TRANSFER, RETIRE, CANCEL or POST exactly: the same serials go back where they came from.

    History is never edited; the correction is a new transfer pointing at the one it reverses. It is refused if
    any of those serials has moved on since (correct the later transfer first).
    """
    check_client_id(client_id)
    if not reason or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason", "必须说明原因，不超过 500 字 (a reason of at most 500 characters is required)")
    digest = engine.request_hash("correct", {"transfer_id": transfer_id, "reason": reason, "actor": actor})
    if (done := engine.replay(session, client_id, digest)) is not None:
        return done
    original = session.get(Transfer, transfer_id)
    if original is None:
        raise NotFound(f"转移 {transfer_id} 不存在 (unknown transfer)", details={"transfer_id": transfer_id})
    if original.code not in CORRECTABLE:
        raise CorrectionRefused(f"{original.code} 不能更正 (only {', '.join(CORRECTABLE)} can be corrected)",
                                details={"transfer_id": transfer_id, "code": original.code})
    if session.execute(select(Transfer.id).where(Transfer.corrects_id == transfer_id)).first():
        raise CorrectionRefused(f"转移 {transfer_id} 已更正 (already corrected)", details={"transfer_id": transfer_id})
    holder_of = session.get(LedgerAccount, original.credit_account_id)
    if original.code == "POST":  # back to the seller's available account, not into escrow
        back_to = session.get(LedgerAccount, session.get(Transfer, original.pending_id).debit_account_id)
    else:
        back_to = session.get(LedgerAccount, original.debit_account_id)
    moved, ranges = engine.move(session, now, code="CORRECT", client_id=client_id, digest=digest, source=holder_of,
                                destination=back_to, amount_g=original.amount_g, actor=actor,
                                exact=engine.transfer_ranges(session, original.id), corrects_id=original.id,
                                reason=reason)
    _audit(session, now, moved, ranges, actor, corrects_id=original.id, reason=reason)
    return moved

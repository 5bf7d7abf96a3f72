"""Ledger operations: ISSUE, RESERVE, POST, VOID, TRANSFER, RETIRE, CANCEL, CORRECT (DESIGN.md §3).

Each takes an explicit session and the current time, is idempotent by ``client_id`` (same request → the first
result; different request → ``IdempotencyConflict``), writes one immutable transfer (a partial POST writes a
second, for the remainder), and writes one audit event. Nothing commits here: the caller's unit of work does.

Locks: an operation locks the accounts it moves credits between, in ascending id order, and nothing global — the
audit event is written unsealed and the certificate queued for the log (``backend.sequencer`` chains both after
commit), so two purchases of different batches never wait for each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn, Protocol

from sqlalchemy import and_, bindparam, insert, select
from sqlmodel import Session

from backend import audit
from backend.clock import as_utc
from backend.ledger import engine
from backend.ledger.engine import Account
from backend.ledger.errors import (
    CorrectionRefused,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    ProjectNotRegistered,
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
    TransferRange,
)
from backend.registry.models import Batch, Project

MAX_AMOUNT_G = 10**15  # one billion tonnes: far above any batch, far below BIGINT
MAX_TTL_SECONDS = 7 * 86400
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
CORRECTABLE = ("TRANSFER", "RETIRE", "CANCEL", "POST")
# (session, now, retirement, its serial ranges) -> the certificate (anything with .number and .payload_sha256)
class Certify(Protocol):
    """What retire needs of the certificate machinery (backend.certificates.service.Certifier)."""

    def __call__(self, session: Session, now: datetime, retirement: Retirement, ranges: Sequence[tuple[int, int]],
                 beneficiary_name: str) -> Any: ...

    def fingerprint(self, name: str) -> str: ...
_OUTCOME_ZH = {"posted": "完成", "voided": "撤销", "expired": "过期"}

_resolution = PendingResolution.__table__
_retirement = Retirement.__table__
_RESOLUTION_OF = select(_resolution.c.outcome, _resolution.c.transfer_id).where(
    _resolution.c.pending_id == bindparam("pending_id"))
_INSERT_RESOLUTION = insert(_resolution)
_INSERT_RETIREMENT = insert(_retirement).returning(_retirement.c.id)
_account, _batch, _project = LedgerAccount.__table__, Batch.__table__, Project.__table__
_transfer, _transfer_range = Transfer.__table__, TransferRange.__table__
_ACCOUNT = (_account.c.id, _account.c.holder, _account.c.batch_id, _account.c.kind)
# A holder's accounts of some kinds in a batch, with the batch's project state: no row, no batch; one row with no
# account, none of those kinds yet.
_HOLDER_IN_BATCH = (select(_project.c.state, _project.c.id.label("project_id"), *_ACCOUNT)
                    .select_from(_batch.join(_project, _project.c.id == _batch.c.project_id).outerjoin(
                        _account, and_(_account.c.batch_id == _batch.c.id, _account.c.holder == bindparam("holder"),
                                       _account.c.kind.in_(bindparam("kinds", expanding=True)))))
                    .where(_batch.c.id == bindparam("batch_id")))
_debited, _credited = _account.alias("debited"), _account.alias("credited")
# A transfer with the accounts it debited and credited (a reservation: its source and its escrow).
_TRANSFER_WITH_ACCOUNTS = (select(_transfer, *(c.label(f"debited_{c.name}") for c in _debited.c
                                               if c.name in ("id", "holder", "batch_id", "kind")),
                                  *(c.label(f"credited_{c.name}") for c in _credited.c
                                    if c.name in ("id", "holder", "batch_id", "kind")))
                           .join(_debited, _debited.c.id == _transfer.c.debit_account_id)
                           .join(_credited, _credited.c.id == _transfer.c.credit_account_id)
                           .where(_transfer.c.id == bindparam("transfer_id")))
_OPEN_UNTIL = (select(_transfer.c.expires_at)
               .outerjoin(_resolution, _resolution.c.pending_id == _transfer.c.id)
               .where(_transfer.c.id == bindparam("reservation_id"), _transfer.c.code == "RESERVE",
                      _resolution.c.pending_id.is_(None)))
# A transfer's amount, the account it credited and its serials, in one look.
_CREDITED_SERIALS = (select(_transfer.c.batch_id, _transfer.c.amount_g,
                            *(c.label(f"credited_{c.name}") for c in _credited.c
                              if c.name in ("id", "holder", "batch_id", "kind")),
                            _transfer_range.c.first, _transfer_range.c.last)
                     .select_from(_transfer.join(_credited, _credited.c.id == _transfer.c.credit_account_id)
                                  .outerjoin(_transfer_range, _transfer_range.c.transfer_id == _transfer.c.id))
                     .where(_transfer.c.id == bindparam("transfer_id")).order_by(_transfer_range.c.first))


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


def _check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason", "必须说明原因，不超过 500 字 (a reason of at most 500 characters is required)")
    return reason


def get_batch(session: Session, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFound(f"批次 {batch_id} 不存在 (unknown batch)", details={"batch_id": batch_id})
    return batch


def _no_source(holder: str, batch_id: int, amount_g: int) -> NoReturn:
    """The holder has no available account in the batch: no credits of it, ever."""
    raise InsufficientCredits(f"可用碳汇不足：需要 {amount_g} 克，现有 0 克 (insufficient credits)",
                              details={"holder": holder, "batch_id": batch_id, "kind": "available",
                                       "requested_g": amount_g, "balance_g": 0})


@contextmanager
def _reused_key_named(session: Session, client_id: str, digest: str) -> Iterator[None]:
    """Around what an operation looks up before its lock: a refusal there (no such batch, no credits, no such
    reservation) may be a client id reused for another request, which is answered as that (IdempotencyConflict),
    as it was when operations looked for their client id first. Only on refusal: the usual path pays nothing."""
    try:
        yield
    except (NotFound, InsufficientCredits):
        engine.replay(session, client_id, digest)  # raises IdempotencyConflict for a key used by another request
        raise


@dataclass(frozen=True)
class _Project:
    id: int
    state: str


def _holder_accounts(session: Session, holder: str, batch_id: int, kinds: Sequence[str]
                     ) -> tuple[dict[str, Account], _Project]:
    """The holder's accounts of these kinds in the batch and the batch's project, in one look-up; NotFound for an
    unknown batch."""
    rows = session.connection().execute(_HOLDER_IN_BATCH, {"holder": holder, "batch_id": batch_id,
                                                           "kinds": list(kinds)}).all()
    if not rows:
        raise NotFound(f"批次 {batch_id} 不存在 (unknown batch)", details={"batch_id": batch_id})
    accounts = {row.kind: Account(row.id, row.holder, row.batch_id, row.kind) for row in rows if row.id is not None}
    return accounts, _Project(rows[0].project_id, rows[0].state)


def _require_registered(batch_id: int, project: _Project) -> None:
    """Credits of a suspended project may not be sold, given or claimed until it is reinstated.

    Voids, posts of reservations made before, cancellations and corrections stay open: they settle or undo.
    """
    if project.state != "registered":
        raise ProjectNotRegistered(f"项目状态为 {project.state}，其碳汇暂不能交易或注销 (project is {project.state})",
                                   details={"batch_id": batch_id, "project_id": project.id, "state": project.state})


def _account_of(row: Any, prefix: str) -> Account:
    return Account(*(getattr(row, f"{prefix}_{name}") for name in ("id", "holder", "batch_id", "kind")))


def _audit(session: Session, now: datetime, transfer: Transfer, source: Account, destination: Account,
           ranges: list[engine.Range], actor: str, **extra: Any) -> None:
    after = {"code": transfer.code, "batch_id": transfer.batch_id, "amount_g": transfer.amount_g,
             "from": source.label, "to": destination.label, "ranges": [list(r) for r in ranges],
             "client_id": transfer.client_id, **extra}
    audit.append(session, now, actor=actor, action=f"ledger.{transfer.code.lower()}", object_type="transfer",
                 object_id=transfer.id, after=after)


def issue_digest(request: dict[str, Any]) -> str:
    return engine.request_hash("issue", request)


def issue(session: Session, now: datetime, *, client_id: str, batch: Batch, to_holder: str, actor: str,
          request: dict[str, Any]) -> Transfer:
    """Bring a whole batch into being: serials ``[1, quantity_g]`` into ``to_holder``'s available account.

    ``request`` is what the caller was asked to do (the batch's creation request): its hash makes replays of the
    creation idempotent; see ``issue_digest``.
    """
    check_client_id(client_id)
    check_holder(to_holder, "to_holder")
    digest = issue_digest(request)
    if (done := engine.replay(session, client_id, digest)) is not None:
        return done
    source = engine.accounts_of(session, REGISTRY_HOLDER, batch.id, ("issuance",), now=now, create=("issuance",))
    destination = engine.accounts_of(session, to_holder, batch.id, ("available",), now=now, create=("available",))
    source, destination = source["issuance"], destination["available"]
    if (done := engine.lock_or_replay(session, client_id, digest, source, destination)) is not None:
        return done
    if engine.balance(session, source):
        raise InvalidInput("batch_id", "批次已签发 (batch already issued)", code="already_issued")
    engine.move_balances(session, source, destination, batch.quantity_g)
    transfer = engine.record(session, now, code="ISSUE", client_id=client_id, digest=digest, source=source,
                             destination=destination, amount_g=batch.quantity_g, actor=actor)
    engine.issue_serials(session, destination, 1, batch.quantity_g)
    engine.record_ranges(session, transfer, [(1, batch.quantity_g)])
    _audit(session, now, transfer, source, destination, [(1, batch.quantity_g)], actor, batch_code=batch.code)
    return transfer


def reserve(session: Session, now: datetime, *, client_id: str, batch_id: int, from_holder: str, to_holder: str,
            amount_g: int, ttl_seconds: int, actor: str) -> Transfer:
    """Earmark the lowest available serials of ``from_holder`` for ``to_holder`` until ``now + ttl``."""
    check_client_id(client_id)
    check_holder(from_holder, "from_holder")
    check_holder(to_holder, "to_holder")
    check_amount(amount_g)
    if from_holder == to_holder:
        raise InvalidInput("to_holder", "不能为自己预留 (a reservation is for another holder)")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput("ttl_seconds", "应为 1–604800 秒 (must be 1 to 604800 seconds)")
    digest = engine.request_hash("reserve", {"batch_id": batch_id, "from_holder": from_holder,
                                             "to_holder": to_holder, "amount_g": amount_g,
                                             "ttl_seconds": ttl_seconds, "actor": actor})
    with _reused_key_named(session, client_id, digest):
        accounts, project = _holder_accounts(session, from_holder, batch_id, ("available", "reserved"))
        if "available" not in accounts:
            _no_source(from_holder, batch_id, amount_g)
    if "reserved" not in accounts:
        accounts.update(engine.create_accounts(session, from_holder, batch_id, ("reserved",), now=now))
    source, escrow = accounts["available"], accounts["reserved"]
    if (done := engine.lock_or_replay(session, client_id, digest, source, escrow)) is not None:
        return done
    _require_registered(batch_id, project)
    transfer, ranges = engine.move(session, now, code="RESERVE", client_id=client_id, digest=digest, source=source,
                                   destination=escrow, amount_g=amount_g, actor=actor, counterparty=to_holder,
                                   expires_at=now + timedelta(seconds=ttl_seconds), earmark=True)
    _audit(session, now, transfer, source, escrow, ranges, actor, counterparty=to_holder,
           expires_at=as_utc(transfer.expires_at).isoformat())
    return transfer


def _open_reservation(session: Session, reservation_id: int) -> tuple[Transfer, Account, Account]:
    """The reservation with its source (the seller's available account) and its escrow, in one look-up."""
    row = session.connection().execute(_TRANSFER_WITH_ACCOUNTS, {"transfer_id": reservation_id}).first()
    if row is None or row.code != "RESERVE":
        raise NotFound(f"预留 {reservation_id} 不存在 (unknown reservation)",
                       details={"reservation_id": reservation_id})
    reservation = Transfer.model_construct(**{column.name: row._mapping[column.name] for column in _transfer.c})
    return reservation, _account_of(row, "debited"), _account_of(row, "credited")


def open_until(session: Session, reservation_id: int) -> datetime | None:
    """When a reservation lapses, if nothing has resolved it yet; None once posted, voided or expired."""
    row = session.connection().execute(_OPEN_UNTIL, {"reservation_id": reservation_id}).first()
    return None if row is None else as_utc(row.expires_at)


def _refuse_if_resolved(session: Session, reservation: Transfer) -> None:
    """Run under the escrow lock, so of two racing resolutions the second sees the first."""
    resolution = session.connection().execute(_RESOLUTION_OF, {"pending_id": reservation.id}).first()
    if resolution is not None:
        raise ReservationResolved(f"预留 {reservation.id} 已{_OUTCOME_ZH[resolution.outcome]} "
                                  f"(reservation already {resolution.outcome})",
                                  details={"reservation_id": reservation.id, "outcome": resolution.outcome,
                                           "transfer_id": resolution.transfer_id})


def _resolve(session: Session, now: datetime, reservation: Transfer, outcome: str, transfer: Transfer) -> None:
    # The primary key on pending_id is the backstop: a second resolution cannot be written.
    session.connection().execute(_INSERT_RESOLUTION, {"pending_id": reservation.id, "outcome": outcome,
                                                      "transfer_id": transfer.id, "resolved_at": now})


def post(session: Session, now: datetime, *, client_id: str, reservation_id: int, actor: str,
         amount_g: int | None = None) -> Transfer:
    """Deliver all or part of a reservation to its counterparty; any remainder goes back to the source."""
    check_client_id(client_id)
    if amount_g is not None:
        check_amount(amount_g)
    reservation, source, escrow = _open_reservation(session, reservation_id)
    amount = reservation.amount_g if amount_g is None else amount_g
    # Hash the amount posted, so "all of it" and the same amount spelled out are one request.
    digest = engine.request_hash("post", {"reservation_id": reservation_id, "amount_g": amount, "actor": actor})
    destination = engine.accounts_of(session, reservation.counterparty, reservation.batch_id, ("available",),
                                     now=now, create=("available",))["available"]
    partial = amount < reservation.amount_g
    # The source (the seller's inventory, the hottest row) is locked only when a remainder goes back to it.
    if (done := engine.lock_or_replay(session, client_id, digest, escrow, destination,
                                      *((source,) if partial else ()))) is not None:
        return done
    _refuse_if_resolved(session, reservation)
    if as_utc(reservation.expires_at) <= now:
        raise ReservationExpired(f"预留 {reservation.id} 已过期 (reservation expired)",
                                 details={"reservation_id": reservation.id,
                                          "expires_at": as_utc(reservation.expires_at).isoformat()})
    if amount > reservation.amount_g:
        raise InvalidInput("amount_g", f"不能超过预留数量 {reservation.amount_g} 克 (exceeds the reservation)")
    transfer, ranges = engine.move(session, now, code="POST", client_id=client_id, digest=digest, source=escrow,
                                   destination=destination, amount_g=amount, actor=actor, source_tag=reservation.id,
                                   pending_id=reservation.id)
    if partial:
        remainder, back = engine.move(session, now, code="VOID", client_id=f"{client_id}#remainder", digest=digest,
                                      source=escrow, destination=source, amount_g=reservation.amount_g - amount,
                                      actor=actor, source_tag=reservation.id, pending_id=reservation.id,
                                      reason="partial post remainder")
        _audit(session, now, remainder, escrow, source, back, actor, pending_id=reservation.id)
    _resolve(session, now, reservation, "posted", transfer)
    _audit(session, now, transfer, escrow, destination, ranges, actor, pending_id=reservation.id)
    return transfer


def void(session: Session, now: datetime, *, client_id: str, reservation_id: int, actor: str,
         expired: bool = False) -> Transfer:
    """Release a reservation: its serials go back to the source's available account."""
    check_client_id(client_id)
    digest = engine.request_hash("void", {"reservation_id": reservation_id, "expired": expired, "actor": actor})
    with _reused_key_named(session, client_id, digest):
        reservation, source, escrow = _open_reservation(session, reservation_id)
    if (done := engine.lock_or_replay(session, client_id, digest, escrow, source)) is not None:
        return done
    _refuse_if_resolved(session, reservation)
    if expired and as_utc(reservation.expires_at) > now:
        raise InvalidInput("reservation_id", "预留尚未过期 (reservation has not expired yet)")
    outcome = "expired" if expired else "voided"
    transfer, ranges = engine.move(session, now, code="VOID", client_id=client_id, digest=digest, source=escrow,
                                   destination=source, amount_g=reservation.amount_g, actor=actor,
                                   source_tag=reservation.id, pending_id=reservation.id, reason=outcome)
    _resolve(session, now, reservation, outcome, transfer)
    _audit(session, now, transfer, escrow, source, ranges, actor, pending_id=reservation.id, outcome=outcome)
    return transfer


def expired_reservations(session: Session, now: datetime, *, limit: int = 500,
                         excluding_prefix: str | None = None) -> list[int]:
    """Reservations past their expiry that nothing has resolved yet, oldest first.

    ``excluding_prefix`` leaves out reservations whose client id starts with it (an order's reservation is
    released by the order sweeper, which closes the WeChat order first).
    """
    statement = (select(Transfer.id).outerjoin(PendingResolution, PendingResolution.pending_id == Transfer.id)
                 .where(Transfer.code == "RESERVE", Transfer.expires_at <= now,
                        PendingResolution.pending_id.is_(None)))
    if excluding_prefix:
        statement = statement.where(~Transfer.client_id.startswith(excluding_prefix, autoescape=True))
    return list(session.execute(statement.order_by(Transfer.expires_at, Transfer.id).limit(limit)).scalars())


def _holder_move(session: Session, now: datetime, *, operation: str, code: str, client_id: str, batch_id: int,
                 from_holder: str, to_holder: str, to_kind: str, amount_g: int, actor: str,
                 params: dict[str, Any], reason: str | None = None, exact: Sequence[engine.Range] | None = None,
                 source: Account | None = None) -> tuple[Transfer, Account | None, Account | None, list[engine.Range]]:
    """Move available credits of ``from_holder`` into ``to_holder``'s ``to_kind`` account.

    The lowest serials move, or exactly the ``exact`` ones (InsufficientCredits if the holder's available account
    no longer holds them all). ``source``, if the caller has it, is the holder's available account. Returns the
    transfer, both accounts and the serials; on a replay the accounts are None.
    """
    digest = engine.request_hash(operation, {"batch_id": batch_id, "from_holder": from_holder, "to_holder": to_holder,
                                             "amount_g": amount_g, "actor": actor, **params})
    with _reused_key_named(session, client_id, digest):
        if from_holder == to_holder:  # retire, cancel: both accounts in one look-up
            kinds = (to_kind,) if source is not None else ("available", to_kind)
            accounts, project = _holder_accounts(session, from_holder, batch_id, kinds)
            source = source or accounts.get("available") or _no_source(from_holder, batch_id, amount_g)
            if to_kind not in accounts:
                accounts.update(engine.create_accounts(session, from_holder, batch_id, (to_kind,), now=now))
            destination = accounts[to_kind]
        else:
            found, project = _holder_accounts(session, from_holder, batch_id, ("available",))
            source = found.get("available") or _no_source(from_holder, batch_id, amount_g)
            destination = engine.accounts_of(session, to_holder, batch_id, (to_kind,), now=now,
                                             create=(to_kind,))[to_kind]
    if (done := engine.lock_or_replay(session, client_id, digest, source, destination)) is not None:
        return done, None, None, engine.transfer_ranges(session, done.id)
    if code in ("TRANSFER", "RETIRE"):
        _require_registered(batch_id, project)
    try:
        transfer, ranges = engine.move(session, now, code=code, client_id=client_id, digest=digest, source=source,
                                       destination=destination, amount_g=amount_g, actor=actor, reason=reason,
                                       exact=exact)
    except CorrectionRefused as error:  # the engine words a failed carve for corrections; this is no correction
        raise InsufficientCredits("这些序列号已不在可用账户中 (some of these serials are no longer available)",
                                  details={"holder": from_holder, "batch_id": batch_id, "kind": "available",
                                           "requested_g": amount_g}) from error
    return transfer, source, destination, ranges


def transfer(session: Session, now: datetime, *, client_id: str, batch_id: int, from_holder: str, to_holder: str,
             amount_g: int, actor: str) -> Transfer:
    """Move available credits from one holder to another."""
    check_client_id(client_id)
    check_holder(from_holder, "from_holder")
    check_holder(to_holder, "to_holder")
    check_amount(amount_g)
    if from_holder == to_holder:
        raise InvalidInput("to_holder", "不能转给自己 (cannot transfer to the same holder)")
    moved, source, destination, ranges = _holder_move(
        session, now, operation="transfer", code="TRANSFER", client_id=client_id, batch_id=batch_id,
        from_holder=from_holder, to_holder=to_holder, to_kind="available", amount_g=amount_g, actor=actor, params={})
    if source is not None:
        _audit(session, now, moved, source, destination, ranges, actor)
    return moved


def _serials_of(session: Session, transfer_id: Any, *, holder: str, batch_id: int, amount_g: int
                ) -> tuple[Account, list[engine.Range]]:
    """The holder's available account and the serials a transfer brought into it, all of which are to be retired."""
    if isinstance(transfer_id, bool) or not isinstance(transfer_id, int) or not 1 <= transfer_id < 2**63:  # BIGINT
        raise InvalidInput("serials_of", "应为转移编号 (must be a transfer id)")
    rows = session.connection().execute(_CREDITED_SERIALS, {"transfer_id": transfer_id}).all()
    if not rows:
        raise InvalidInput("serials_of", f"转移 {transfer_id} 不存在 (unknown transfer)")
    moved, credited = rows[0], _account_of(rows[0], "credited")
    if moved.batch_id != batch_id:
        raise InvalidInput("serials_of", f"转移 {transfer_id} 属于另一批次 (the transfer is of another batch)")
    if (credited.holder, credited.kind) != (holder, "available"):
        raise InvalidInput("serials_of", f"转移 {transfer_id} 未转入 {holder} 的可用账户 "
                                         "(the transfer did not credit this holder's available account)")
    if moved.amount_g != amount_g:
        raise InvalidInput("amount_g", f"应等于转移 {transfer_id} 的数量 {moved.amount_g} 克 "
                                       "(must equal the amount of the transfer named by serials_of)")
    return credited, [(row.first, row.last) for row in rows]


def retire(session: Session, now: datetime, *, client_id: str, batch_id: int, holder: str, amount_g: int,
           purpose: str, beneficiary_name: str, actor: str, certify: Certify,
           purpose_ref: str | None = None, serials_of: int | None = None) -> Retirement:
    """Retire the holder's lowest available serials for a purpose, on behalf of a beneficiary. Permanent.

    ``serials_of`` (a transfer id) retires exactly the serials that transfer brought into the holder's available
    account instead, all of them (``amount_g`` is its amount): an order retires the credits it bought, not ones
    the buyer kept from an earlier order. InsufficientCredits if any of them has moved on since.

    ``certify(session, now, retirement, ranges, beneficiary_name)`` makes the retirement's certificate in this
    same transaction (``backend.certificates.service.certifier``) and returns it; no retirement exists without one.
    The full name goes only there (erasable, backend.privacy); the retirement keeps its masked form, and the
    request's idempotency hash a keyed fingerprint of it.
    """
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
    params = {"purpose": purpose, "purpose_ref": purpose_ref, "beneficiary": certify.fingerprint(beneficiary_name)}
    source = exact = None
    if serials_of is not None:
        source, exact = _serials_of(session, serials_of, holder=holder, batch_id=batch_id, amount_g=amount_g)
        params["serials_of"] = serials_of  # only when given: a lowest-first retirement keeps the hash it had
    moved, source, destination, ranges = _holder_move(
        session, now, operation="retire", code="RETIRE", client_id=client_id, batch_id=batch_id, from_holder=holder,
        to_holder=holder, to_kind="retired", amount_g=amount_g, actor=actor, params=params, exact=exact,
        source=source)
    if source is None:
        return session.execute(select(Retirement).where(Retirement.transfer_id == moved.id)).scalar_one()
    values = dict(transfer_id=moved.id, holder=holder, batch_id=batch_id, quantity_g=amount_g, purpose=purpose,
                  purpose_ref=purpose_ref, beneficiary_masked=mask_name(beneficiary_name), retired_at=now)
    retirement_id = session.connection().execute(_INSERT_RETIREMENT, values).scalar_one()
    retirement = Retirement.model_construct(id=retirement_id, **values)  # a read-only copy of the row
    certificate = certify(session, now, retirement, ranges, beneficiary_name)
    _audit(session, now, moved, source, destination, ranges, actor, retirement_id=retirement.id, purpose=purpose,
           purpose_ref=purpose_ref, beneficiary_masked=retirement.beneficiary_masked,
           certificate=certificate.number, payload_sha256=certificate.payload_sha256,
           **({} if serials_of is None else {"serials_of": serials_of}))
    return retirement


def cancel(session: Session, now: datetime, *, client_id: str, batch_id: int, holder: str, amount_g: int,
           reason: str, actor: str) -> Transfer:
    """Take available credits out of circulation for good (invalidated, moved to another registry …)."""
    check_client_id(client_id)
    check_holder(holder)
    check_amount(amount_g)
    _check_reason(reason)
    moved, source, destination, ranges = _holder_move(
        session, now, operation="cancel", code="CANCEL", client_id=client_id, batch_id=batch_id, from_holder=holder,
        to_holder=holder, to_kind="cancelled", amount_g=amount_g, actor=actor, params={"reason": reason},
        reason=reason)
    if source is not None:
        _audit(session, now, moved, source, destination, ranges, actor, reason=reason)
    return moved


def correct(session: Session, now: datetime, *, client_id: str, transfer_id: int, reason: str,
            actor: str) -> Transfer:
    """Reverse a TRANSFER, RETIRE, CANCEL or POST exactly: the same serials go back where they came from.

    History is never edited; the correction is a new transfer pointing at the one it reverses. It is refused if
    any of those serials has moved on since (correct the later transfer first).
    """
    check_client_id(client_id)
    _check_reason(reason)
    digest = engine.request_hash("correct", {"transfer_id": transfer_id, "reason": reason, "actor": actor})
    if (done := engine.replay(session, client_id, digest)) is not None:
        return done
    original = session.get(Transfer, transfer_id)
    if original is None:
        raise NotFound(f"转移 {transfer_id} 不存在 (unknown transfer)", details={"transfer_id": transfer_id})
    if original.code not in CORRECTABLE:
        raise CorrectionRefused(f"{original.code} 不能更正 (only {', '.join(CORRECTABLE)} can be corrected)",
                                details={"transfer_id": transfer_id, "code": original.code})
    # A POST goes back to the seller's available account, not into escrow.
    back_to_id = (session.get(Transfer, original.pending_id).debit_account_id if original.code == "POST"
                  else original.debit_account_id)
    known = engine.accounts_by_id(session, original.credit_account_id, back_to_id)
    holder_of, back_to = known[original.credit_account_id], known[back_to_id]
    if holder_of.id == back_to.id:  # nothing would move; the CHECK constraint would refuse it as a 500
        raise CorrectionRefused("更正前后为同一账户 (the correction would move nothing)",
                                details={"transfer_id": transfer_id})
    if (done := engine.lock_or_replay(session, client_id, digest, holder_of, back_to)) is not None:
        return done
    if session.execute(select(Transfer.id).where(Transfer.corrects_id == transfer_id)).first():
        raise CorrectionRefused(f"转移 {transfer_id} 已更正 (already corrected)", details={"transfer_id": transfer_id})
    moved, ranges = engine.move(session, now, code="CORRECT", client_id=client_id, digest=digest, source=holder_of,
                                destination=back_to, amount_g=original.amount_g, actor=actor,
                                exact=engine.transfer_ranges(session, original.id), corrects_id=original.id,
                                reason=reason)
    _audit(session, now, moved, holder_of, back_to, ranges, actor, corrects_id=original.id, reason=reason)
    return moved

"""Every transfer agrees with its audit event.

The audit chain is tamper-evident on its own (``audit verify``); this ties the ledger's rows to it. Each
transfer was written together with one ``ledger.<code>`` event recording its amount, accounts, serials and, for a
retirement, its purpose and masked beneficiary. A transfer, its ranges or its retirement changed afterwards no
longer matches the chained event; a transfer without an event was made outside the ledger's code.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlmodel import Session

from backend.audit.models import AuditEvent
from backend.ledger.models import LedgerAccount, Retirement, Transfer, TransferRange
from backend.ledger.violation import Violation


def check_audit_trail(session: Session) -> list[Violation]:
    found: list[Violation] = []
    events = {event.object_id: event.after or {} for event in session.execute(
        select(AuditEvent).where(AuditEvent.object_type == "transfer", AuditEvent.action.startswith("ledger.")))
        .scalars()}
    accounts = {a.id: f"{a.holder}/{a.kind}" for a in session.execute(select(LedgerAccount)).scalars()}
    ranges: dict[int, list[list[int]]] = defaultdict(list)
    for transfer_id, first, last in session.execute(
            select(TransferRange.transfer_id, TransferRange.first, TransferRange.last)
            .order_by(TransferRange.transfer_id, TransferRange.first)):
        ranges[transfer_id].append([first, last])
    retirements = {r.transfer_id: r for r in session.execute(select(Retirement)).scalars()}
    for transfer in session.execute(select(Transfer).order_by(Transfer.id)).scalars():
        recorded = events.get(str(transfer.id))
        where = f"transfer {transfer.id} ({transfer.code}) of batch {transfer.batch_id}"
        if recorded is None:
            found.append(Violation("audit_trail", f"{where} has no audit event"))
            continue
        stored = {"code": transfer.code, "amount_g": transfer.amount_g, "client_id": transfer.client_id,
                  "from": accounts.get(transfer.debit_account_id), "to": accounts.get(transfer.credit_account_id),
                  "ranges": ranges.get(transfer.id, [])}
        retirement = retirements.get(transfer.id)
        if retirement is not None:
            stored.update(retirement_id=retirement.id, purpose=retirement.purpose,
                          purpose_ref=retirement.purpose_ref, beneficiary_masked=retirement.beneficiary_masked)
        differing = sorted(key for key, value in stored.items() if recorded.get(key) != value)
        if differing:
            found.append(Violation("audit_trail", f"{where} no longer matches its audit event in: "
                                   + ", ".join(differing)))
    return found

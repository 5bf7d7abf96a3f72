"""Every retirement has exactly one certificate, which states what the retirement is and what the audit chain
recorded when both were made, and one beneficiary record that, unless erased, opens the certificate's commitment
to the name. A document (no retirement of its own) states its digest, kind and number truly."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlmodel import Session

from backend.audit.models import AuditEvent
from backend.canonical import canonical_json
from backend.certificates.models import Certificate
from backend.certificates.service import commitment
from backend.ledger.engine import transfer_ranges
from backend.ledger.models import Retirement
from backend.ledger.violation import Violation
from backend.privacy.models import BeneficiaryName


def check_certificates(session: Session) -> list[Violation]:
    found: list[Violation] = []
    certificates, documents = {}, []
    for certificate in session.execute(select(Certificate)).scalars():
        if certificate.retirement_id is None:
            documents.append(certificate)
        else:
            certificates[certificate.retirement_id] = certificate
    for document in documents:  # what a document vouches for is the scenario's to check (its own invariants)
        payload = document.payload or {}
        if hashlib.sha256(canonical_json(payload)).hexdigest() != document.payload_sha256:
            found.append(Violation("certificate", f"document {document.number}: payload does not match its SHA-256"))
        # Its kind and number are what the verify page and the signature (n, k) go by.
        if (payload.get("kind"), payload.get("number")) != (document.kind, document.number):
            found.append(Violation("certificate", f"document {document.number} ({document.kind}): its payload "
                                   f"names {payload.get('kind')} {payload.get('number')}"))
    retirements = {r.id: r for r in session.execute(select(Retirement)).scalars()}
    names = {n.retirement_id: n for n in session.execute(select(BeneficiaryName)).scalars()}
    recorded = {event.object_id: event.after or {} for event in session.execute(
        select(AuditEvent).where(AuditEvent.action == "ledger.retire")).scalars()}
    for retirement_id in sorted(set(certificates) - set(retirements)):
        found.append(Violation("certificate", f"certificate {certificates[retirement_id].number} belongs to "
                               f"retirement {retirement_id}, which does not exist"))
    for retirement in retirements.values():
        certificate = certificates.get(retirement.id)
        if certificate is None:
            found.append(Violation("certificate", f"retirement {retirement.id} (batch {retirement.batch_id}) has "
                                   "no certificate"))
            continue
        where = f"certificate {certificate.number} (retirement {retirement.id})"
        payload = certificate.payload or {}
        if hashlib.sha256(canonical_json(payload)).hexdigest() != certificate.payload_sha256:
            found.append(Violation("certificate", f"{where}: payload does not match its SHA-256"))
        states = {"quantity_g": retirement.quantity_g, "purpose": retirement.purpose,
                  "purpose_ref": retirement.purpose_ref,
                  "serials": [list(r) for r in transfer_ranges(session, retirement.transfer_id)]}
        wrong = sorted(key for key, value in states.items() if payload.get(key) != value)
        if (payload.get("beneficiary") or {}).get("masked") != retirement.beneficiary_masked:
            wrong.append("beneficiary")
        if wrong:
            found.append(Violation("certificate", f"{where} disagrees with the retirement on: {', '.join(wrong)}"))
        name = names.get(retirement.id)
        if name is None:
            found.append(Violation("certificate", f"{where} has no beneficiary record"))
        elif not (name.full_name is None) == (name.salt is None) == (name.erased_at is not None):
            found.append(Violation("certificate", f"{where}: beneficiary record half erased"))
        elif name.full_name is not None and commitment(name.salt, name.full_name) != (
                payload.get("beneficiary") or {}).get("commitment"):
            found.append(Violation("certificate", f"{where}: the kept name and salt do not open its commitment"))
        event = recorded.get(str(retirement.transfer_id), {})
        if (event.get("certificate"), event.get("payload_sha256")) != (certificate.number,
                                                                        certificate.payload_sha256):
            found.append(Violation("certificate", f"{where} is not the one the audit chain recorded"))
    return found

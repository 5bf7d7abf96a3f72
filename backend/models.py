"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from backend.audit.models import AuditEvent, AuditHead
from backend.certificates.models import Certificate, CertificateCounter
from backend.ledger.models import LedgerAccount, PendingResolution, Retirement, SerialRange, Transfer, TransferRange
from backend.registry.models import Batch, Methodology, Organisation, Project, ProjectDecision

__all__ = ["AuditEvent", "AuditHead", "Batch", "Certificate", "CertificateCounter", "LedgerAccount", "Methodology",
           "Organisation", "PendingResolution", "Project", "ProjectDecision", "Retirement", "SerialRange", "Transfer",
           "TransferRange"]

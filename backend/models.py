"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from backend.accounts.models import MiniUser
from backend.audit.models import AuditEvent, AuditHead
from backend.certificates.models import Certificate, CertificateCounter, CertificateRevocation
from backend.footprint.models import FactorSetRecord, FootprintCalculation
from backend.ledger.models import LedgerAccount, PendingResolution, Retirement, SerialRange, Transfer, TransferRange
from backend.orders.models import Order, PaymentNotification
from backend.personal.models import SavedFootprint
from backend.registry.models import Batch, Methodology, Organisation, Project, ProjectDecision
from backend.shop.models import Listing
from backend.transparency.models import LogEntry, LogHead, LogNode, TreeHead

__all__ = ["AuditEvent", "AuditHead", "Batch", "Certificate", "CertificateCounter", "CertificateRevocation",
           "FactorSetRecord", "FootprintCalculation", "LedgerAccount", "Listing", "LogEntry", "LogHead", "LogNode",
           "Methodology", "MiniUser", "Order", "Organisation", "PaymentNotification", "PendingResolution", "Project",
           "ProjectDecision", "Retirement", "SavedFootprint", "SerialRange", "TransferRange", "Transfer", "TreeHead"]

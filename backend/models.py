"""Every table, imported in one place so the metadata (and Alembic) sees them all: the core's here, and the
extensions' (``<extension>.models``, e.g. scenarios.models) by name, so that backend imports none of them."""

import importlib
import importlib.util

from backend.accounts.models import MiniUser
from backend.audit.models import AuditEvent, AuditHead
from backend.certificates.models import Certificate, CertificateRevocation
from backend.footprint.models import FactorSetRecord, FootprintCalculation
from backend.ledger.models import LedgerAccount, PendingResolution, Retirement, SerialRange, Transfer, TransferRange
from backend.orders.models import Order, PaymentNotification
from backend.personal.models import SavedFootprint
from backend.privacy.models import BeneficiaryName
from backend.registry.models import Batch, Methodology, Organisation, OrganisationDecision, Project, ProjectDecision
from backend.shop.models import Listing
from backend.staff.models import ApiToken, Invitation, Membership, StaffAccount
from backend.transparency.models import LogEntry, LogHead, LogNode, LogPending, TreeHead

__all__ = ["ApiToken", "AuditEvent", "AuditHead", "Batch", "BeneficiaryName", "Certificate",
           "CertificateRevocation", "FactorSetRecord", "FootprintCalculation", "Invitation", "LedgerAccount", "Listing",
           "LogEntry", "LogHead", "LogNode", "LogPending",
           "Membership", "Methodology", "MiniUser", "Order", "Organisation",
           "OrganisationDecision", "PaymentNotification", "PendingResolution", "Project", "ProjectDecision",
           "Retirement", "SavedFootprint", "SerialRange", "StaffAccount", "TransferRange", "Transfer", "TreeHead"]


DEFAULT_EXTENSIONS = ("admin", "miniprogram_api", "scenarios")


def import_extension_models(names=DEFAULT_EXTENSIONS) -> None:
    """Put the extensions' tables on the metadata too (migrations, tests): each ``<name>.models`` that exists."""
    for name in names:
        if importlib.util.find_spec(name) is not None and importlib.util.find_spec(f"{name}.models") is not None:
            importlib.import_module(f"{name}.models")

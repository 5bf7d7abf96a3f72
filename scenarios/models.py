"""Every scenario's tables, for the metadata (backend.models.import_extension_models)."""

from scenarios.events.models import Event, EventPurchase
from scenarios.judicial.models import CaseDecision, CasePayer, CasePurchase, JudicialCase

__all__ = ["CaseDecision", "CasePayer", "CasePurchase", "Event", "EventPurchase", "JudicialCase"]

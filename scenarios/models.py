"""Every scenario's tables, for the metadata (backend.models.import_extension_models)."""

from scenarios.events.models import Event, EventPurchase
from scenarios.judicial.models import CaseDecision, CasePayer, CasePurchase, JudicialCase
from scenarios.tourism.models import PerkOffer, PerkVoucher, Site, SiteOffset
from scenarios.tree_duty.models import (DutyMember, DutyPayment, DutyRoster, DutyRosterEntry, DutyRule,
                                        DutyVoucher)

__all__ = ["CaseDecision", "CasePayer", "CasePurchase", "DutyMember", "DutyPayment", "DutyRoster", "DutyRosterEntry",
           "DutyRule", "DutyVoucher", "Event", "EventPurchase", "JudicialCase", "PerkOffer", "PerkVoucher",
           "Site", "SiteOffset"]

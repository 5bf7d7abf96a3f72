"""Ledger refusals, each with its own code (cf. TigerBeetle's result codes)."""

from backend.errors import Conflict, IdempotencyConflict, InsufficientCredits, InvalidInput, NotFound


class ReservationResolved(Conflict):
    code = "reservation_resolved"


class ReservationExpired(Conflict):
    code = "reservation_expired"


class CorrectionRefused(Conflict):
    code = "correction_refused"


class ProjectNotRegistered(Conflict):
    """The batch's project is suspended (or otherwise not registered): its credits may not change hands."""

    code = "project_not_registered"


__all__ = ["Conflict", "CorrectionRefused", "IdempotencyConflict", "InsufficientCredits", "InvalidInput",
           "NotFound", "ProjectNotRegistered", "ReservationExpired", "ReservationResolved"]

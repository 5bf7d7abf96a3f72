"""Ledger refusals, each with its own code (cf. TigerBeetle's result codes)."""

from backend.errors import Conflict, IdempotencyConflict, InsufficientCredits, InvalidInput, NotFound


class ReservationResolved(Conflict):
    code = "reservation_resolved"


class ReservationExpired(Conflict):
    code = "reservation_expired"


class CorrectionRefused(Conflict):
    code = "correction_refused"


__all__ = ["Conflict", "CorrectionRefused", "IdempotencyConflict", "InsufficientCredits", "InvalidInput",
           "NotFound", "ReservationExpired", "ReservationResolved"]

"""Hash-chained audit log of every state change (DESIGN.md §3)."""

from backend.audit.log import append, event_view, recent, seal, unsealed, verify

__all__ = ["append", "event_view", "recent", "seal", "unsealed", "verify"]

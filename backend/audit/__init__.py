"""Hash-chained audit log of every state change (DESIGN.md §3)."""

from backend.audit.log import append, append_changes, event_view, recent, seal, unsealed, verify

__all__ = ["append", "append_changes", "event_view", "recent", "seal", "unsealed", "verify"]

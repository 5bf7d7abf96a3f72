"""Hash-chained audit log of every state change (DESIGN.md §3)."""

from backend.audit.log import append, verify

__all__ = ["append", "verify"]

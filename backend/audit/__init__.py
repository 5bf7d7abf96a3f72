"""Hash-chained audit log of every state change (DESIGN.md §3)."""

from backend.audit.log import append, lock_head, verify

__all__ = ["append", "lock_head", "verify"]

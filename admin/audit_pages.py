"""The console's audit section, /admin/audit: the hash-chained audit trail, newest first, filtered by actor, action,
object and Beijing dates, paged by its place in the chain (seq, never OFFSET) and exported as CSV; and the last
results of the two verifiers that read it and the ledger — ``audit verify`` and ``ledger check`` — with their
buttons, which ask for a run as the verifiers' page does (admin/verification_pages.py).

Who reads the trail is who reads it through the JSON API (admin_api.list_audit)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from flask import current_app, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from admin import exports, listing, verifications
from admin.listing import PAGE_SIZE, Sorts, page_of
from admin.schemas import ListDay
from backend import audit
from backend.audit.models import AuditEvent
from backend.canonical import canonical_json
from backend.clock import CHINA, as_utc, beijing_midnight, isoformat_utc
from backend.db import atomic, read
from backend.errors import InvalidInput
from backend.staff.web import page, page_blueprint

bp = page_blueprint("admin_audit", __name__)
SORTS = Sorts({"seq": AuditEvent.seq}, default="seq", unique=AuditEvent.seq, labels={"seq": "序号"})
CHAIN_VERIFIERS = ("audit", "ledger")


class AuditFilters(BaseModel):
    """What the filter form may ask; a filter left empty is no filter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    actor: str | None = Field(default=None, max_length=128)
    """A part of the actor, any case: ``staff:3:`` (the account, by any of its tokens), ``wang``, ``user:7``."""
    action: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*\.?$")
    """Exactly, or a family when it ends with a dot: ``certificate.revoke``, ``ledger.``."""
    object: str | None = Field(default=None, max_length=100, pattern=r"^[a-z0-9_]+(:[^\s]+)?$")
    """``<type>:<id>`` (one object) or ``<type>`` (every object of the type)."""
    since: ListDay | None = None
    """From this Beijing day on."""
    until: ListDay | None = None
    """Up to and including this Beijing day."""
    size: int = Field(default=PAGE_SIZE, ge=1, le=500)


def filters_of(args: Mapping[str, str]) -> AuditFilters:
    """The list's filters from a query string's arguments (the page's, or an export's): a 400 names a bad one."""
    filters = listing.filters_of(AuditFilters, args)
    if filters.since and filters.until and filters.until < filters.since:
        raise InvalidInput("until", "不能早于起始日期 (must not be before since)")
    return filters


def _conditions(filters: AuditFilters) -> list[ColumnElement]:
    found = [AuditEvent.seq.is_not(None)]  # the chain: what the sealer has placed
    if filters.actor:
        found.append(func.lower(AuditEvent.actor).contains(filters.actor.lower(), autoescape=True))
    if filters.action:
        found.append(AuditEvent.action.startswith(filters.action, autoescape=True) if filters.action.endswith(".")
                     else AuditEvent.action == filters.action)
    if filters.object:
        object_type, _, object_id = filters.object.partition(":")
        found.append(AuditEvent.object_type == object_type)
        if object_id:
            found.append(AuditEvent.object_id == object_id)
    if filters.since:
        found.append(AuditEvent.at >= beijing_midnight(filters.since))
    if filters.until:
        found.append(AuditEvent.at < beijing_midnight(filters.until + timedelta(days=1)))
    return found


def in_beijing(moment: datetime) -> str:
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _change(value) -> str:
    return "" if value is None else canonical_json(value).decode()


def list_events():
    """The trail. What has committed is sealed first (as admin_api.list_audit does), so an operator sees their own
    last action."""
    filters = filters_of(request.args)
    atomic(audit.seal)
    now = current_app.config["CLOCK"]()

    def look(session):
        return (page_of(session, select(AuditEvent).where(*_conditions(filters)), SORTS, size=filters.size),
                verifications.latest(session, now, CHAIN_VERIFIERS))

    listed, results = read(look)
    return page("admin/audit/list.html", listed=listed, events=[row[0] for row in listed.rows], filters=filters,
                sorts=SORTS, in_beijing=in_beijing, change=_change, results=results)


def _csv_lines(session, rows) -> list[tuple]:
    return [(e.seq, in_beijing(e.at), isoformat_utc(e.at), e.actor, e.action, e.object_type, e.object_id,
             _change(e.before), _change(e.after), e.prev_hash, e.hash) for e, in rows]


exports.register("audit", exports.Exportable(
    label="审计链", list_endpoint="admin_audit.list_events",
    columns=("seq", "at_beijing", "at_utc", "actor", "action", "object_type", "object_id", "before", "after",
             "prev_hash", "hash"),
    statement=lambda args: select(AuditEvent).where(*_conditions(filters_of(args))), lines=_csv_lines,
    unique=AuditEvent.seq))


bp.add_url_rule("/admin/audit", endpoint="list_events", view_func=list_events, methods=["GET"])

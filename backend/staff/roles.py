"""The roles a staff account can hold, and in which scope (DESIGN.md §10).

A membership gives an account one role in one scope: the platform, or one organisation. Platform roles are
separate powers (one person may be both reviewer and finance); organisation roles are ranked, each including the
ones below it, and a person holds one of them per organisation.
"""

from __future__ import annotations

PLATFORM = "platform"

PLATFORM_ROLES = ("admin", "reviewer", "finance", "auditor")
"""admin: everything, accounts included; reviewer: methodologies, projects, organisations, factor sets;
finance: listings and prices, orders, refunds, offline payments, settlement; auditor: reads everything and runs
the verifiers, changes nothing."""

ORG_ROLES = ("viewer", "clerk", "org_admin")
"""Lowest first. viewer: reads the organisation's records; clerk: its day-to-day work (cases, events, staff
lists); org_admin: its members, and everything a clerk does."""

ROLE_LABELS = {
    "admin": "平台管理员 (admin)", "reviewer": "审核员 (reviewer)", "finance": "财务 (finance)",
    "auditor": "审计员 (auditor)", "org_admin": "机构管理员 (org_admin)", "clerk": "经办人 (clerk)",
    "viewer": "查看者 (viewer)",
}


def org_rank(role: str | None) -> int:
    """0 for no role; a higher number includes every lower one."""
    return ORG_ROLES.index(role) + 1 if role in ORG_ROLES else 0


def scope_of(organisation_id: int | None) -> str:
    return PLATFORM if organisation_id is None else f"org:{organisation_id}"

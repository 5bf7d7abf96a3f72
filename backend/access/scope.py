"""Whose records a staff member may see or act on, for routes the permission table guards with ``OrgKind``:
the route names a record, and the record's organisation decides. Another organisation's record is a 404, as
everywhere (DESIGN.md §10)."""

from __future__ import annotations

from backend.errors import Forbidden, InvalidInput, NotFound
from backend.staff.principal import Principal
from backend.staff.roles import org_rank


def _fits(principal: Principal, org_id: int, kinds: tuple[str, ...], least: str, acting: bool) -> bool:
    role = principal.org_role(org_id)
    return (role is not None and role.kind in kinds and org_rank(role.role) >= org_rank(least)
            and (not acting or role.status == "verified"))


def acting_organisation(principal: Principal, kinds: tuple[str, ...], least: str, org_id: int | None) -> int:
    """The organisation a new record belongs to: the one named, or the only one the person acts for."""
    if org_id is not None:
        if principal.has_platform_role("admin") or _fits(principal, org_id, kinds, least, True):
            return org_id
        raise InvalidInput("org_id", "你不在该机构或无权以其名义办理 (you do not act for that organisation)")
    mine = [oid for oid in principal.organisations if _fits(principal, oid, kinds, least, True)]
    if len(mine) != 1:
        raise InvalidInput("org_id", "请指明以哪个机构办理 (name the organisation you act for)" if mine else
                           "你不代表任何相关机构 (you act for no such organisation)")
    return mine[0]


def readable_organisations(principal: Principal, kinds: tuple[str, ...], platform: tuple[str, ...]) -> list[int] | None:
    """The organisations whose records the person may read; None: every one (platform roles)."""
    if principal.has_platform_role("admin", *platform):
        return None
    return [oid for oid, role in principal.organisations.items() if role.kind in kinds]


def check_record(principal: Principal, org_id: int, kinds: tuple[str, ...], least: str,
                 platform: tuple[str, ...] = (), *, acting: bool = True, what: str = "记录 (record)") -> None:
    """NotFound unless the record is of an organisation the person belongs to; Forbidden if their role there is
    below ``least`` (or, ``acting``, the organisation is not verified)."""
    if principal.has_platform_role("admin", *platform):
        return
    role = principal.org_role(org_id)
    if role is None or role.kind not in kinds:
        raise NotFound(f"{what}不存在 (not found)")
    if org_rank(role.role) < org_rank(least):
        raise Forbidden("你在该机构的角色无权执行此操作 (your role in this organisation does not allow this)")
    if acting and role.status != "verified":
        raise Forbidden("机构尚未通过审核或已暂停，暂不能办理 (the organisation is not verified, or suspended)",
                        code="organisation_not_active")

"""The kinds of decision the permission table makes. Each ``authorise`` raises when the request may not proceed:
401 (nobody signed in), 403 (signed in, not allowed), 404 (a record of an organisation you are not in: whether it
exists is not yours to learn — except for platform staff, who list every organisation anyway and get 403).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from backend.access.identity import staff_principal
from backend.accounts.auth import require_user
from backend.errors import Forbidden, NotFound
from backend.staff.roles import ORG_ROLES, PLATFORM_ROLES, org_rank

@dataclass(frozen=True)
class Public:
    """Anyone, signed in or not. ``why`` says what protects the route instead, if anything."""

    why: str = ""

    def authorise(self) -> None:
        return None

    def __str__(self) -> str:
        return "public" + (f" ({self.why})" if self.why else "")


@dataclass(frozen=True)
class Citizen:
    """A citizen signed in through the mini-program (WeChat login session token)."""

    def authorise(self) -> None:
        require_user()

    def __str__(self) -> str:
        return "citizen"


@dataclass(frozen=True)
class Loopback:
    """Only from this machine (development helpers)."""

    def authorise(self) -> None:
        if request.remote_addr not in ("127.0.0.1", "::1"):
            raise Forbidden("仅限本机调用 (loopback only)")

    def __str__(self) -> str:
        return "loopback"


@dataclass(frozen=True)
class SignedIn:
    """Any staff account: for what is the person's own (their account, their tokens, their home page).
    ``enrolling`` lets through someone who must still set up a second factor."""

    enrolling: bool = False

    def authorise(self) -> None:
        staff_principal(enrolling=self.enrolling)

    def __str__(self) -> str:
        return "any staff"


@dataclass(frozen=True)
class Platform:
    """A platform role; ``admin`` may do everything."""

    roles: tuple[str, ...]

    def __post_init__(self) -> None:
        assert set(self.roles) <= set(PLATFORM_ROLES), self.roles

    def authorise(self) -> None:
        if not staff_principal().has_platform_role("admin", *self.roles):
            raise Forbidden("你的角色无权执行此操作 (your roles do not allow this)")

    def __str__(self) -> str:
        return "platform: " + ", ".join(sorted({"admin", *self.roles}))


@dataclass(frozen=True)
class Member:
    """At least ``least`` in the organisation the path's ``<org_id>`` names, or a platform role that acts on every
    organisation: ``admin``, and those in ``platform`` (e.g. the auditor, for reading). ``acting``: the organisation
    must be verified (not applied, rejected or suspended).
    """

    least: str
    platform: tuple[str, ...] = ()
    acting: bool = True
    scope: str = "org_id"

    def __post_init__(self) -> None:
        assert self.least in ORG_ROLES and set(self.platform) <= set(PLATFORM_ROLES), self

    def authorise(self) -> None:
        principal = staff_principal()
        if principal.has_platform_role("admin", *self.platform):
            return
        organisation_id = (request.view_args or {})[self.scope]
        role = principal.org_role(organisation_id)
        if role is None and principal.platform_roles:  # platform staff see every organisation listed anyway
            raise Forbidden("你的角色无权执行此操作 (your roles do not allow this)")
        if role is None:
            raise NotFound("机构不存在 (unknown organisation)")
        if org_rank(role.role) < org_rank(self.least):
            raise Forbidden("你在该机构的角色无权执行此操作 (your role in this organisation does not allow this)")
        if self.acting and role.status != "verified":
            raise Forbidden("机构尚未通过审核或已暂停，暂不能办理 (the organisation is not verified, or suspended)",
                            code="organisation_not_active")

    def __str__(self) -> str:
        platform = ", ".join(sorted({"admin", *self.platform}))
        return f"member ≥ {self.least} of <{self.scope}>{' (verified)' if self.acting else ''}; platform: {platform}"


@dataclass(frozen=True)
class OrgKind:
    """At least ``least`` in some verified organisation of one of ``kinds`` (courts and procuratorates, event
    organisers …), or a platform role that acts on every organisation: ``admin``, and those in ``platform``. For
    routes whose path names a record, not an organisation (``/api/org/v1/cases/<id>``): the handler finds the
    record's organisation and checks it with backend.access.scope, so another organisation's record is a 404."""

    least: str
    kinds: tuple[str, ...]
    platform: tuple[str, ...] = ()
    acting: bool = True

    def __post_init__(self) -> None:
        assert self.least in ORG_ROLES and set(self.platform) <= set(PLATFORM_ROLES), self

    def authorise(self) -> None:
        principal = staff_principal()
        if principal.has_platform_role("admin", *self.platform):
            return
        roles = [role for role in principal.organisations.values() if role.kind in self.kinds]
        if not roles:
            raise Forbidden("仅限相关机构的人员使用 (only for people of the organisations this is for)")
        if not any(org_rank(role.role) >= org_rank(self.least) for role in roles):
            raise Forbidden("你在该机构的角色无权执行此操作 (your role in this organisation does not allow this)")
        if self.acting and not any(org_rank(role.role) >= org_rank(self.least) and role.status == "verified"
                                   for role in roles):
            raise Forbidden("机构尚未通过审核或已暂停，暂不能办理 (the organisation is not verified, or suspended)",
                            code="organisation_not_active")

    def __str__(self) -> str:
        platform = ", ".join(sorted({"admin", *self.platform}))
        return (f"member ≥ {self.least} of a {'/'.join(self.kinds)}{' (verified)' if self.acting else ''}, "
                f"its own records; platform: {platform}")


Rule = Public | Citizen | Loopback | SignedIn | Platform | Member | OrgKind

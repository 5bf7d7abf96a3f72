"""Signing up: an organisation applies together with its first org_admin's account, in one unit of work."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from backend.db import atomic
from backend.orgs import service
from backend.registry.models import Organisation
from backend.staff import passwords
from backend.staff import service as staff
from backend.staff.models import StaffAccount


def apply_with_new_account(now: datetime, fields: dict, *, username: str, display_name: str,
                           password: str) -> Organisation:
    username = staff.normalise_username(username)
    password_hash = passwords.new_hash(password, username=username)  # before the transaction: argon2 is slow

    def work(session: Session) -> Organisation:
        account = staff.create_account(session, now, username=username, display_name=display_name,
                                       password_hash=password_hash, actor=None)
        return service.apply(session, now, applicant=account, **fields)
    return atomic(work)


def apply_as(now: datetime, fields: dict, *, account_id: int) -> Organisation:
    def work(session: Session) -> Organisation:
        account: StaffAccount = staff.get_account(session, account_id)
        return service.apply(session, now, applicant=account, **fields)
    return atomic(work)


def organisation_fields(body) -> dict:
    """The domain's keyword arguments from an application body or form."""
    return {"name": body.name, "kind": body.kind, "credit_code": body.credit_code, "region": body.adcode,
            "contact_name": body.contact_name, "contact_phone": body.contact_phone,
            "contact_email": body.contact_email or None}

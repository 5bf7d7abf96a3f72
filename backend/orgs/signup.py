"""Signing up: an organisation applies together with its first org_admin's account, in one unit of work."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from backend.db import atomic
from backend.orgs import service
from backend.registry.models import Organisation
from backend.staff import service as staff
from backend.staff.models import StaffAccount
from backend.staff.service import NewAccount


def apply_with_new_account(now: datetime, fields: dict, new: NewAccount) -> tuple[Organisation, int]:
    """The organisation, applied for by a new account (``staff.service.prepare_account``); and that account's id."""
    def work(session: Session) -> tuple[Organisation, int]:
        account = staff.create_account(session, now, username=new.username, display_name=new.display_name,
                                       password_hash=new.password_hash, actor=None)
        return service.apply(session, now, applicant=account, **fields), account.id
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

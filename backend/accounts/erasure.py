"""A citizen deletes their account (PIPL's right to erasure) without breaking what others rely on.

The mp_user row stays, because the ledger holds ``user:<id>`` accounts and orders point at the user, but nothing in
it names or reaches the person: the WeChat openid and unionid, nickname, avatar, region and real name go; saved
footprints are deleted; the full names (and commitment salts) behind their retirements' certificates are blanked,
and so are the names their gift orders were made out to. What stays verifiable: every certificate (it only ever
showed the masked name and a commitment, and its signature and log proof are unchanged), the ledger (serials and
balances do not depend on names) and the audit chain (it holds no names: profile events record which fields
changed — though events written before migration 0009, in development, held nicknames).

Refused while something is unfinished that the person would lose or that could not be settled without them: an
unpaid, paid-but-unfulfilled, refunding or operator-queued order, or credits kept in their account.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session

from backend import audit
from backend.accounts.service import get_user
from backend.errors import Conflict
from backend.ledger.models import LedgerAccount, Retirement
from backend.orders.models import Order
from backend.personal.models import SavedFootprint
from backend.privacy.models import BeneficiaryName

UNFINISHED = ("reserved", "paid", "refunding")
ERASED = "erased"  # in place of a hash that could confirm a guessed name; no replay of the order can match it


SCENARIO_ERASERS: list[Callable[[Session, datetime, int], dict[str, int]]] = []
"""Scenarios that keep names tied to a citizen add their eraser here at init: it blanks them and says how many."""


class ErasureRefused(Conflict):
    code = "erasure_refused"


def _unfinished(session: Session, user_id: int, holder: str) -> dict[str, int]:
    orders = session.execute(select(func.count()).select_from(Order).where(
        Order.user_id == user_id, or_(Order.status.in_(UNFINISHED),
                                      Order.attention.is_not(None) & Order.resolved_at.is_(None)))).scalar_one()
    kept_g = session.execute(select(func.coalesce(func.sum(LedgerAccount.credits_g - LedgerAccount.debits_g), 0))
                             .where(LedgerAccount.holder == holder,
                                    LedgerAccount.kind.in_(("available", "reserved")))).scalar_one()
    return {"open_orders": int(orders), "kept_g": int(kept_g)}


def erase(session: Session, now: datetime, user_id: int) -> dict[str, Any]:
    """Anonymise the account in place and blank the names tied to it; what was erased, as counts."""
    user = get_user(session, user_id, lock=True, active=True)  # no order of theirs starts meanwhile (create locks it too)
    unfinished = _unfinished(session, user.id, user.holder)
    if unfinished["open_orders"] or unfinished["kept_g"]:
        raise ErasureRefused("账户仍有未完成的订单或未注销的碳汇，请先完成支付、退款或注销后再删除账户 (unfinished orders or "
                             "kept credits: settle, refund or retire them first)", details=unfinished)
    retirements = select(Retirement.id).where(Retirement.holder == user.holder).scalar_subquery()
    names = session.execute(update(BeneficiaryName).where(
        BeneficiaryName.retirement_id.in_(retirements), BeneficiaryName.erased_at.is_(None))
        .values(full_name=None, salt=None, erased_at=now)).rowcount
    # The request hash goes too: made before fingerprints (migration 0009), it hashed the plain name.
    gifts = session.execute(update(Order).where(Order.user_id == user.id, Order.beneficiary_name.is_not(None))
                            .values(beneficiary_name=None, request_hash=ERASED)).rowcount
    footprints = session.execute(delete(SavedFootprint).where(SavedFootprint.user_id == user.id)).rowcount
    region = user.region_adcode
    extra: dict[str, int] = {}
    user.openid = f"erased:{user.id}"  # unique, and no WeChat login can ever produce it
    user.unionid, user.region_adcode, user.real_name = None, None, None
    user.birth_year = user.sex = None
    for erase_more in SCENARIO_ERASERS:  # names a scenario keeps for the person (a family member's …)
        counts_more = erase_more(session, now, user.id)
        extra.update(counts_more)
    user.nickname, user.avatar_url, user.erased_at = "", "", now
    session.add(user)
    counts = {"names": names, "gift_orders": gifts, "footprints": footprints, **extra}
    audit.append(session, now, actor=user.holder, action="user.erase", object_type="mp_user", object_id=user.id,
                 after=counts)
    return {**counts, "previous_region": region}

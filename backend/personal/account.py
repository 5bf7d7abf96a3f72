"""The personal carbon account: footprints saved from the calculators, retirements with their certificates, and
what they add up to — totals, a monthly series, badges.

Offset counts the user's own retirements that still stand (a retirement reversed by a correction gave its credits
back); a gift's credits offset the beneficiary's footprint, not the buyer's, and are counted apart.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlmodel import Session

from backend.certificates.models import Certificate
from backend.clock import isoformat_utc
from backend.errors import Conflict, InvalidInput, NotFound
from backend.footprint.models import FootprintCalculation
from backend.ledger.models import Retirement, Transfer
from backend.orders.models import Order
from backend.personal.badges import Standing, Step, award
from backend.accounts.service import get_user
from backend.personal.models import SavedFootprint
from backend.privacy.models import BeneficiaryName
from backend.registry.models import Batch, Project

CHINA = ZoneInfo("Asia/Shanghai")
# What a person emits: the calculators an individual or household uses. Events, court cases and the tree duty
# have their own accounts in the scenarios.
PERSONAL_CALCULATORS = ("household", "lifestyle", "travel", "trip")
MAX_SAVED = 1000
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
FIRST_MONTH = "2000-01"


def month_of(moment: datetime) -> str:
    return f"{moment.astimezone(CHINA):%Y-%m}"


def _check_month(month: str | None, now: datetime) -> str:
    if month is None:
        return month_of(now)
    if not MONTH.fullmatch(month) or not FIRST_MONTH <= month <= month_of(now):
        raise InvalidInput("month", f"应为 {FIRST_MONTH} 至本月之间的 YYYY-MM (a month from {FIRST_MONTH} to now)")
    return month


# --- footprints --------------------------------------------------------------------------------------------------

def _check_label(label: str | None) -> str:
    label = " ".join((label or "").split())
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in label):  # escapes, bidi overrides, NUL …
        raise InvalidInput("label", "不能含控制字符 (no control or formatting characters)")
    return label


def save_footprint(session: Session, now: datetime, *, user_id: int, calculation_id: str, label: str | None,
                   month: str | None) -> SavedFootprint:
    """Count a stored calculation in the user's account for a month.

    The same bill can recur (its calculation id is a hash of its inputs), so the same calculation may be saved for
    several months; saving it again for the same month finds that save, taking the new label if one is given.
    """
    get_user(session, user_id, lock=True, active=True)  # not into an account deleted meanwhile
    calculation = session.get(FootprintCalculation, calculation_id)
    if calculation is None:
        raise InvalidInput("calculation_id", "计算记录不存在 (unknown calculation)")
    if calculation.calculator not in PERSONAL_CALCULATORS:
        raise InvalidInput("calculation_id", f"只能保存个人碳足迹：{', '.join(PERSONAL_CALCULATORS)} "
                                             f"(a {calculation.calculator} calculation is not a personal footprint)")
    month, label = _check_month(month, now), _check_label(label)
    existing = session.execute(select(SavedFootprint).where(
        SavedFootprint.user_id == user_id, SavedFootprint.calculation_id == calculation_id,
        SavedFootprint.month == month)).scalar_one_or_none()
    if existing is not None:
        if label and label != existing.label:
            existing.label = label
            session.add(existing)
        return existing
    count = session.execute(select(func.count()).where(SavedFootprint.user_id == user_id)).scalar_one()
    if count >= MAX_SAVED:
        raise Conflict(f"最多保存 {MAX_SAVED} 份碳足迹，请先删除旧的 (at most {MAX_SAVED} saved footprints)",
                       code="too_many_footprints")
    saved = SavedFootprint(user_id=user_id, calculation_id=calculation_id, calculator=calculation.calculator,
                           label=label, month=month, total_g=calculation.total_g, saved_at=now)
    session.add(saved)
    session.flush()
    return saved


def forget_footprint(session: Session, *, user_id: int, saved_id: int) -> None:
    removed = session.execute(delete(SavedFootprint).where(SavedFootprint.id == saved_id,
                                                           SavedFootprint.user_id == user_id)).rowcount
    if not removed:
        raise NotFound("没有这条已保存的碳足迹 (no such saved footprint)")


def footprint_view(saved: SavedFootprint) -> dict[str, Any]:
    return {"id": saved.id, "calculation_id": saved.calculation_id, "calculator": saved.calculator,
            "label": saved.label, "month": saved.month, "total_g": saved.total_g,
            "saved_at": isoformat_utc(saved.saved_at)}


def footprints_of(session: Session, user_id: int) -> list[SavedFootprint]:
    return list(session.execute(select(SavedFootprint).where(SavedFootprint.user_id == user_id)
                                .order_by(SavedFootprint.month.desc(), SavedFootprint.id.desc())).scalars())


# --- retirements -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Retired:
    """One of the user's retirements as the account counts it."""

    retirement_id: int
    quantity_g: int
    retired_at: datetime
    purpose: str
    gift: bool
    reversed: bool
    order_no: str | None
    beneficiary_masked: str
    batch_code: str
    project_name: str
    certificate_no: str | None
    beneficiary_name: str | None = None
    name_salt: str | None = None
    """The opening of the certificate's commitment to the name (None once erased): the buyer's to share."""

    @property
    def counts_as_offset(self) -> bool:
        """The user's own neutralisation. Credits retired for a record — a court case's restoration, a duty, an
        event — were claimed there: counting them here too would claim them twice."""
        return not self.reversed and not self.gift and self.purpose == "personal"

    @property
    def counts_as_gift(self) -> bool:
        return not self.reversed and self.gift


def retirements_of(session: Session, user_id: int, holder: str) -> list[Retired]:
    """Every retirement the user made, newest first, with its order (if bought here) and certificate."""
    correcting = select(Transfer.corrects_id).where(Transfer.corrects_id == Retirement.transfer_id).exists()
    rows = session.execute(
        select(Retirement.id, Retirement.quantity_g, Retirement.retired_at, Retirement.purpose,
               Retirement.beneficiary_masked, Order.order_no, Order.purpose.label("order_purpose"),
               Batch.code, Project.name, Certificate.number, correcting.label("reversed"),
               BeneficiaryName.full_name, BeneficiaryName.salt)
        .join(Batch, Batch.id == Retirement.batch_id).join(Project, Project.id == Batch.project_id)
        .outerjoin(BeneficiaryName, BeneficiaryName.retirement_id == Retirement.id)
        .outerjoin(Order, (Order.user_id == user_id) & (Order.retirement_id == Retirement.id))
        .outerjoin(Certificate, Certificate.retirement_id == Retirement.id)
        .where(Retirement.holder == holder).order_by(Retirement.retired_at.desc(), Retirement.id.desc())).all()
    return [Retired(retirement_id=row.id, quantity_g=row.quantity_g, retired_at=row.retired_at, purpose=row.purpose,
                    gift=row.order_purpose == "gift", reversed=bool(row.reversed), order_no=row.order_no,
                    beneficiary_masked=row.beneficiary_masked, batch_code=row.code, project_name=row.name,
                    certificate_no=row.number, beneficiary_name=row.full_name, name_salt=row.salt) for row in rows]


def retirement_view(retired: Retired, base_url: str) -> dict[str, Any]:
    number = retired.certificate_no
    return {"retirement_id": retired.retirement_id, "quantity_g": retired.quantity_g,
            "retired_at": isoformat_utc(retired.retired_at), "purpose": "gift" if retired.gift else retired.purpose,
            "order_no": retired.order_no, "beneficiary_masked": retired.beneficiary_masked,
            "batch_code": retired.batch_code, "project_name": retired.project_name,
            "status": "reversed" if retired.reversed else "retired", "certificate_no": number,
            "verify_url": f"{base_url}/v/{number}" if number else None,
            "card_url": f"{base_url}/api/v1/certificates/{number}/certificate.png" if number else None,
            "pdf_url": f"{base_url}/api/v1/certificates/{number}/certificate.pdf" if number else None,
            # The certificate shows 张* and commits to the full name: with this name and salt the beneficiary proves
            # it names them (SHA-256 of "salt:name" equals payload.beneficiary.commitment). Only the buyer sees it.
            "name_proof": ({"name": retired.beneficiary_name, "salt": retired.name_salt, "hash": "sha256(salt:name)"}
                           if retired.beneficiary_name and retired.name_salt else None)}


# --- what it adds up to --------------------------------------------------------------------------------------------

def _footprint_step(total_g: int):
    def apply(standing: Standing) -> None:
        standing.footprints += 1
        standing.footprint_g += total_g
    return apply


def _retirement_step(retired: Retired):
    def apply(standing: Standing) -> None:
        if retired.gift:
            standing.gifted_g += retired.quantity_g
        else:
            standing.offset_g += retired.quantity_g
    return apply


def summary(footprints: list[SavedFootprint], retired: list[Retired]) -> dict[str, Any]:
    """Totals and badges. ``neutral_percent`` is offset ÷ footprint, rounded down, and may pass 100."""
    footprint_g = sum(saved.total_g for saved in footprints)
    offset_g = sum(r.quantity_g for r in retired if r.counts_as_offset)
    gifted_g = sum(r.quantity_g for r in retired if r.counts_as_gift)
    steps: list[Step] = [(saved.saved_at, _footprint_step(saved.total_g)) for saved in footprints]
    steps += [(r.retired_at, _retirement_step(r)) for r in retired if not r.reversed]
    return {"footprint_g": footprint_g, "offset_g": offset_g, "net_g": footprint_g - offset_g,
            "neutral_percent": offset_g * 100 // footprint_g if footprint_g else None, "gifted_g": gifted_g,
            "retired_g": offset_g + gifted_g, "footprints": len(footprints),
            "retirements": sum(1 for r in retired if not r.reversed), "badges": award(steps)}


def months_ending(month: str, count: int) -> list[str]:
    year, number = int(month[:4]), int(month[5:])
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{number:02d}")
        year, number = (year, number - 1) if number > 1 else (year - 1, 12)
    return months[::-1]


def monthly(footprints: list[SavedFootprint], retired: list[Retired], now: datetime,
            months: int) -> list[dict[str, Any]]:
    """The last ``months`` months to this one, oldest first: footprint saved for, and credits retired in, each."""
    series = {month: {"month": month, "footprint_g": 0, "offset_g": 0, "gifted_g": 0}
              for month in months_ending(month_of(now), months)}
    for saved in footprints:
        if saved.month in series:
            series[saved.month]["footprint_g"] += saved.total_g
    for r in retired:
        bucket = series.get(month_of(r.retired_at))
        if bucket is not None and not r.reversed:
            bucket["gifted_g" if r.gift else "offset_g"] += r.quantity_g
    return list(series.values())

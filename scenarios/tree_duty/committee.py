"""For the greening committee (绿委办): the vouchers of a region and year, with full names, to recognise against
the duty; and the operator's mark that the committee recognised them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app
from sqlalchemy import select
from sqlmodel import Session

from backend import audit
from backend.certificates.models import Certificate
from backend.csvfile import csv_response
from backend.db import read
from backend.errors import NotFound
from backend.registry import adcode
from scenarios.tree_duty.models import DutyVoucher

COLUMNS = ("姓名 name", "尽责年度 year", "凭证类别 tier", "地区 region", "折合株数 trees", "金额(元) amount_yuan",
           "碳汇(克) grams", "凭证编号 voucher_no", "核验地址 verify_url", "已认定 recognised")
TIER_LABELS = {"duty": "尽责", "honour": "荣誉"}


def _in_region(region: str | None):
    """A province takes in its prefectures and counties, a prefecture its counties."""
    if region is None:
        return True
    if region.endswith("0000"):
        return DutyVoucher.region.like(region[:2] + "%")
    if region.endswith("00"):
        return DutyVoucher.region.like(region[:4] + "%")
    return DutyVoucher.region == region


def vouchers_csv(year: int, region: str | None, recognised: bool | None) -> Response:
    base = current_app.config["PUBLIC_BASE_URL"]
    query = (select(DutyVoucher, Certificate.number).join(Certificate, Certificate.id == DutyVoucher.certificate_id)
             .where(DutyVoucher.year == year, _in_region(region)).order_by(DutyVoucher.id))
    if recognised is not None:
        query = query.where(DutyVoucher.recognised_at.is_not(None) if recognised
                            else DutyVoucher.recognised_at.is_(None))
    rows = read(lambda s: s.execute(query).all())
    lines = ([voucher.full_name or "（已删除）", voucher.year, TIER_LABELS[voucher.tier],
              adcode.full_name(voucher.region) or voucher.region, voucher.trees, f"{voucher.amount_fen / 100:.2f}",
              voucher.quantity_g, number, f"{base}/v/{number}",
              voucher.recognised_at.date().isoformat() if voucher.recognised_at else ""]
             for voucher, number in rows)
    return csv_response(COLUMNS, lines, f"tree-duty-vouchers-{year}-{region or 'all'}.csv")


def recognise(session: Session, now: datetime, numbers: list[str], *, note: str | None, actor: str) -> dict[str, Any]:
    """Mark the vouchers recognised (once: a second mark keeps the first date). An unknown number, or a number that
    is not a tree-duty voucher, refuses the whole request (404 naming it): a committee's list is taken whole."""
    wanted = sorted(set(numbers))
    found = dict(session.execute(select(Certificate.number, DutyVoucher)
                                 .join(DutyVoucher, DutyVoucher.certificate_id == Certificate.id)
                                 .where(Certificate.number.in_(wanted)).with_for_update(of=DutyVoucher)).all())
    missing = [number for number in wanted if number not in found]
    if missing:
        raise NotFound(f"不是义务植树凭证 (not tree-duty vouchers): {', '.join(missing[:10])}",
                       details={"certificate_nos": missing[:100]})
    fresh = [voucher for voucher in found.values() if voucher.recognised_at is None]
    for voucher in fresh:
        voucher.recognised_at, voucher.recognised_by = now, actor
        session.add(voucher)
    if fresh:
        audit.append(session, now, actor=actor, action="tree_duty.vouchers.recognise", object_type="tree_duty_voucher",
                     object_id=str(len(fresh)), after={"certificate_nos": [n for n in wanted
                                                                           if found[n] in fresh][:1000],
                                                      "note": note})
    return {"recognised": len(fresh), "already": len(found) - len(fresh)}

"""The console's settlement pages: a month's statements, one per project owner, reconciled against the money
received; an owner's statement with its lines (CSV), and finance marking it paid (admin/settlement.py)."""

from __future__ import annotations

from flask import current_app, flash, redirect, request
from pydantic import Field

from admin import settlement
from admin.listing import Sorts, page_of
from backend.clock import beijing_text
from backend.csvfile import csv_response, csv_stream
from backend.db import atomic, read
from backend.errors import DomainError
from backend.money import fen_from_yuan, yuan
from backend.orders.models import Order
from backend.access.identity import staff_principal
from admin.schemas import Body
from backend.staff.web import field_errors, page, page_blueprint, parse_form

bp = page_blueprint("admin_settlement", __name__)
LINES = Sorts({"id": Order.id}, default="id", unique=Order.id)
KIND_LABELS = {"sale": "销售", "refund": "退款"}


class PaidIn(Body):
    """The bank transfer that settled a statement, as the bank statement shows it."""

    reference: str = Field(min_length=1, max_length=64, description="the transfer's reference")
    amount: str = Field(min_length=1, max_length=20, description="yuan; negative when the owner paid back")


def _now():
    return current_app.config["CLOCK"]()


def month_page():
    now = _now()
    month = request.args.get("month") or settlement.previous_month(now)
    period = settlement.month_period(month)
    entries, received, refunded = read(lambda s: (settlement.statements(s, now, month), settlement.received(s, month),
                                                  settlement.refunded(s, month)))
    totals = settlement.totals(entries)
    if request.args.get("format") == "csv":
        return csv_response(
            ("月份", "机构ID", "机构", "销售笔数", "售出(克)", "销售额(分)", "退款笔数", "退款(分)", "平台服务费(分)",
             "应结(分)", "结清凭证", "结清时间"),
            [(month, e.owner_id, e.owner_name, e.sales, e.sold_g, e.gross_fen, e.refunds, e.refunds_fen, e.fee_fen,
              e.owed_fen, e.payment.reference if e.payment else "", beijing_text(e.payment.paid_at if e.payment
                                                                                 else None))
             for e in entries], f"settlement-{month}.csv")
    before, after = settlement.previous_month(period.start), settlement.month_of(period.end)
    return page("admin/settlement/month.html", month=month, entries=entries, totals=totals, received=received,
                refunded=refunded, balanced=(totals["owed_fen"] + totals["fee_fen"] + totals["refunds_fen"] == received
                                             and totals["refunds_fen"] == refunded),
                closed=now >= period.end, before=before, after=after if period.end <= now else None)


def statement_page(owner_id: int, month: str, status: int = 200, error: DomainError | None = None):
    now = _now()

    def look(session):
        entry = settlement.statement(session, now, owner_id, month)
        if request.args.get("format") == "csv":
            return entry, None
        return entry, page_of(session, settlement.lines_query(owner_id, month), LINES)

    entry, lines = read(look)
    if request.args.get("format") == "csv":
        return csv_stream(("月份", "类型", "订单号", "时间(北京)", "批次", "项目", "数量(克)", "金额(分)", "费率(基点)",
                           "平台服务费(分)", "应结(分)"), _csv_lines(owner_id, month),
                          f"settlement-{owner_id}-{month}.csv")
    rows = [line for row in lines.rows for line in settlement.line_entries(row, month)]
    return page("admin/settlement/statement.html", status, entry=entry, lines=lines, rows=rows,
                kind_labels=KIND_LABELS, error=error, errors=field_errors(error),
                month=month)


def _csv_lines(owner_id: int, month: str):
    """Every line of the statement, read a thousand orders at a time (keyset on the order id)."""
    last = None
    while True:
        def chunk(session, after=last):
            query = settlement.lines_query(owner_id, month).order_by(Order.id).limit(1000)
            return list(session.execute(query if after is None else query.where(Order.id > after)).all())
        rows = read(chunk)
        for row in rows:
            for line in settlement.line_entries(row, month):
                yield (month, KIND_LABELS[line["kind"]], line["order_no"], beijing_text(line["at"]),
                       line["batch_code"], line["project"], line["quantity_g"], line["amount_fen"], line["fee_bp"],
                       line["fee_fen"], line["owed_fen"])
        if len(rows) < 1000:
            return
        last = rows[-1][0].id


def mark_paid(owner_id: int, month: str):
    actor = staff_principal().actor
    try:
        form = parse_form(PaidIn)
        amount_fen = fen_from_yuan(form.amount, "amount", signed=True)
        payment = atomic(lambda s: settlement.mark_paid(s, _now(), owner_id=owner_id, month=month,
                                                        reference=form.reference, amount_fen=amount_fen, actor=actor))
    except DomainError as error:
        return statement_page(owner_id, month, error.status, error)
    flash(f"{month} 结算单已结清：{yuan(payment.owed_fen)} 元，凭证 {payment.reference}")
    return redirect(f"/admin/settlement/{owner_id}/{month}")


bp.add_url_rule("/admin/settlement", endpoint="month", view_func=month_page, methods=["GET"])
bp.add_url_rule("/admin/settlement/<int:owner_id>/<month>", endpoint="statement", view_func=statement_page,
                methods=["GET"])
bp.add_url_rule("/admin/settlement/<int:owner_id>/<month>/paid", endpoint="mark_paid", view_func=mark_paid,
                methods=["POST"])

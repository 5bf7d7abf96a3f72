"""What must hold of tree-duty orders and vouchers: an order's grams are what its money buys (rounded down per
person); a voucher vouches for exactly the grams it lists, all retired by its person's fulfilled tree-duty orders
of its year, and its money reached its tier's threshold; no two vouchers of a staff list share a serial."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.models import Certificate
from backend.ledger.violation import Violation
from backend.orders.models import Order
from backend.shop.service import grams_for
from scenarios.tree_duty.models import DutyPayment, DutyRoster, DutyRule, DutyVoucher


def check_tree_duty(session: Session) -> list[Violation]:
    found: list[Violation] = []
    rosters = {r.id: r for r in session.execute(select(DutyRoster)).scalars()}
    retired_by: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)  # (person, year) → certificate → grams
    for order, payment in session.execute(select(Order, DutyPayment)
                                          .join(DutyPayment, DutyPayment.order_id == Order.id)):
        shares = rosters[int(payment.person.split(":")[1])].persons if payment.person.startswith("roster:") else 1
        if order.quantity_g != grams_for(order.amount_fen, order.price_fen_per_t, shares):
            found.append(Violation("tree_duty", f"order {order.order_no}: {order.quantity_g} g is not what "
                                                f"{order.amount_fen} fen buys"))
        if order.status == "fulfilled":
            number = session.execute(select(Certificate.number)
                                     .where(Certificate.retirement_id == order.retirement_id)).scalar_one()
            retired_by[(payment.person, payment.year)][number] = order.quantity_g
    paid_orders = {order_id for (order_id,) in session.execute(
        select(Order.id).join(DutyPayment, DutyPayment.order_id == Order.id)
        .where(DutyPayment.person.like("roster:%"), Order.status == "fulfilled"))}
    for roster in rosters.values():
        if (roster.status in ("paid", "issued")) != (roster.order_id is not None):
            found.append(Violation("tree_duty", f"staff list {roster.id} is {roster.status}, its order "
                                                f"{roster.order_id}"))
        if roster.order_id is not None and roster.order_id not in paid_orders:
            found.append(Violation("tree_duty", f"staff list {roster.id}: its order is not fulfilled"))
    fulfilled_per_roster = defaultdict(int)
    for payment in session.execute(select(DutyPayment).where(DutyPayment.order_id.in_(paid_orders))).scalars():
        fulfilled_per_roster[payment.person] += 1
    if any(count > 1 for count in fulfilled_per_roster.values()):
        found.append(Violation("tree_duty", "a staff list was paid by more than one order"))
    serials_of_roster: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for voucher, certificate in session.execute(select(DutyVoucher, Certificate)
                                                .join(Certificate, Certificate.id == DutyVoucher.certificate_id)):
        name = f"voucher {certificate.number}"
        items = certificate.payload.get("items", [])
        listed = sum(item["quantity_g"] for item in items)
        if not (listed == certificate.payload["quantity_g"] == voucher.quantity_g):
            found.append(Violation("tree_duty", f"{name}: lists {listed} g, signs "
                                                f"{certificate.payload['quantity_g']} g"))
        for item in items:
            if sum(last - first + 1 for first, last in item["serials"]) != item["quantity_g"]:
                found.append(Violation("tree_duty", f"{name}: serials of {item['certificate_no']} are not its grams"))
        if voucher.person.startswith("staff:"):
            roster_id = _roster_of_voucher(certificate)
            paid = retired_by.get((f"roster:{roster_id}", voucher.year), {})
            if any(item["certificate_no"] not in paid for item in items):
                found.append(Violation("tree_duty", f"{name}: not retired by its staff list's order"))
            serials_of_roster[roster_id].extend((first, last) for item in items for first, last in item["serials"])
            continue
        paid = retired_by.get((voucher.person, voucher.year), {})
        if any(paid.get(item["certificate_no"]) != item["quantity_g"] for item in items):
            found.append(Violation("tree_duty", f"{name}: lists a retirement that is not its person's for "
                                                f"{voucher.year}"))
        rule = session.get(DutyRule, voucher.rule_id)
        of_age = certificate.payload["record"]["of_duty_age"]
        threshold = rule.honour_fen if voucher.tier == "honour" and of_age else rule.duty_fen
        if voucher.amount_fen < threshold:
            found.append(Violation("tree_duty", f"{name}: {voucher.amount_fen} fen is below the {voucher.tier} "
                                                f"threshold {threshold}"))
    for roster_id, ranges in serials_of_roster.items():
        ranges.sort()
        if any(ranges[i][1] >= ranges[i + 1][0] for i in range(len(ranges) - 1)):
            found.append(Violation("tree_duty", f"staff list {roster_id}: two vouchers share serials"))
        roster = rosters[roster_id]
        if roster.status == "issued" and roster.issued != roster.persons:
            found.append(Violation("tree_duty", f"staff list {roster_id}: issued {roster.issued} of {roster.persons}"))
    return found


def _roster_of_voucher(certificate: Certificate) -> int:
    return int(certificate.payload["record"]["roster_id"])

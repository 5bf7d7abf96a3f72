"""What must hold of every event: it is neutral exactly when it has its certificate; a neutral event counted at
least its figure; the certificate vouches for exactly the organiser's retirements and counts participants only up
to the participant travel of the final account (no gram twice)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.models import Certificate
from backend.ledger.violation import Violation
from backend.orders.models import Order
from scenarios.events.models import Event, EventPurchase
from scenarios.events.rules import to_offset


def check_events(session: Session) -> list[Violation]:
    found: list[Violation] = []
    fulfilled: dict[int, list[tuple[str, Order]]] = {}
    for order, event_id, side in session.execute(select(Order, EventPurchase.event_id, EventPurchase.side)
                                                 .join(EventPurchase, EventPurchase.order_id == Order.id)):
        if order.status == "fulfilled":
            fulfilled.setdefault(event_id, []).append((side, order))
    for event in session.execute(select(Event).order_by(Event.id)).scalars():
        name = f"event {event.id} ({event.status})"
        if (event.status == "neutral") != (event.certificate_id is not None):
            found.append(Violation("events", f"{name}: neutral and certified disagree"))
        organiser = [order for side, order in fulfilled.get(event.id, []) if side == "organiser"]
        if event.final_total_g is not None and sum(o.quantity_g for o in organiser) > to_offset(event.final_total_g):
            found.append(Violation("events", f"{name}: the organiser retired more than the figure asks"))
        if event.certificate_id is None:
            continue
        document = session.get(Certificate, event.certificate_id)
        payload = document.payload or {}
        record = payload.get("record", {})
        numbers = set(session.execute(select(Certificate.number).where(
            Certificate.retirement_id.in_([o.retirement_id for o in organiser]))).scalars())
        items = payload.get("items", [])
        listed = {item["certificate_no"] for item in items}
        if (document.kind != "event_neutrality" or listed != numbers
                or payload.get("quantity_g") != sum(item["quantity_g"] for item in items)):
            found.append(Violation("events", f"{name}: certificate {document.number} does not vouch for exactly its "
                                             "organiser's retirements"))
        travel = {line["category"]: line["total_g"] for line in record.get("categories", [])}.get(
            "participant_travel", 0)
        counted_participants = record.get("participants", {}).get("counted_g", 0)
        if counted_participants > travel:
            found.append(Violation("events", f"{name}: participants counted beyond the participant travel"))
        if record.get("counted_g") != record.get("organiser_retired_g", 0) + counted_participants or (
                record.get("counted_g", 0) < (event.final_total_g or 0)):
            found.append(Violation("events", f"{name}: neutral with less counted than its final account"))
    return found

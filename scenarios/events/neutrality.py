"""The event's 碳中和证书: one per neutral event, made by the certificate machinery (numbered, signed,
QR-verifiable online and offline, transparency-logged, PDF and share card) as a document over the organiser's
retirements, with participants' offsets counted only up to the participant travel the final account includes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.models import Certificate
from backend.certificates.wording import beijing_date, quantity_text
from backend.footprint.models import FootprintCalculation
from backend.orders.models import Order
from backend.registry import adcode
from backend.registry.models import Organisation
from scenarios.events import rules
from scenarios.events.accounting import variance
from scenarios.events.models import Event, EventPurchase
from scenarios.events.wording import KIND_LABELS

KIND = "event_neutrality"
TITLE, TITLE_EN = "大型活动碳中和证书", "Carbon Neutrality Certificate of a Large Event"
EVALUATION_LABELS = {"self": "自我评价 (self-declared)", "third_party": "第三方评价 (third-party evaluation)"}


def _categories_text(result: dict[str, Any]) -> str:
    return "；".join(f"{line['name']} {quantity_text(line['total_g'])}" for line in result["categories"])


def content(session: Session, event: Event, now: datetime, *, completing: Order | None,
            participant_travel_g: int) -> tuple[int, dict[str, Any]]:
    """(grams the document vouches for — the organiser's retirements it lists —, its content)."""
    organiser = session.get(Organisation, event.org_id)
    rows = session.execute(
        select(Order, EventPurchase.side, Certificate.number, Certificate.payload)
        .join(EventPurchase, EventPurchase.order_id == Order.id)
        .join(Certificate, Certificate.retirement_id == Order.retirement_id)
        .where(EventPurchase.event_id == event.id,
               (Order.status == "fulfilled") | (Order.id == (completing.id if completing else None)))
        .order_by(Order.id)).all()
    organiser_rows = [row for row in rows if row[1] == "organiser"]
    organiser_g = sum(order.quantity_g for order, *_ in organiser_rows)
    participant_g = sum(order.quantity_g for order, side, *_ in rows if side == "participant")
    participants = len({order.user_id for order, side, *_ in rows if side == "participant"})
    counted_participants = min(participant_g, participant_travel_g)
    plan = session.get(FootprintCalculation, event.plan_calculation_id).result
    final = session.get(FootprintCalculation, event.final_calculation_id).result
    lines = variance(plan, final)
    evaluation = event.evaluation or {"mode": "self"}
    evaluated = EVALUATION_LABELS[evaluation["mode"]]
    if evaluation["mode"] == "third_party":
        evaluated += f"：{evaluation['evaluator']}，{evaluation['report_no']}"
    measures = [f"{m['title']}（{m.get('category') or '—'}）"
                + (f"，预计减排 {quantity_text(m['expected_reduction_g'])}" if m.get("expected_reduction_g") else "")
                + (f"，实施情况：{m['outcome']}" if m.get("outcome") else "") for m in event.measures]
    venue = adcode.full_name(event.venue_region) or event.venue_region
    facts = [
        ["活动 Event", f"{event.name}（{KIND_LABELS[event.kind]}）"],
        ["主办方 Organiser", organiser.name],
        ["时间 Dates", f"{event.starts_on.isoformat()} 至 {event.ends_on.isoformat()}"],
        ["地点 Venue", f"{venue}{('，' + event.venue_name) if event.venue_name else ''}"],
        ["核算排放量 Final account", f"{quantity_text(event.final_total_g)} CO2e：{_categories_text(final)}"],
        ["计划与核算差异 Plan vs final", "；".join(f"{line['name']} {line['variance_g'] / 1_000_000:+,.3f} t"
                                              for line in lines)],
        ["减排措施 Reductions", "；".join(measures) or "—"],
        ["抵销量 Offset", f"主办方注销 {quantity_text(organiser_g)}" + (
            f"；参与者自行抵销 {quantity_text(participant_g)}（{participants} 人），其中计入参与者交通 "
            f"{quantity_text(counted_participants)}" if participant_g else "")],
        ["评价方式 Evaluation", evaluated],
        ["实现碳中和 Neutral on", beijing_date(now.isoformat())],
    ]
    if event.retrospective:
        facts.insert(4, ["计划 Plan", "活动开始后补录（追溯）(recorded after the event began)"])
    items = [{"certificate_no": number, "quantity_g": order.quantity_g, "project": payload["project"],
              "batch": payload["batch"], "serials": payload["serials"], "retired_at": payload["retired_at"],
              "beneficiary_masked": payload["beneficiary"]["masked"]} for order, _, number, payload in organiser_rows]
    record = {"event_id": event.id, "organiser": {"id": organiser.id, "name": organiser.name},
              "name": event.name, "kind": event.kind, "starts_on": event.starts_on.isoformat(),
              "ends_on": event.ends_on.isoformat(), "venue_region": event.venue_region,
              "plan_calculation_id": event.plan_calculation_id, "final_calculation_id": event.final_calculation_id,
              "final_total_g": event.final_total_g, "to_offset_g": rules.to_offset(event.final_total_g),
              "categories": final["categories"], "variance": lines, "measures": event.measures,
              "organiser_retired_g": organiser_g, "counted_g": organiser_g + counted_participants,
              "participants": {"count": participants, "retired_g": participant_g,
                               "counted_g": counted_participants},
              "evaluation": evaluation, "retrospective": event.retrospective, "rules": rules.RULES_VERSION}
    # The signed quantity is what the listed retirements add up to; participants' part is stated beside it (their
    # own certificates name the event), so an offline verifier never sees grams the document does not list.
    return organiser_g, {
        "title": TITLE, "title_en": TITLE_EN,
        "statement": f"兹证明：{organiser.name}主办的上述活动，其核算排放已由下列林草碳汇注销抵销，实现碳中和"
                     "（依据生态环境部《大型活动碳中和实施指南（试行）》）。所列碳汇不得再转让或重复使用。",
        "statement_en": "This certifies that the emissions accounted for the event above were offset by retiring the "
                        "forestry and grassland carbon credits below, per MEE's Guideline for Carbon Neutrality of "
                        "Large Events (trial); they cannot be transferred or used again.",
        "facts": facts, "items": items, "record": record}


def issue(session: Session, now: datetime, event: Event, certify, *, completing: Order | None,
          participant_travel_g: int) -> Certificate:
    session.flush()  # the completing order's retirement, for the query in content()
    listed_g, body = content(session, event, now, completing=completing, participant_travel_g=participant_travel_g)
    return certify.issue_document(session, now, kind=KIND, purpose="event", purpose_ref=f"{event.name}（活动 {event.id}）",
                                  quantity_g=listed_g, content=body)

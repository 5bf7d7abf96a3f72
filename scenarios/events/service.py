"""碳汇+大型活动: an organiser neutralises an event per MEE's 《大型活动碳中和实施指南（试行）》.

The record is the event (models.Event): ``draft`` → ``planned`` (the plan: a stored calculation of the event
calculator at stage plan, its boundary, reduction measures and offset method — published with it) →
``accounted`` (the final calculation after the event, with its variance against the plan; it freezes the figure
to offset) → ``neutral`` (retired ≥ that figure; the neutrality certificate issued in the same transaction).
Purchases are ordinary orders (backend.orders) of purpose ``event`` bound to the event by ``EventScenario``: the
organiser's (offline or WeChat Pay Native) count toward the figure; participants' (mini-program) offset their own
trip, and count toward the figure only up to the participant travel the final account includes — so no gram is
ever counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend import audit
from backend.accounts.service import display_name, get_user
from backend.certificates.models import Certificate
from backend.clock import as_utc, beijing_date, isoformat_utc
from backend.errors import Conflict, InvalidInput, NotFound
from backend.footprint.models import FootprintCalculation
from backend.orders.models import Order
from backend.orders.purposes import Bound, NoLongerOwed, Retiring
from backend.orders.service import NOTIFICATION_GRACE_SECONDS
from backend.registry import adcode
from backend.orgs.service import acting_of_kind
from backend.registry.models import ORGANISATION_KINDS, Organisation
from backend.shop.service import MIN_ORDER_G
from scenarios.events import neutrality, rules
from scenarios.events.accounting import categories, variance
from scenarios.events.models import Event, EventPurchase
from scenarios.events.wording import KIND_LABELS, STATUS_LABELS

ORGANISER_KINDS = tuple(kind for kind in ORGANISATION_KINDS if kind not in ("court", "procuratorate"))
MAX_EVENT_DAYS = 366  # an expo may run for months; a year is the longest anything here calls an event


# --- the record ----------------------------------------------------------------------------------------------

def create(session: Session, now: datetime, *, org_id: int, actor: str, body: Any) -> Event:
    acting_of_kind(session, org_id, ORGANISER_KINDS)
    if body.ends_on < body.starts_on:
        raise InvalidInput("ends_on", "结束日期不能早于开始日期 (ends before it starts)")
    if (body.ends_on - body.starts_on).days > MAX_EVENT_DAYS:
        raise InvalidInput("ends_on", f"活动不能长于 {MAX_EVENT_DAYS} 天 (at most {MAX_EVENT_DAYS} days)")
    if not adcode.is_county(body.venue_region):
        raise InvalidInput("venue_region", "应为县级行政区划代码，如 510104 (a county-level GB/T 2260 code)")
    event = Event(org_id=org_id, name=body.name, kind=body.kind, starts_on=body.starts_on, ends_on=body.ends_on,
                  venue_region=body.venue_region, venue_name=body.venue_name,
                  expected_participants=body.expected_participants, area_m2=body.area_m2, status="draft",
                  created_by=actor, created_at=now, updated_at=now)
    session.add(event)
    session.flush()
    audit.append(session, now, actor=actor, action="event.create", object_type="event", object_id=event.id,
                 after={"org_id": org_id, "name": body.name, "kind": body.kind, "starts_on": body.starts_on.isoformat(),
                        "ends_on": body.ends_on.isoformat(), "venue_region": body.venue_region})
    return event


def get_event(session: Session, event_id: int, *, lock: bool = False) -> Event:
    query = select(Event).where(Event.id == event_id)
    if lock:  # read afresh: a copy already in the session may predate what the lock waited for
        query = query.with_for_update().execution_options(populate_existing=True)
    event = session.execute(query).scalar_one_or_none()
    if event is None:
        raise NotFound("活动不存在 (unknown event)")
    return event


def plan(session: Session, now: datetime, event_id: int, *, actor: str, calculation: dict[str, Any],
         measures: list[dict[str, Any]], offset_method: str) -> Event:
    """The plan (stage plan calculation, stored by the caller): published with it. A plan may be replaced until
    the final account; one recorded after the event began is marked retrospective."""
    event = get_event(session, event_id, lock=True)
    if event.status not in ("draft", "planned"):
        raise Conflict(f"活动已{STATUS_LABELS[event.status]}，计划不能再改 (the plan is final once accounted)",
                       code="event_accounted")
    before = event.status
    event.plan_calculation_id, event.plan_total_g = calculation["id"], calculation["total_g"]
    event.boundary = sorted(categories(calculation))
    event.measures, event.offset_method = measures, offset_method
    event.retrospective = beijing_date(now) >= event.starts_on
    event.status, event.planned_at, event.updated_at = "planned", now, now
    session.add(event)
    audit.append(session, now, actor=actor, action="event.plan", object_type="event", object_id=event.id,
                 before={"status": before}, after={"status": "planned", "calculation_id": calculation["id"],
                                                   "total_g": calculation["total_g"],
                                                   "retrospective": event.retrospective, "measures": len(measures)})
    return event


def account(session: Session, now: datetime, event_id: int, *, actor: str, calculation: dict[str, Any],
            outcomes: list[dict[str, Any]] | None, evaluation: dict[str, Any], certify) -> Event:
    """The final account, once the event has ended (Beijing time): it freezes the figure to offset. If what
    participants already offset covers it (a small event, all travel), the event is neutral at once."""
    if calculation["total_g"] <= 0:
        raise InvalidInput("calculation", "核算排放量为零，没有可抵销的内容 (the final account comes to nothing)")
    event = get_event(session, event_id, lock=True)
    if event.status == "draft":
        raise Conflict("请先制定碳中和计划 (make the plan first)", code="event_not_planned")
    if event.status in ("accounted", "neutral"):
        raise Conflict("活动已核算，核算结果已冻结 (the final account is frozen)", code="event_accounted")
    if beijing_date(now) <= event.ends_on:
        raise Conflict(f"活动 {event.ends_on.isoformat()} 结束后方可核算 (the final account comes after the event "
                       "ends, Beijing time)", code="event_not_ended", details={"ends_on": event.ends_on.isoformat()})
    if outcomes is not None:
        if len(outcomes) != len(event.measures):
            raise InvalidInput("measure_outcomes", f"应为每项减排措施各填一条，共 {len(event.measures)} 条 "
                                                   "(one outcome per reduction measure)")
        event.measures = [{**measure, "outcome": outcome} for measure, outcome in zip(event.measures, outcomes)]
    event.final_calculation_id, event.final_total_g = calculation["id"], calculation["total_g"]
    event.evaluation = evaluation
    event.status, event.accounted_at, event.updated_at = "accounted", now, now
    session.add(event)
    audit.append(session, now, actor=actor, action="event.account", object_type="event", object_id=event.id,
                 before={"status": "planned"}, after={"status": "accounted", "calculation_id": calculation["id"],
                                                      "total_g": calculation["total_g"],
                                                      "plan_total_g": event.plan_total_g})
    session.flush()
    _neutral_if_met(session, now, event, progress(session, event.id, now), certify, actor=actor)
    return event


def _neutral_if_met(session: Session, now: datetime, event: Event, done: Progress, certify, *, actor: str,
                    completing: Order | None = None) -> None:
    """Neutral once what counts reaches the final account: the certificate is issued in this transaction.
    ``completing``: the order being fulfilled now, which counts though its status says paid until commit."""
    travel = participant_travel_g(session, event)
    if done.counted_g(travel) < event.final_total_g:
        return
    certificate = neutrality.issue(session, now, event, certify, completing=completing, participant_travel_g=travel)
    event.status, event.neutral_at, event.certificate_id, event.updated_at = "neutral", now, certificate.id, now
    session.add(event)
    audit.append(session, now, actor=actor, action="event.neutral", object_type="event", object_id=event.id,
                 before={"status": "accounted"},
                 after={"status": "neutral", "certificate": certificate.number, "counted_g": done.counted_g(travel)})


# --- progress ------------------------------------------------------------------------------------------------

@dataclass
class Progress:
    organiser_g: int = 0
    participant_g: int = 0
    participants: int = 0
    organiser_pending_g: int = 0

    def counted_g(self, participant_travel_g: int) -> int:
        """What counts toward the event's figure: every organiser gram, and participants' grams up to the
        participant travel the final account includes (beyond that they are the participants' own)."""
        return self.organiser_g + min(self.participant_g, participant_travel_g)


def progress(session: Session, event_id: int, now: datetime, *, excluding: int | None = None) -> Progress:
    grace = timedelta(seconds=NOTIFICATION_GRACE_SECONDS)
    rows = session.execute(select(EventPurchase.side, Order.id, Order.status, Order.quantity_g, Order.expires_at,
                                  Order.channel, Order.user_id)
                           .join(Order, Order.id == EventPurchase.order_id).where(EventPurchase.event_id == event_id))
    found, people = Progress(), set()
    for side, order_id, status, grams, expires_at, channel, user_id in rows:
        if order_id == excluding:
            continue
        if status == "fulfilled":
            if side == "organiser":
                found.organiser_g += grams
            else:
                found.participant_g += grams
                people.add(user_id)
        elif (side == "organiser" and status == "reserved"
              and as_utc(expires_at) + (grace if channel != "offline" else timedelta(0)) > now):
            found.organiser_pending_g += grams
    found.participants = len(people)
    return found


def participant_travel_g(session: Session, event: Event) -> int:
    if event.final_calculation_id is None:
        return 0
    final = session.get(FootprintCalculation, event.final_calculation_id)
    return categories(final.result).get("participant_travel", 0)


def still_to_offset(session: Session, event: Event, done: Progress) -> int:
    """Grams the organiser is still to buy: the final figure rounded up to the kilogram, less what counts and
    what unpaid orders hold. (Neutral is reached at the figure itself: retired ≥ the final account.)"""
    figure = rules.to_offset(event.final_total_g)
    return max(0, figure - done.counted_g(participant_travel_g(session, event)) - done.organiser_pending_g)


def is_overdue(event: Event, now: datetime) -> bool:
    return event.status != "neutral" and beijing_date(now) > rules.offset_deadline(event.ends_on)


def overdue_count(session: Session, now: datetime) -> int:
    """How many events ``is_overdue`` (the dashboard). A deadline is a year after the event ends, so only events
    that ended more than 365 days ago can be overdue: those are looked at, each asked as its page asks it."""
    ended_long_ago = beijing_date(now) - timedelta(days=365)
    candidates = session.execute(select(Event).where(Event.status != "neutral", Event.ends_on < ended_long_ago))
    return sum(1 for event in candidates.scalars() if is_overdue(event, now))


def shown_status(event: Event, now: datetime) -> str:
    return "overdue" if is_overdue(event, now) else event.status


# --- the order flow's questions (backend.orders.purposes) -------------------------------------------------------

EVENT_REF = "event:"


class EventScenario:
    """Binds ``event`` orders to an event: the organiser's toward its figure, a citizen's for their own trip."""

    purpose = "event"
    reference_fields = ("event_id",)
    bounds_quantity = False  # a participant's trip is theirs to size: the citizen's own limits apply
    prices_orders = False

    def canonical(self, reference: dict[str, Any]) -> dict[str, Any]:
        value = reference["event_id"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
            raise InvalidInput("event_id", "应为活动编号 (an event id)")
        return {"event_id": value}

    def bind(self, session: Session, now: datetime, *, reference: dict[str, Any], buyer: str, listing_id: int,
             quantity_g: int, amount_fen: int, price_fen_per_t: int) -> Bound:
        event = get_event(session, reference["event_id"], lock=True)
        side = "organiser" if buyer.startswith("org:") else "participant"
        if side == "organiser":
            if buyer != f"org:{event.org_id}":
                raise NotFound("活动不存在 (unknown event)")
            if event.status == "neutral":
                raise Conflict("活动已实现碳中和，无需再购买 (the event is already neutral)", code="event_neutral")
            if event.status != "accounted":
                raise Conflict("活动结束并完成核算后再抵销 (offset after the final account)", code="event_not_accounted")
            room = still_to_offset(session, event, progress(session, event.id, now))
            if room == 0 or quantity_g > room:
                raise Conflict(f"超出待抵销量：尚需 {room} 克，本次 {quantity_g} 克 (more than is left to offset)",
                               code="overpayment", details={"field": "quantity_g", "owed_g": room,
                                                            "requested_g": quantity_g})
            least = 1 if quantity_g >= room else MIN_ORDER_G  # what is left may be under a kilogram
        else:
            least = MIN_ORDER_G
        if side == "participant" and event.status == "draft":
            raise NotFound("活动不存在 (unknown event)")  # not published yet
        return Bound(purpose_ref=f"{EVENT_REF}{event.id}", min_g=least, on_created=lambda s, order: s.add(
            EventPurchase(order_id=order.id, event_id=event.id, side=side)))

    def before_retire(self, session: Session, now: datetime, order: Order) -> Retiring:
        event = get_event(session, int(order.purpose_ref.removeprefix(EVENT_REF)), lock=True)
        reference = f"{event.name}（活动 {event.id}）"  # names are not unique across organisers; the id is
        if order.org_id is not None:
            if event.status == "neutral":
                raise NoLongerOwed("活动已实现碳中和 (the event is already neutral)")
            # Paid late (an offline order past its deadline, a Native one past its grace): others may have been
            # placed in its room since. The organiser never retires more than the figure asks.
            room = still_to_offset(session, event, progress(session, event.id, now, excluding=order.id))
            if order.quantity_g > room:
                raise NoLongerOwed("已由其他订单抵销 (other orders offset what this one was for)")
            organisation = session.get(Organisation, event.org_id)
            return Retiring(purpose_ref=reference, beneficiary_name=organisation.name)
        return Retiring(purpose_ref=reference, beneficiary_name=display_name(get_user(session, order.user_id)))

    def after_retire(self, session: Session, now: datetime, order: Order, retirement: Any, certify: Any) -> None:
        event = get_event(session, int(order.purpose_ref.removeprefix(EVENT_REF)), lock=True)
        if event.status != "accounted":
            return
        done = progress(session, event.id, now, excluding=order.id)  # this order is fulfilled once this returns
        if order.org_id is not None:
            done.organiser_g += order.quantity_g
        else:
            done.participant_g += order.quantity_g
        _neutral_if_met(session, now, event, done, certify, actor=order.placed_by or f"order:{order.order_no}",
                        completing=order)


# --- views ---------------------------------------------------------------------------------------------------

def _calculation(session: Session, calculation_id: str | None) -> dict[str, Any] | None:
    if calculation_id is None:
        return None
    return session.get(FootprintCalculation, calculation_id).result


def event_view(session: Session, event: Event, now: datetime, *, public: bool = False) -> dict[str, Any]:
    done = progress(session, event.id, now)
    plan_result, final_result = _calculation(session, event.plan_calculation_id), _calculation(
        session, event.final_calculation_id)
    travel = participant_travel_g(session, event)
    organiser = session.get(Organisation, event.org_id)
    certificate = session.get(Certificate, event.certificate_id) if event.certificate_id else None
    counted_g, counted_participants_g = done.counted_g(travel), min(done.participant_g, travel)
    if certificate is not None:  # neutral: what counted is what the certificate says; later offsets are people's own
        counted_g = certificate.payload["record"]["counted_g"]
        counted_participants_g = certificate.payload["record"]["participants"]["counted_g"]
    view = {
        "id": event.id, "name": event.name, "kind": event.kind, "kind_label": KIND_LABELS[event.kind],
        "organiser": organiser.name, "starts_on": event.starts_on.isoformat(), "ends_on": event.ends_on.isoformat(),
        "venue_region": event.venue_region, "venue_region_name": adcode.full_name(event.venue_region) or None,
        "venue_name": event.venue_name, "expected_participants": event.expected_participants,
        "area_m2": event.area_m2, "large_event": rules.is_large(event.kind, event.expected_participants, event.area_m2),
        "large_event_source": rules.LARGE_SOURCE, "status": shown_status(event, now),
        "status_label": STATUS_LABELS[shown_status(event, now)], "overdue": is_overdue(event, now),
        "deadline": rules.offset_deadline(event.ends_on).isoformat(), "retrospective": event.retrospective,
        "plan": None if plan_result is None else {
            "calculation_id": event.plan_calculation_id, "total_g": event.plan_total_g,
            "categories": plan_result["categories"], "boundary": event.boundary, "measures": event.measures,
            "offset_method": event.offset_method, "planned_at": isoformat_utc(event.planned_at)},
        "final": None if final_result is None else {
            "calculation_id": event.final_calculation_id, "total_g": event.final_total_g,
            "to_offset_g": rules.to_offset(event.final_total_g), "categories": final_result["categories"],
            "variance": variance(plan_result, final_result),
            "variance_g": event.final_total_g - (event.plan_total_g or 0), "evaluation": event.evaluation,
            "accounted_at": isoformat_utc(event.accounted_at)},
        "final_total_g": event.final_total_g, "plan_total_g": event.plan_total_g,
        "retired_g": counted_g, "organiser_retired_g": done.organiser_g,
        "participants": {"count": done.participants, "retired_g": done.participant_g,
                         "counted_g": counted_participants_g},
        "certificate_no": certificate.number if certificate else None,
    }
    if not public:
        view["org_id"] = event.org_id
        view["to_offset_left_g"] = (still_to_offset(session, event, done) if event.status == "accounted" else None)
        view["orders"] = [{"order_no": o.order_no, "status": o.status, "channel": o.channel, "quantity_g": o.quantity_g,
                           "amount_fen": o.amount_fen, "created_at": isoformat_utc(o.created_at)}
                          for o in session.execute(select(Order).join(EventPurchase, EventPurchase.order_id == Order.id)
                                                   .where(EventPurchase.event_id == event.id,
                                                          EventPurchase.side == "organiser")
                                                   .order_by(Order.id)).scalars()]
    return view


def list_events(session: Session, *, org_ids: list[int] | None) -> list[Event]:
    query = select(Event).order_by(Event.id.desc())
    if org_ids is not None:
        query = query.where(Event.org_id.in_(org_ids))
    return list(session.execute(query).scalars())

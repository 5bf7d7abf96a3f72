"""碳汇+大型活动 over JSON: the organiser's people under /api/org/v1/events (a member's personal token), the
public under /api/v1/events, participants in the mini-program. Who may call each route: backend/access/policy.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from pydantic import ValidationError

from sqlalchemy import select

from backend import certificates
from backend.access.identity import staff_principal
from backend.access.scope import acting_organisation, check_record, readable_organisations
from backend.db import atomic, read
from backend.errors import InvalidInput, NotFound
from backend.footprint import service as footprint
from backend.footprint.calculators import event as event_calculator
from backend.http import Route, anchored, idempotency_key, register, validation_error
from backend.orders import service as orders
from backend.orders import organisation as organisation_orders
from backend.orders.models import Order
from backend.orders.schemas import OperatorOrderOut
from backend.schemas import Items
from scenarios.events import schemas, service
from scenarios.events.codes import participant_code_image
from scenarios.events.models import EventPurchase

org_bp = Blueprint("events_org_api", __name__, url_prefix="/api/org/v1")
public_bp = Blueprint("events_public_api", __name__, url_prefix="/api/v1")
mp_bp = Blueprint("events_mp_api", __name__, url_prefix="/api/mp/v1")
ORGANISERS = service.ORGANISER_KINDS
READERS = ("reviewer", "finance", "auditor")


def _now():
    return current_app.config["CLOCK"]()


def _event_of_mine(s, event_id: int, least: str, *, acting: bool = True):
    event = service.get_event(s, event_id)
    check_record(staff_principal(), event.org_id, ORGANISERS, least, READERS if least == "viewer" else (),
                 acting=acting, what="活动 (event)")
    return event


def _calculate(event_id: int, given: dict[str, Any], stage: str) -> dict[str, Any]:
    """The event calculator on the organiser's body, for this event and stage (name, venue and head count
    default to the event's); stored with the stage it is for."""
    event = read(lambda s: _event_of_mine(s, event_id, "clerk"))
    fixed = {"stage": stage, "venue": event.venue_region, "name": event.name}  # the event's, not the body's to move
    for name, value in fixed.items():
        if given.get(name, value) != value:
            raise InvalidInput(f"calculation.{name}", f"应为 {value}，与本活动一致 (must be the event's: {value})")
    body = {"participants": event.expected_participants, **given, **fixed}
    try:
        inputs = event_calculator.Input.model_validate(body)
    except ValidationError as error:
        raise validation_error(error, prefix=("calculation",)) from None
    try:
        return footprint.calculate(event_calculator, inputs, footprint.factor_set(inputs.factor_set))
    except InvalidInput as error:  # the calculator's own refusals, named where the body put them
        raise InvalidInput(f"calculation.{error.details[0]['field']}", error.details[0]["message"],
                           code=error.code) from None


def create_event(body: schemas.EventIn):
    principal = staff_principal()
    org_id = acting_organisation(principal, ORGANISERS, "clerk", body.org_id)
    now = _now()
    event_id = atomic(lambda s: service.create(s, now, org_id=org_id, actor=principal.actor, body=body).id)
    return read(lambda s: service.event_view(s, service.get_event(s, event_id), now))


def list_events(query: schemas.Query):
    principal, now = staff_principal(), _now()
    org_ids = readable_organisations(principal, ORGANISERS, READERS)
    if query.org_id is not None:
        if org_ids is not None and query.org_id not in org_ids:  # another organisation: not yours to learn of
            raise NotFound("机构不存在 (unknown organisation)")
        org_ids = [query.org_id]
    return {"items": read(lambda s: [service.event_view(s, e, now) for e in service.list_events(s, org_ids=org_ids)])}


def get_event(event_id: int):
    now = _now()
    return read(lambda s: service.event_view(s, _event_of_mine(s, event_id, "viewer", acting=False), now))


def put_plan(event_id: int, body: schemas.PlanIn):
    """The plan: the event calculation at stage plan, the measures and the offset method; published with it."""
    result, actor, now = _calculate(event_id, body.calculation, "plan"), staff_principal().actor, _now()

    def act(s):
        _event_of_mine(s, event_id, "clerk")
        footprint.keep(s, result, now)
        event = service.plan(s, now, event_id, actor=actor, calculation=result,
                             measures=[m.model_dump() for m in body.measures], offset_method=body.offset_method)
        return {**service.event_view(s, event, now), "total_g": result["total_g"]}
    return atomic(act)


def put_final(event_id: int, body: schemas.FinalIn):
    """The final account after the event ends: it freezes the figure to offset, with its variance from the plan."""
    evaluation = body.evaluation.model_dump()
    if evaluation["mode"] == "third_party" and not (evaluation["evaluator"] and evaluation["report_no"]):
        raise InvalidInput("evaluation.evaluator", "第三方评价须写明评价机构和报告编号 (name the evaluator and report)")
    result, actor, now = _calculate(event_id, body.calculation, "final"), staff_principal().actor, _now()
    certify = certificates.certify()

    def act(s):
        _event_of_mine(s, event_id, "clerk")
        footprint.keep(s, result, now)
        event = service.account(s, now, event_id, actor=actor, calculation=result, outcomes=body.measure_outcomes,
                                evaluation=evaluation, certify=certify)
        view = service.event_view(s, event, now)
        return {**view, "total_g": result["total_g"], "variance_g": view["final"]["variance_g"]}
    return atomic(act)


def place_order(event_id: int, body: schemas.EventOrderIn):
    """The organiser offsets the event: offline (bank transfer, which finance records:
    POST /api/admin/v1/orders/<order_no>/offline-payment) or WeChat Pay Native (a QR to scan from a PC)."""
    principal = staff_principal()
    event = read(lambda s: _event_of_mine(s, event_id, "clerk"))
    return organisation_orders.place(org_id=event.org_id, actor=principal.actor, payment=body.payment,
                                     idempotency_key=idempotency_key(), listing_id=body.listing_id,
                                     quantity_g=body.quantity_g, purpose="event",
                                     reference={"event_id": event_id})


def withdraw_order(event_id: int, order_no: str):
    """Withdraw an unpaid offline order (the transfer will not come): its credits go back on sale, and the rest
    of the figure can be ordered again."""
    principal, now = staff_principal(), _now()
    _check_order_is_the_events(event_id, order_no)

    def act(s):
        event = _event_of_mine(s, event_id, "clerk")
        return orders.order_view(s, orders.cancel_unpaid(s, now, order_no, org_id=event.org_id,
                                                         actor=principal.actor), for_operator=True)
    return atomic(act)


def get_order(event_id: int, order_no: str):
    """One of the event's orders, for the page that shows a Native QR and polls: an unpaid Native order asks
    WeChat Pay first (at most once per MP_ORDER_QUERY_INTERVAL_SECONDS)."""
    event = read(lambda s: _event_of_mine(s, event_id, "viewer", acting=False))
    _check_order_is_the_events(event_id, order_no)
    return organisation_orders.status(org_id=event.org_id, order_no=order_no)


def order_qr(event_id: int, order_no: str):
    """The Native order's code_url as a QR code (PNG), to scan with WeChat from the PC screen."""
    event = read(lambda s: _event_of_mine(s, event_id, "viewer", acting=False))
    _check_order_is_the_events(event_id, order_no)
    return organisation_orders.qr_png(org_id=event.org_id, order_no=order_no)


def _check_order_is_the_events(event_id: int, order_no: str) -> None:
    def check(s):
        found = s.execute(select(EventPurchase.event_id).join(Order, Order.id == EventPurchase.order_id)
                          .where(Order.order_no == order_no)).scalar_one_or_none()
        if found != event_id:
            raise NotFound("订单不存在 (unknown order)")
    read(check)


def participant_code(event_id: int):
    """A 小程序码 for the venue's screens and badges: it opens the event in the mini-program (scene e=<id>), where a
    participant's trip calculator starts with the venue as destination."""
    read(lambda s: _event_of_mine(s, event_id, "viewer", acting=False))
    return participant_code_image(event_id)


# --- the public and participants -------------------------------------------------------------------------------

def _published(s, event_id: int):
    event = service.get_event(s, event_id)
    if event.status == "draft":  # unpublished: not the public's to learn of
        raise NotFound("活动不存在 (unknown event)")
    return event


def public_event(event_id: int):
    """The plan, the final figure, the offset's progress, participants' offsets and the certificate."""
    now = _now()
    return read(lambda s: service.event_view(s, _published(s, event_id), now, public=True))


def participant_event(event_id: int):
    """What a participant sees after scanning the event's code: the event, and the trip calculator's prefill
    (the venue as destination); offsetting is POST /api/mp/v1/orders with purpose event and this event_id."""
    now = _now()

    def view(s):
        event = _published(s, event_id)
        return {**service.event_view(s, event, now, public=True),
                "trip_prefill": {"destination": event.venue_region, "calculator": "/api/v1/footprint/trip"}}
    return read(view)


EVENT = "/events/<int:event_id>"
ORDER_NO = {"order_no": anchored(orders.ORDER_NO_PATTERN)}
ORG_ROUTES = [
    Route("POST", "/events", create_event, "Record an event of my organisation (draft)", body=schemas.EventIn,
          status=201, tags=("events",), response=schemas.EventOut, errors=(404, 409)),
    Route("GET", "/events", list_events, "My organisation's events", query=schemas.Query, tags=("events",),
          response=Items[schemas.EventOut]),
    Route("GET", EVENT, get_event, "One event: stages, figures, orders, participants, certificate",
          tags=("events",), response=schemas.EventOut),
    Route("PUT", f"{EVENT}/plan", put_plan, "The plan: calculation (stage plan), measures, offset method; published",
          body=schemas.PlanIn, tags=("events",), response=schemas.PlannedOut, errors=(409,)),
    Route("PUT", f"{EVENT}/final", put_final, "The final account after the event (stage final): freezes the figure",
          body=schemas.FinalIn, tags=("events",), response=schemas.AccountedOut, errors=(409,),
          description="Refused (409 event_not_ended) until the event's last day has passed, Beijing time."),
    Route("POST", f"{EVENT}/orders", place_order, "Offset the event: an order paid offline or by WeChat Pay Native",
          body=schemas.EventOrderIn, status=201, idempotent=True, tags=("events",), response=OperatorOrderOut,
          errors=(404, 409, 503)),
    Route("GET", f"{EVENT}/orders/<order_no>", get_order, "One of the event's orders (an unpaid Native one asks WeChat "
          "Pay first)", tags=("events",), response=OperatorOrderOut, params=ORDER_NO, errors=(503,)),
    Route("POST", f"{EVENT}/orders/<order_no>/withdraw", withdraw_order, "Withdraw an unpaid offline order",
          tags=("events",), response=OperatorOrderOut, params=ORDER_NO, errors=(409,)),
    Route("GET", f"{EVENT}/orders/<order_no>/qr.png", order_qr, "An unpaid Native order's QR code to scan from a PC",
          tags=("events",), media_type="image/png", params=ORDER_NO),
    Route("GET", f"{EVENT}/participant-code", participant_code, "The event's 小程序码 for participants",
          tags=("events",), media_type=("image/jpeg", "image/png"), errors=(503,)),
]
PUBLIC_ROUTES = [
    Route("GET", EVENT, public_event, "A published event: plan, final figure, offset progress, certificate",
          tags=("public",), response=schemas.EventOut),
]
MP_ROUTES = [
    Route("GET", EVENT, participant_event, "An event a participant scanned, with the trip calculator's prefill",
          tags=("events",), response=schemas.EventOut),
]
register(org_bp, ORG_ROUTES)
register(public_bp, PUBLIC_ROUTES)
register(mp_bp, MP_ROUTES)

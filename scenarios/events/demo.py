"""The events scenario's demo: the demo organiser's marathon (成都马拉松组委会（演示）), recorded and planned, so
that /org/events, its charts, the public page /e/<id> and participants' offsets can be tried (README)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from backend.db import atomic, read
from backend.footprint import service as footprint
from backend.footprint.calculators import event as event_calculator
from backend.registry.models import Organisation
from scenarios.events import schemas, service
from scenarios.events.models import Event

ORGANISER_CREDIT_CODE = "51510100MJ0000002C"  # the demo organiser of backend/demo.py
NAME = "2027 成都马拉松（演示）"
ACTOR = "operator:demo"
PLAN = {"venue_energy": {"electricity_kwh": "8000", "diesel_l": "600"},
        "participant_travel": [{"origin": "110105", "mode": "flight", "count": 1200},
                               {"origin": "500103", "mode": "hsr", "count": 3000},
                               {"distance_km": "12", "mode": "metro", "count": 25000}],
        "accommodation_room_nights": "6000", "materials": [{"kind": "plastic", "kg": "900"}], "waste_kg": "12000"}


def load(now: datetime, certify) -> list[str]:  # noqa: ARG001 (the loaders' signature: this one certifies nothing)
    def find(session):
        organiser = session.execute(select(Organisation).where(
            Organisation.credit_code == ORGANISER_CREDIT_CODE)).scalar_one()
        event = session.execute(select(Event).where(Event.org_id == organiser.id, Event.name == NAME)
                                ).scalar_one_or_none()
        return organiser.id, event
    org_id, event = read(find)
    if event is not None:
        return [f"event {NAME} ({event.status}, /e/{event.id})"]
    body = schemas.EventIn(name=NAME, kind="match", starts_on=date(2027, 10, 31), ends_on=date(2027, 10, 31),
                           venue_region="510107", venue_name="成都东安湖体育公园（演示）", expected_participants=30_000)
    inputs = event_calculator.Input.model_validate({**PLAN, "name": NAME, "stage": "plan", "venue": "510107",
                                                    "participants": 30_000})
    result = footprint.calculate(event_calculator, inputs, footprint.factor_set(None))  # outside the write

    def make(session):
        made = service.create(session, now, org_id=org_id, actor=ACTOR, body=body)
        footprint.keep(session, result, now)
        service.plan(session, now, made.id, actor=ACTOR, calculation=result, offset_method="购买林草碳汇注销抵销",
                     measures=[{"title": "赛道补给站使用可降解杯", "category": "materials", "expected_reduction_g": None,
                                "note": None},
                               {"title": "鼓励选手乘坐地铁到达起点", "category": "participant_travel",
                                "expected_reduction_g": None, "note": None}])
        return made.id
    event_id = atomic(make)
    return [f"event {NAME} (planned, /e/{event_id})"]

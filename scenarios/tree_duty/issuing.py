"""Issuing a paid staff list's vouchers: one per person it pays for, by a background job, a chunk per unit of work.

The order's single retirement is shared out: each person's voucher vouches for ``quantity_g // persons`` grams,
their own sub-range of its serials, taken in the order of the list's lines, so no two vouchers share a serial
and a second run finds the same shares. What is owed is in the database — a list ``paid`` with fewer vouchers
than ``persons`` —, so the job is only the prompt (backend/jobs.py, contract 2): a lost job is queued again when
someone looks at a list that has not moved for a minute, and ``flask tree-duty issue`` does the work in place.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import click
import redis
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlmodel import Session

from backend import certificates, jobs
from backend.certificates.models import Certificate
from backend.clock import as_utc
from backend.db import atomic, read
from backend.orders.models import Order
from backend.registry.models import Organisation
from scenarios.tree_duty.models import DutyRoster, DutyRosterEntry, DutyRule, DutyVoucher
from scenarios.tree_duty.roster import get_roster
from scenarios.tree_duty.service import ISSUE_JOB
from scenarios.tree_duty.voucher import Item, Person, issue, share_of

log = logging.getLogger(__name__)
CHUNK = 200
"""Vouchers per unit of work: each is a signature and a transparency-log append, so a chunk holds the list's row
lock for a few seconds at most, and progress shows as it goes."""
STALLED = timedelta(minutes=1)


def issue_chunk(session: Session, now: datetime, certify, roster_id: int, *, limit: int = CHUNK) -> int:
    """Issue up to ``limit`` of the vouchers the list still owes, under its row lock; how many are still owed
    after (0 once the list is ``issued``, or when it is not paid)."""
    roster = get_roster(session, roster_id, lock=True)
    if roster.status != "paid":
        return 0
    order = session.get(Order, roster.order_id)
    retirement = session.execute(select(Certificate).where(Certificate.retirement_id == order.retirement_id)
                                 ).scalar_one()
    rule = session.get(DutyRule, roster.rule_id)
    organisation = session.get(Organisation, roster.org_id)
    paid_for = list(session.execute(select(DutyRosterEntry.id).where(DutyRosterEntry.roster_id == roster.id,
                                                                     DutyRosterEntry.paid_for.is_(True))
                                    .order_by(DutyRosterEntry.line)).scalars())
    done = set(session.execute(select(DutyVoucher.person).where(DutyVoucher.order_id == order.id)).scalars())
    owed = [(index, entry_id) for index, entry_id in enumerate(paid_for) if f"staff:{entry_id}" not in done]
    batch = owed[:limit]
    entries = {entry.id: entry for entry in session.execute(
        select(DutyRosterEntry).where(DutyRosterEntry.id.in_([entry_id for _, entry_id in batch]))).scalars()}
    share = order.quantity_g // roster.persons
    for index, entry_id in batch:
        entry = entries[entry_id]
        person = Person(key=f"staff:{entry.id}", name=entry.name, birth_year=entry.birth_year, sex=entry.sex,
                        relation="staff", org_id=roster.org_id)
        item = Item(retirement.number, share, retirement.payload,
                    share_of(retirement.payload["serials"], index * share, share))
        issue(session, now, certify, person=person, year=roster.year,
              tier="duty" if entry.of_duty_age else "honour", rule=rule, amount_fen=rule.duty_fen, items=[item],
              order_id=order.id, of_age=entry.of_duty_age,
              extra={"roster_id": roster.id, "organisation": organisation.name, "staff_no": entry.staff_no})
    roster.issued = len(done) + len(batch)
    roster.progressed_at = now
    if roster.issued == roster.persons:
        roster.status, roster.issued_at = "issued", now
    session.add(roster)
    return roster.persons - roster.issued


def issue_all(roster_id: int, *, chunk: int = CHUNK, on_chunk=None) -> None:
    """Issue every voucher the list owes, a chunk per unit of work (a failure keeps what earlier chunks did)."""
    certify, clock = certificates.certify(), current_app.config["CLOCK"]
    while True:
        owed = atomic(lambda s: issue_chunk(s, clock(), certify, roster_id, limit=chunk))
        if on_chunk is not None:
            on_chunk(owed)
        if owed == 0:
            return


@jobs.job(ISSUE_JOB)
def issue_roster(roster_id: int) -> None:
    """The job the list's payment queues (service.TreeDutyScenario.after_retire): idempotent, as issue_chunk
    finds what is still owed."""
    issue_all(roster_id)


def requeue_if_stalled(roster: DutyRoster, now: datetime) -> bool:
    """Queue the list's job again if it is paid and has not moved for STALLED (its job lost with Redis, or dead):
    at most once per STALLED across every app process. Whether it queued."""
    if roster.status != "paid" or (roster.progressed_at is not None
                                   and now - as_utc(roster.progressed_at) < STALLED):
        return False
    try:
        if not jobs.claim_once("tree_duty.requeue", str(roster.id), keep_seconds=int(STALLED.total_seconds())):
            return False
    except redis.RedisError as error:
        log.warning("staff list %s not queued again, Redis unavailable: %s", roster.id, error)
        return False
    return jobs.enqueue((ISSUE_JOB, {"roster_id": roster.id}))


cli = AppGroup("tree-duty", help="碳汇+全民义务植树: organisations' staff lists.")


@cli.command("issue")
@click.option("--roster", "roster_id", type=int, default=None, help="only this staff list")
def issue_command(roster_id: int | None) -> None:
    """Issue the vouchers every paid staff list still owes, here and now (what the job does)."""
    ids = [roster_id] if roster_id is not None else read(lambda s: list(s.execute(
        select(DutyRoster.id).where(DutyRoster.status == "paid").order_by(DutyRoster.id)).scalars()))
    for found in ids:
        issue_all(found, on_chunk=lambda owed, found=found: click.echo(f"staff list {found}: {owed} still owed"))
    click.echo(f"{len(ids)} staff list(s) done")

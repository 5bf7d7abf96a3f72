"""Tree-duty orders: whose duty, what the rule says is due, and the vouchers a payment earns.

A citizen pays for themself or a family member (``tree_duty: {year, region, tier?, member_id?, amount_fen?}``);
an organisation pays for a checked staff list (``tree_duty: {roster_id}``, scenarios/tree_duty/roster.py). The
order's amount is the rule's, not a quantity's price: the scenario prices it (``due``), and the credits are what
the money buys at the listing's price, rounded down to the gram.

Locks: a citizen's duty is theirs and their family's, so the citizen's row is the record's lock (the order service
takes it first when placing; ``before_retire`` takes it when paid); a staff list's row is its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from backend import jobs
from backend.accounts.service import get_user
from backend.certificates.models import Certificate
from backend.clock import beijing_date
from backend.errors import Conflict, InvalidInput, NotFound
from backend.orders.models import Order
from backend.orders.purposes import Bound, Due, NoLongerOwed, Retiring
from backend.registry.models import Organisation
from scenarios.tree_duty import rules
from scenarios.tree_duty.models import TIERS, DutyMember, DutyPayment, DutyRoster, DutyRule, DutyVoucher
from scenarios.tree_duty.voucher import Item, Person, issue

REF = "tree-duty:"
ISSUE_JOB = "tree_duty.issue_roster"


# --- whose duty --------------------------------------------------------------------------------------------------

def self_person(session: Session, user_id: int, *, lock: bool = False) -> Person:
    """The citizen, as their profile says; the voucher needs the real name, and duty age the birth year and sex."""
    user = get_user(session, user_id, lock=lock, active=True)
    for name in ("real_name", "birth_year", "sex"):
        if getattr(user, name) is None:
            raise InvalidInput(name, "义务植树凭证需要实名、出生年份和性别，请先在资料中填写 (PATCH /api/mp/v1/me: the "
                                     "voucher needs the real name, birth year and sex)", code="profile_incomplete")
    return Person(key=f"user:{user.id}", name=user.real_name, birth_year=user.birth_year, sex=user.sex,
                  relation="self", user_id=user.id)


def member_person(session: Session, user_id: int, member_id: int) -> Person:
    member = session.get(DutyMember, member_id)
    if member is None or member.user_id != user_id or member.name is None:
        raise NotFound("家庭成员不存在 (unknown family member)")
    return Person(key=f"member:{member.id}", name=member.name, birth_year=member.birth_year, sex=member.sex,
                  relation="family", user_id=user_id)


def _person(session: Session, user_id: int, member_id: int | None, *, lock: bool = False) -> Person:
    if member_id is None:
        return self_person(session, user_id, lock=lock)
    if lock:
        get_user(session, user_id, lock=True)
    return member_person(session, user_id, member_id)


# --- what the year counts ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Paid:
    order: Order
    payment: DutyPayment


def payments(session: Session, person: str, year: int, *, including: Order | None = None) -> list[Paid]:
    """The person's fulfilled tree-duty payments of the year, oldest first (and ``including``, being fulfilled)."""
    rows = session.execute(
        select(Order, DutyPayment).join(DutyPayment, DutyPayment.order_id == Order.id)
        .where(DutyPayment.person == person, DutyPayment.year == year,
               (Order.status == "fulfilled") | (Order.id == (including.id if including else None)))
        .order_by(Order.id)).all()
    return [Paid(order, payment) for order, payment in rows]


def year_rule(session: Session, now: datetime, person: str, year: int, region: str, *,
              field: str = "region") -> DutyRule:
    """The rule a person's year is judged under: the version their first fulfilled payment of the year was made
    under, whatever region or version is asked for since (one duty a person a year, finished under the rule it
    began with: a reviewer's change, or a second region's cheaper rule, never makes a discharged year owe again);
    else the region's rule in force today — or, for a past year, on its last day."""
    first = session.execute(
        select(DutyPayment.rule_id).join(Order, Order.id == DutyPayment.order_id)
        .where(DutyPayment.person == person, DutyPayment.year == year, Order.status == "fulfilled")
        .order_by(Order.id).limit(1)).scalar_one_or_none()
    if first is not None:
        return session.get(DutyRule, first)
    day = beijing_date(now)
    return rules.rule_for(session, now, region, day if year == day.year else min(day, _last_day(year)), field=field)


def _pending(session: Session, now: datetime, person: str, year: int) -> Order | None:
    return session.execute(
        select(Order).join(DutyPayment, DutyPayment.order_id == Order.id)
        .where(DutyPayment.person == person, DutyPayment.year == year, Order.status == "reserved",
               Order.expires_at > now).limit(1)).scalar_one_or_none()


def held(session: Session, person: str, year: int) -> dict[str, int]:
    """The vouchers the person's year already has: tier → trees."""
    return {tier: trees for tier, trees in session.execute(
        select(DutyVoucher.tier, DutyVoucher.trees).where(DutyVoucher.person == person, DutyVoucher.year == year))}


def vouchers_of(session: Session, person: str, year: int | None = None) -> list[tuple[DutyVoucher, Certificate]]:
    query = (select(DutyVoucher, Certificate).join(Certificate, Certificate.id == DutyVoucher.certificate_id)
             .where(DutyVoucher.person == person))
    if year is not None:
        query = query.where(DutyVoucher.year == year)
    return list(session.execute(query.order_by(DutyVoucher.id)).all())


# --- the order's scenario ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Assessed:
    person: Person | None
    roster: DutyRoster | None
    year: int
    rule: DutyRule
    tier: str
    due: Due


class TreeDutyScenario:
    """Binds ``tree_duty`` orders to a person's year (or a staff list) and prices them by the region's rule."""

    purpose = "tree_duty"
    reference_fields = ("tree_duty",)
    bounds_quantity = True  # the rule sizes the order: what its money buys, not a quantity the citizen chose
    prices_orders = True

    def canonical(self, reference: dict[str, Any]) -> dict[str, Any]:
        given = {name: value for name, value in dict(reference["tree_duty"]).items() if value is not None}
        if "roster_id" in given:
            if set(given) != {"roster_id"}:
                raise InvalidInput("tree_duty", "名单订单只填 roster_id (a staff list's order names only roster_id)")
            return {"tree_duty": {"roster_id": _whole(given["roster_id"], "tree_duty.roster_id")}}
        for name in ("year", "region"):
            if name not in given:
                raise InvalidInput(f"tree_duty.{name}", "必填 (required)")
        unknown = sorted(set(given) - {"year", "region", "tier", "member_id", "amount_fen"})
        if unknown:
            raise InvalidInput(f"tree_duty.{unknown[0]}", "不支持的字段 (unknown field)")
        canonical = {"year": _whole(given["year"], "tree_duty.year"), "region": str(given["region"]),
                     "tier": given.get("tier", "duty")}
        if canonical["tier"] not in TIERS:
            raise InvalidInput("tree_duty.tier", "应为 duty 或 honour (duty or honour)")
        for name in ("member_id", "amount_fen"):
            if name in given:
                canonical[name] = _whole(given[name], f"tree_duty.{name}")
        return {"tree_duty": canonical}

    def _assess(self, session: Session, now: datetime, reference: dict[str, Any], buyer: str) -> _Assessed:
        ref = reference["tree_duty"]
        if "roster_id" in ref:
            roster = _roster_of(session, ref["roster_id"], buyer)
            if roster.status == "withdrawn":
                raise Conflict("该名单已撤回 (this staff list was withdrawn)", code="roster_withdrawn")
            if roster.status != "checked":
                raise Conflict("该名单已付款 (this staff list is already paid)", code="roster_paid")
            if roster.persons == 0:
                raise Conflict("名单中没有需要尽责的人员，不能下单 (the list pays for nobody)", code="roster_empty")
            pending = _pending(session, now, f"roster:{roster.id}", roster.year)
            if pending is not None:
                raise Conflict(f"该名单已有待支付订单 {pending.order_no} (the list has an unpaid order)",
                               code="tree_duty_order_pending", details={"order_no": pending.order_no})
            return _Assessed(None, roster, roster.year, session.get(DutyRule, roster.rule_id), "duty",
                             Due(roster.amount_fen, shares=roster.persons))
        if not buyer.startswith("user:"):
            raise InvalidInput("tree_duty", "机构为职工尽责请上传名单 (an organisation pays for a staff list)")
        today = beijing_date(now)
        if ref["year"] != today.year:
            raise InvalidInput("tree_duty.year", f"只能为本年度（{today.year}）尽责 (only this year's duty can be paid)")
        person = _person(session, int(buyer.removeprefix("user:")), ref.get("member_id"))
        rule = year_rule(session, now, person.key, ref["year"], ref["region"], field="tree_duty.region")
        pending = _pending(session, now, person.key, ref["year"])
        if pending is not None:
            raise Conflict(f"已有待支付的尽责订单 {pending.order_no}，请先支付或等待其过期 (an unpaid tree-duty order "
                           "exists for this person and year)", code="tree_duty_order_pending",
                           details={"order_no": pending.order_no})
        of_age = rules.of_duty_age(rule, ref["year"], person.birth_year, person.sex)
        paid = [p.order.amount_fen for p in payments(session, person.key, ref["year"])]
        amount = rules.due(rule, paid, tier=ref["tier"], of_age=of_age, amount_fen=ref.get("amount_fen"),
                           held=held(session, person.key, ref["year"]))
        return _Assessed(person, None, ref["year"], rule, ref["tier"], Due(amount))

    def due(self, session: Session, now: datetime, *, reference: dict[str, Any], buyer: str) -> Due:
        return self._assess(session, now, reference, buyer).due

    def bind(self, session: Session, now: datetime, *, reference: dict[str, Any], buyer: str, listing_id: int,
             quantity_g: int, amount_fen: int, price_fen_per_t: int) -> Bound:
        found = self._assess(session, now, reference, buyer)
        key = found.person.key if found.person else f"roster:{found.roster.id}"

        def record(session: Session, order: Order) -> None:
            session.add(DutyPayment(order_id=order.id, person=key, year=found.year, region=found.rule.region,
                                    rule_id=found.rule.id, tier=found.tier))
        return Bound(purpose_ref=f"{REF}{key}:{found.year}", min_g=1, on_created=record)

    def before_retire(self, session: Session, now: datetime, order: Order) -> Retiring:
        payment = session.get(DutyPayment, order.id)
        rule = session.get(DutyRule, payment.rule_id)
        reference = f"{payment.year}年度义务植树（{rule.name}）"
        if payment.person.startswith("roster:"):
            roster = session.execute(select(DutyRoster).where(DutyRoster.id == int(payment.person.split(":")[1]))
                                     .with_for_update()).scalar_one()
            if roster.status != "checked":
                raise NoLongerOwed("该名单已由其他订单付款 (another order paid this staff list)")
            return Retiring(purpose_ref=reference, beneficiary_name=session.get(Organisation, roster.org_id).name)
        person = _locked_person(session, order, payment)
        of_age = rules.of_duty_age(rule, payment.year, person.birth_year, person.sex)
        now_standing = rules.standing(rule, [p.order.amount_fen for p in payments(session, person.key, payment.year)],
                                      of_age=of_age, held=held(session, person.key, payment.year))
        if now_standing.status == "honour" or (payment.tier == "duty" and now_standing.status == "duty_done"):
            raise NoLongerOwed("本年度已由其他订单尽责 (another order already discharged this year)")
        return Retiring(purpose_ref=reference, beneficiary_name=person.name)

    def after_retire(self, session: Session, now: datetime, order: Order, retirement: Any, certify: Any) -> None:
        payment = session.get(DutyPayment, order.id)
        rule = session.get(DutyRule, payment.rule_id)  # the version the buyer was quoted: it decides this payment
        if payment.person.startswith("roster:"):
            roster = session.get(DutyRoster, int(payment.person.split(":")[1]))
            roster.status, roster.order_id, roster.progressed_at = "paid", order.id, now
            session.add(roster)
            jobs.enqueue_after_commit(session, (ISSUE_JOB, {"roster_id": roster.id}))
            return
        session.flush()  # the retirement's certificate, for the query below
        person = _locked_person(session, order, payment)
        paid = payments(session, person.key, payment.year, including=order)
        of_age = rules.of_duty_age(rule, payment.year, person.birth_year, person.sex)
        tier = rules.tier_reached(rule, rules.counted(rule, [p.order.amount_fen for p in paid]), of_age=of_age)
        if tier is None or tier in held(session, person.key, payment.year):
            return
        counted = paid if rule.accumulates else [p for p in paid if p.order.id == order.id]
        certificates = dict(session.execute(
            select(Certificate.retirement_id, Certificate).where(
                Certificate.retirement_id.in_([p.order.retirement_id for p in counted]))).all())
        items = [Item(certificates[p.order.retirement_id].number, p.order.quantity_g,
                      certificates[p.order.retirement_id].payload,
                      certificates[p.order.retirement_id].payload["serials"]) for p in counted]
        issue(session, now, certify, person=person, year=payment.year, tier=tier, rule=rule,
              amount_fen=sum(p.order.amount_fen for p in counted), items=items, order_id=order.id, of_age=of_age)

    def document_for(self, session: Session, order: Order) -> Certificate | None:
        """The voucher this citizen's payment earned, shown as the order's certificate (a payment earns one)."""
        return session.execute(
            select(Certificate).join(DutyVoucher, DutyVoucher.certificate_id == Certificate.id)
            .where(DutyVoucher.order_id == order.id, DutyVoucher.user_id == order.user_id)
            .order_by(DutyVoucher.id.desc()).limit(1)).scalar_one_or_none()


def _locked_person(session: Session, order: Order, payment: DutyPayment) -> Person:
    kind, _, number = payment.person.partition(":")
    user = get_user(session, order.user_id, lock=True)  # a citizen's duties (theirs, their family's) in turn
    if kind == "member":
        member = session.get(DutyMember, int(number))
        # An erased member's name is gone; the voucher then names nobody it could be checked against.
        return Person(key=payment.person, name=member.name or "已删除", birth_year=member.birth_year, sex=member.sex,
                      relation="family", user_id=order.user_id)
    return Person(key=payment.person, name=user.real_name or "已删除", birth_year=user.birth_year, sex=user.sex,
                  relation="self", user_id=user.id)


def _roster_of(session: Session, roster_id: int, buyer: str) -> DutyRoster:
    roster = session.execute(select(DutyRoster).where(DutyRoster.id == roster_id).with_for_update()
                             ).scalar_one_or_none()
    if roster is None or buyer != f"org:{roster.org_id}":
        raise NotFound("名单不存在 (unknown staff list)")
    return roster


def _whole(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise InvalidInput(field, "应为正整数 (a positive whole number)")
    return value


# --- views -------------------------------------------------------------------------------------------------------

def voucher_view(voucher: DutyVoucher, certificate: Certificate, *, for_owner: bool = False) -> dict[str, Any]:
    """``for_owner`` adds the opening of the voucher's name commitment (as a citizen's own certificates do)."""
    view = {"certificate_no": certificate.number, "tier": voucher.tier, "year": voucher.year, "trees": voucher.trees,
            "region": voucher.region, "amount_fen": voucher.amount_fen, "quantity_g": voucher.quantity_g,
            "rule": {"key": certificate.payload["record"]["rule"]["key"],
                     "version": certificate.payload["record"]["rule"]["version"]},
            "name_masked": certificate.payload["beneficiary"]["masked"], "issued_at": voucher.issued_at.isoformat(),
            "recognised": voucher.recognised_at is not None, "verify_url": f"/v/{certificate.number}"}
    if for_owner:
        view["name_proof"] = ({"name": voucher.full_name, "salt": voucher.name_salt, "hash": "sha256(salt:name)"}
                              if voucher.full_name and voucher.name_salt else None)
    return view


def year_view(session: Session, now: datetime, *, user_id: int, year: int, region: str | None,
              member_id: int | None) -> dict[str, Any]:
    """A citizen's (or family member's) year under their region's rule: of duty age?, paid, trees, status, vouchers,
    and what the next order would pay."""
    user = get_user(session, user_id, active=True)
    region = region or user.region_adcode
    if region is None:
        raise InvalidInput("region", "请在资料中填写所在地区，或给出 region (set the profile's region or give one)")
    day = beijing_date(now)
    if member_id is not None:
        person = member_person(session, user_id, member_id)
    else:
        person = Person(key=f"user:{user.id}", name=user.real_name or "", birth_year=user.birth_year or 0,
                        sex=user.sex or "", relation="self", user_id=user.id)
    rule = year_rule(session, now, person.key, year, region)
    known = member_id is not None or (user.birth_year is not None and user.sex is not None)
    of_age = rules.of_duty_age(rule, year, person.birth_year, person.sex) if known else None
    paid = payments(session, person.key, year)
    has = held(session, person.key, year)
    standing = rules.standing(rule, [p.order.amount_fen for p in paid], of_age=of_age is not False, held=has)
    vouchers = [voucher_view(v, c, for_owner=True) for v, c in vouchers_of(session, person.key, year)]
    offers = {}
    if year == day.year and known:
        for tier in TIERS:
            try:
                offers[tier] = rules.due(rule, [p.order.amount_fen for p in paid], tier=tier, of_age=of_age,
                                         held=has)
            except (Conflict, InvalidInput):
                offers[tier] = None
    return {"year": year, "region": region, "person": {"relation": person.relation, "member_id": member_id,
                                                       "of_duty_age": of_age,
                                                       "missing": [n for n in ("real_name", "birth_year", "sex")
                                                                   if member_id is None and getattr(user, n) is None]},
            "rule": rules.rule_view(rule), "status": standing.status, "trees": standing.trees,
            "paid_fen": sum(p.order.amount_fen for p in paid), "counted_fen": standing.counted_fen,
            "payments": [{"order_no": p.order.order_no, "amount_fen": p.order.amount_fen,
                          "quantity_g": p.order.quantity_g, "tier": p.payment.tier,
                          "paid_at": p.order.paid_at.isoformat() if p.order.paid_at else None} for p in paid],
            "vouchers": vouchers, "due_fen": offers}


def _last_day(year: int) -> date:
    return date(year, 12, 31)


# --- family members ----------------------------------------------------------------------------------------------

MAX_MEMBERS = 20


def members_of(session: Session, user_id: int) -> list[DutyMember]:
    return list(session.execute(select(DutyMember).where(DutyMember.user_id == user_id, DutyMember.name.is_not(None))
                                .order_by(DutyMember.id)).scalars())


def add_member(session: Session, now: datetime, user_id: int, *, name: str, birth_year: int, sex: str) -> DutyMember:
    get_user(session, user_id, lock=True, active=True)
    if len(members_of(session, user_id)) >= MAX_MEMBERS:
        raise Conflict(f"家庭成员至多 {MAX_MEMBERS} 人 (at most {MAX_MEMBERS} family members)", code="too_many_members")
    if birth_year > beijing_date(now).year:
        raise InvalidInput("birth_year", "不能晚于今年 (in the future)")
    member = DutyMember(user_id=user_id, name=name, birth_year=birth_year, sex=sex, created_at=now)
    session.add(member)
    session.flush()
    return member


def remove_member(session: Session, now: datetime, user_id: int, member_id: int) -> None:
    """A member with payments stays (their vouchers name them); one without goes."""
    get_user(session, user_id, lock=True, active=True)
    member = session.get(DutyMember, member_id)
    if member is None or member.user_id != user_id or member.name is None:
        raise NotFound("家庭成员不存在 (unknown family member)")
    if session.execute(select(DutyPayment.order_id).where(DutyPayment.person == f"member:{member.id}")
                       .limit(1)).first() is not None:
        raise Conflict("该成员已有尽责记录，不能删除 (the member has tree-duty payments)", code="member_has_payments")
    session.delete(member)


def member_view(member: DutyMember) -> dict[str, Any]:
    return {"id": member.id, "name": member.name, "birth_year": member.birth_year, "sex": member.sex}


def erase_names(session: Session, now: datetime, user_id: int) -> dict[str, int]:
    """A citizen deleted their account: their family members' names and the full names behind their vouchers go
    (the vouchers still verify, with the masked name and commitment they always showed)."""
    members = [m.id for m in session.execute(select(DutyMember).where(DutyMember.user_id == user_id)).scalars()]
    erased_members = session.execute(update(DutyMember).where(DutyMember.user_id == user_id,
                                                              DutyMember.name.is_not(None))
                                     .values(name=None)).rowcount
    names = session.execute(update(DutyVoucher).where(
        DutyVoucher.person.in_([f"user:{user_id}", *(f"member:{m}" for m in members)]),
        DutyVoucher.full_name.is_not(None)).values(full_name=None, name_salt=None)).rowcount
    return {"family_members": erased_members, "voucher_names": names}


def voucher_owner(session: Session, holder: str, number: str) -> tuple[str | None, str | None] | None:
    """A citizen owns the vouchers made out to them and to their family members (backend.personal.sharing): the
    opening of the voucher's name commitment, for their own copy of its PDF; None when it is not theirs."""
    if not holder.startswith("user:"):
        return None
    found = session.execute(select(DutyVoucher.full_name, DutyVoucher.name_salt)
                            .join(Certificate, Certificate.id == DutyVoucher.certificate_id)
                            .where(Certificate.number == number,
                                   DutyVoucher.user_id == int(holder.removeprefix("user:")))).first()
    return (found.full_name, found.name_salt) if found is not None else None

"""The console's registry section: methodologies, projects and their review (submit → register / reject / suspend,
with the decision history), issuance batches with each batch's serial map, and the listings that put batches on
sale at a price.

Every action is the JSON API's (admin/api.py): the same request model reads the form and the same domain function
acts, so a refusal is the domain's, shown on the page beside the field it names. Forms speak yuan and tonnes where
the API speaks fen and grams; the conversion is exact (a price to the fen, a quantity to the gram) or refused.
Who may open or press what: backend/access/policy.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from flask import current_app, flash, redirect, request, url_for
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import exists, select
from sqlmodel import Session

from admin import schemas
from admin.listing import Sorts, filters_of, page_of, wants_csv
from backend.access.identity import staff_principal
from backend.clock import CHINA, as_utc
from backend.csvfile import csv_response, csv_stream
from backend.db import atomic, read
from backend.errors import DomainError, InvalidInput, NotFound
from backend.http import checked_idempotency_key, refuse_nul, validation_error
from backend.ledger import operations, queries
from backend.ledger.models import SerialRange
from backend.money import fen_from_yuan, yuan
from backend.orders.service import tonnes
from backend.registry import service
from backend.registry.models import ECOSYSTEMS, PROJECT_STATES, Batch, Methodology, Organisation, Project
from backend.registry.views import methodology_view, project_views
from backend.shop import service as shop
from backend.shop.models import Listing
from backend.shop.service import MAX_PRICE_FEN_PER_T, TONNE_G
from backend.staff.web import field_errors, page, page_blueprint

bp = page_blueprint("admin_registry", __name__)

STATE_LABELS = {"draft": "草稿", "submitted": "待审核", "registered": "已登记", "rejected": "已驳回",
                "suspended": "已暂停"}
ACTION_LABELS = {"submit": "提交审核", "register": "批准登记", "reject": "驳回", "suspend": "暂停",
                 "reinstate": "恢复登记"}
ECOSYSTEM_LABELS = {"forest": "森林", "bamboo": "竹林", "grassland": "草原", "wetland": "湿地"}
HOLDING_KINDS = ("available", "reserved", "retired", "cancelled")
KIND_LABELS = {"available": "可用", "reserved": "已预留", "retired": "已注销", "cancelled": "已作废"}
LISTING_STATES = {"on_sale": "在售", "withdrawn": "已下架"}
MAX_PRICE_YUAN = Decimal(MAX_PRICE_FEN_PER_T) / 100
MAX_QUANTITY_T = Decimal(operations.MAX_AMOUNT_G) / TONNE_G
ISSUE_KEY = "idempotency_key"  # the issue form's hidden field: one batch however often the form is sent
EXPORT_CHUNK = 1_000


def _now() -> datetime:
    return current_app.config["CLOCK"]()


def in_china(moment: str | datetime | None) -> str:
    """A stored moment as an operator reads it: Beijing time, to the minute."""
    if not moment:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


WORDS = dict(states=STATE_LABELS, actions=ACTION_LABELS, ecosystems=ECOSYSTEM_LABELS, kinds=KIND_LABELS,
             listing_states=LISTING_STATES, yuan=yuan, tonnes=tonnes, in_china=in_china)


# --- reading query arguments and forms ---------------------------------------------------------------------------

class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")




def _filled(*page_only: str) -> dict[str, str]:
    """The form's filled-in fields, the CSRF token and the page's own fields aside: a field left blank is a field
    not given, so the request model's default (or the domain's refusal) applies, as for a JSON body without it."""
    return {name: value for name, value in request.form.items()
            if name != "csrf_token" and name not in page_only and value.strip()}


def _in_form_words(error: DomainError, renames: Mapping[str, str]) -> DomainError:
    """A refusal naming the API's field (``price_fen_per_t``) names the form's (``price_yuan``) instead."""
    if not isinstance(error, InvalidInput) or not renames:
        return error
    def named(field: str) -> str:  # photo_urls.2 is the photo_urls box
        return renames.get(field) or renames.get(field.split(".")[0], field)
    error.details = [{**item, "field": named(item["field"])} for item in error.details]
    first = error.details[0]
    error.field, error.message = first["field"], f"{first['field']}: {first['message']}"
    return error


def _validated(model: type[BaseModel], values: Mapping[str, Any]) -> BaseModel:
    try:
        parsed = model.model_validate(dict(values))
    except ValidationError as error:
        raise validation_error(error) from None
    refuse_nul(parsed.model_dump())
    return parsed


def _exact(text: str, field: str, *, places: int, most: Decimal, hint: str) -> Decimal:
    """A positive decimal of at most ``places`` places and at most ``most``, or a 400 naming the field."""
    try:
        value = Decimal(text.replace(",", "").replace("，", "").strip())
    except InvalidOperation:
        value = None
    # Bounded before quantize: 1e30 has more digits than the decimal context holds.
    if value is None or not value.is_finite() or not 0 < value <= most \
            or value != value.quantize(Decimal(1).scaleb(-places)):
        raise InvalidInput(field, hint)
    return value


def fen_of_yuan(text: str, field: str = "price_yuan") -> int:
    """A price per tonne typed in yuan, as fen; one message for anything else, saying what is wanted."""
    refused = InvalidInput(field, f"应为 0.01 至 {MAX_PRICE_YUAN:,.0f} 元之间的金额，最多两位小数，如 95.50 "
                                  "(yuan, up to the fen)")
    try:
        fen = fen_from_yuan(text, field)
    except InvalidInput:
        raise refused from None
    if not 0 < fen <= MAX_PRICE_FEN_PER_T:
        raise refused
    return fen


def grams_of_tonnes(text: str, field: str = "quantity_t") -> int:
    return int(_exact(text, field, places=6, most=MAX_QUANTITY_T,
                      hint="应为大于 0 的吨数，最多六位小数（精确到克），如 1250.5 (tonnes, up to the gram)") * TONNE_G)


def _failed_form(error: DomainError, form_id: str) -> dict[str, Any]:
    """What a page re-rendered after a refusal needs: the message beside each field of the form that failed, and
    what was typed in it."""
    return dict(error=error, failed=form_id, errors=field_errors(error), typed=request.form)


# --- methodologies -------------------------------------------------------------------------------------------------

class MethodologyFilters(Filters):
    ecosystem: Literal[ECOSYSTEMS] | None = None


METHODOLOGY_SORTS = Sorts({"id": Methodology.id, "code": Methodology.code, "name": Methodology.name},
                          default="id", unique=Methodology.id)
METHODOLOGY_COLUMNS = ("id", "code", "name", "ecosystem", "version", "source_document", "created_at_beijing")


def _methodology_query(filters: MethodologyFilters):
    statement = select(Methodology)
    if filters.ecosystem:
        statement = statement.where(Methodology.ecosystem == filters.ecosystem)
    return statement


def list_methodologies(status: int = 200, **context: Any):
    filters = filters_of(MethodologyFilters)
    if wants_csv():
        rows = read(lambda s: s.execute(_methodology_query(filters).order_by(Methodology.id)).scalars().all())
        return csv_response(METHODOLOGY_COLUMNS, ([m.id, m.code, m.name, m.ecosystem, m.version, m.source_document,
                                                  in_china(m.created_at)] for m in rows), "methodologies.csv")
    listed = read(lambda s: page_of(s, _methodology_query(filters), METHODOLOGY_SORTS))
    context.setdefault("errors", {})
    return page("admin/registry/methodologies.html", status, listed=listed, sorts=METHODOLOGY_SORTS,
                methodologies=[r[0] for r in listed.rows], filters=filters, **WORDS, **context)


def create_methodology():
    actor = staff_principal().actor
    try:
        body = _validated(schemas.MethodologyIn, _filled())
        made = atomic(lambda s: service.create_methodology(s, _now(), actor=actor, **body.model_dump()))
    except DomainError as error:
        return list_methodologies(error.status, **_failed_form(error, "new-methodology"))
    flash(f"已登记方法学 {made.code}「{made.name}」")
    return redirect(url_for("admin_registry.list_methodologies"))


# --- projects ------------------------------------------------------------------------------------------------------

class ProjectFilters(Filters):
    state: Literal[PROJECT_STATES] | None = None
    owner_id: schemas.Id | None = None
    ecosystem: Literal[ECOSYSTEMS] | None = None


PROJECT_SORTS = Sorts({"id": Project.id, "name": Project.name, "state": Project.state,
                       "created": Project.created_at}, default="id", unique=Project.id)
PROJECT_COLUMNS = ("id", "name", "state", "owner_id", "owner", "county_adcode", "county", "ecosystem",
                   "methodology", "area_mu", "crediting_start", "crediting_end", "batches", "issued_t")


def _project_query(filters: ProjectFilters):
    statement = select(Project)
    for name in ("state", "owner_id", "ecosystem"):
        if (value := getattr(filters, name)) is not None:
            statement = statement.where(getattr(Project, name) == value)
    return statement


def _project_csv(filters: ProjectFilters):
    views = read(lambda s: project_views(
        s, list(s.execute(_project_query(filters).order_by(Project.id)).scalars())))
    return csv_response(PROJECT_COLUMNS, ([
        v["id"], v["name"], v["state"], v["owner"]["id"], v["owner"]["name"], v["county_adcode"], v["county_name"],
        v["ecosystem"], v["methodology"]["code"], v["area_mu"], v["crediting_start"], v["crediting_end"],
        len(v["batches"]), tonnes(sum(b["quantity_g"] for b in v["batches"]))] for v in views), "projects.csv")


def _project_choices(session: Session) -> dict[str, Any]:
    """The filter's owners (those who own a project) and the create form's: verified organisations, methodologies."""
    owners = session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_(select(Project.owner_id))).order_by(Organisation.name, Organisation.id)).all()
    verified = session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.status == "verified").order_by(Organisation.name, Organisation.id).limit(1000)).all()
    return {"owners": owners, "verified": verified,
            "methodologies": [methodology_view(m) for m in service.methodologies(session)]}


def list_projects(status: int = 200, **context: Any):
    filters = filters_of(ProjectFilters)
    if wants_csv():
        return _project_csv(filters)

    def look(session: Session):
        listed = page_of(session, _project_query(filters), PROJECT_SORTS)
        return listed, project_views(session, [r[0] for r in listed.rows]), _project_choices(session)
    listed, projects, choices = read(look)
    context.setdefault("errors", {})
    return page("admin/registry/projects.html", status, listed=listed, sorts=PROJECT_SORTS, projects=projects,
                filters=filters, **choices, **WORDS, **context)


def create_project():
    actor = staff_principal().actor
    try:
        body = _validated(schemas.ProjectIn, _filled())
        project = atomic(lambda s: service.create_project(s, _now(), actor=actor, **body.model_dump()))
    except DomainError as error:
        return list_projects(error.status, **_failed_form(error, "new-project"))
    flash(f"已创建项目「{project.name}」(草稿)，可提交审核")
    return redirect(url_for("admin_registry.project_page", project_id=project.id))


# --- one project: its review and its batches -----------------------------------------------------------------------

def project_page(project_id: int, status: int = 200, **context: Any):
    def look(session: Session):
        project = project_views(session, [service.get_project(session, project_id)], operator=True)[0]
        on_sale = set(session.execute(select(Listing.batch_id).where(
            Listing.batch_id.in_([b["id"] for b in project["batches"]]))).scalars())
        return project, on_sale
    project, on_sale = read(look)
    open_actions = [(action, needs_reason) for action, (sources, _, needs_reason) in service.TRANSITIONS.items()
                    if project["state"] in sources]
    holders = [("platform", "运营方库存 (platform)"),
               (f"org:{project['owner']['id']}", f"项目业主 {project['owner']['name']} (org:{project['owner']['id']})")]
    context.setdefault("errors", {})
    context.setdefault("issue_key", str(uuid.uuid4()))
    return page("admin/registry/project.html", status, project=project, open_actions=open_actions,
                holders=holders, on_sale=on_sale, **WORDS, **context)


def decide_project(project_id: int, action: str):
    actor = staff_principal().actor
    try:
        body = _validated(schemas.DecisionIn, _filled())
        project = atomic(lambda s: service.decide(s, _now(), actor=actor, project_id=project_id, action=action,
                                                  reason=body.reason))
    except NotFound:
        raise
    except DomainError as error:
        return project_page(project_id, error.status, **_failed_form(error, f"decide-{action}"))
    flash(f"项目「{project.name}」：{ACTION_LABELS[action]}，现为{STATE_LABELS[project.state]}")
    return redirect(url_for("admin_registry.project_page", project_id=project_id))


BATCH_FORM_NAMES = {"quantity_g": "quantity_t"}


def _batch_in() -> schemas.BatchIn:
    values: dict[str, Any] = _filled(ISSUE_KEY, "quantity_t")
    if (quantity := request.form.get("quantity_t", "").strip()):
        values["quantity_g"] = grams_of_tonnes(quantity)
    return _validated(schemas.BatchIn, values)


def issue_batch(project_id: int):
    """Issue a batch with the key the form was rendered with: the form sent twice (a double click, a reload that
    posts again) replays the first issue, as the JSON API does for the same Idempotency-Key."""
    actor, key = staff_principal().actor, request.form.get(ISSUE_KEY, "")
    try:
        key = checked_idempotency_key(key, ISSUE_KEY) if key else None
        if key is None:
            raise InvalidInput(ISSUE_KEY, "表单缺少幂等键，请刷新页面后重试 (the form lacks its key: reload it)")
        body = _batch_in()
        batch = atomic(lambda s: service.create_batch(s, _now(), actor=actor, client_id=key, project_id=project_id,
                                                      **body.model_dump()))
    except NotFound:
        raise
    except DomainError as error:
        # The same key again unless it was refused or already spent on another request: nothing was issued with it.
        keep = key is not None and error.code != "idempotency_conflict"
        return project_page(project_id, error.status, issue_key=key if keep else str(uuid.uuid4()),
                            **_failed_form(_in_form_words(error, BATCH_FORM_NAMES), "issue"))
    flash(f"已签发批次 {batch.code}：{tonnes(batch.quantity_g)} 吨")
    return redirect(url_for("admin_registry.batch_page", batch_id=batch.id))


# --- one batch: its supply and its serial map ----------------------------------------------------------------------

class SerialFilters(Filters):
    holder: schemas.Holder | None = None
    kind: Literal[HOLDING_KINDS] | None = None


SERIAL_SORTS = Sorts({"first": SerialRange.first}, default="first", unique=SerialRange.id)
SERIAL_COLUMNS = ("first", "last", "grams", "holder", "kind", "reservation_id")


def _holder_names(session: Session, holders: set[str]) -> dict[str, str]:
    """Organisations by name; the operator's inventory as such; a citizen by their holder key alone."""
    ids = {int(h[4:]) for h in holders if h.startswith("org:")}
    names = {f"org:{i}": name for i, name in session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids)))} if ids else {}
    return {"platform": "运营方库存", **names}


def _serial_csv(batch_id: int, filters: SerialFilters):
    read(lambda s: operations.get_batch(s, batch_id))  # an unknown batch is a 404, not an empty file

    def rows() -> Iterator[list[Any]]:
        # A short read per chunk, never a transaction held open while a client reads slowly. Each chunk starts after
        # the last serial the file has covered: the batch's ranges partition its serials, so every serial is in the
        # file once, with the holder it had when its chunk was read, however many purchases split ranges meanwhile.
        after = 0
        while True:
            chunk = read(lambda s, after=after: s.execute(
                queries.serial_map(batch_id, **filters.model_dump()).where(SerialRange.first > after)
                .order_by(SerialRange.first).limit(EXPORT_CHUNK)).all())
            for found, holder, kind in chunk:
                yield [found.first, found.last, found.last - found.first + 1, holder, kind, found.reservation_id]
            if len(chunk) < EXPORT_CHUNK:
                return
            after = chunk[-1][0].last
    return csv_stream(SERIAL_COLUMNS, rows(), f"batch-{batch_id}-serials.csv")


def batch_page(batch_id: int):
    filters = filters_of(SerialFilters)
    if wants_csv():
        return _serial_csv(batch_id, filters)
    chosen = filters.model_dump()

    def look(session: Session):
        batch = operations.get_batch(session, batch_id)
        project = session.get(Project, batch.project_id)
        listed = page_of(session, queries.serial_map(batch.id, **chosen), SERIAL_SORTS)
        return dict(batch=batch, project=project, listed=listed,
                    supply=queries.batch_supply(session, [batch.id])[batch.id],
                    totals=queries.serial_totals(session, batch.id),
                    selected=queries.serial_totals(session, batch.id, **chosen) if any(chosen.values()) else None,
                    names=_holder_names(session, {holder for _, holder, _ in listed.rows}),
                    listing=session.execute(select(Listing).where(Listing.batch_id == batch.id)).scalar_one_or_none())
    found = read(look)
    counted = sum(total["grams"] for total in found["totals"].values())
    return page("admin/registry/batch.html", sorts=SERIAL_SORTS, filters=filters, holding_kinds=HOLDING_KINDS,
                counted=counted, **found, **WORDS)


# --- listings and prices -------------------------------------------------------------------------------------------

class ListingFilters(Filters):
    status: Literal[tuple(LISTING_STATES)] | None = None


LISTING_SORTS = Sorts({"id": Listing.id, "price": Listing.price_fen_per_t, "updated": Listing.updated_at},
                      default="id", unique=Listing.id)
LISTING_COLUMNS = ("id", "batch_code", "vintage", "project", "title", "price_yuan_per_t", "available_t", "status",
                   "updated_at_beijing")
LISTING_FORM_NAMES = {"price_fen_per_t": "price_yuan", "photo_urls": "photo_urls"}


def _listing_query(filters: ListingFilters):
    statement = select(Listing)
    if filters.status is not None:
        statement = statement.where(Listing.active.is_(filters.status == "on_sale"))
    return statement


def _listing_rows(session: Session, listings: list[Listing]) -> list[dict[str, Any]]:
    updated = {listing.id: listing.updated_at for listing in listings}
    return [{**view, "updated_at": updated[view["id"]]}
            for view in shop.listing_views(session, listings, for_operator=True)]


def _unlisted_batches(session: Session) -> list[Batch]:
    """The batches the put-on-sale form offers: those with no listing yet, newest first."""
    return list(session.execute(select(Batch).where(~exists().where(Listing.batch_id == Batch.id))
                                .order_by(Batch.id.desc()).limit(500)).scalars())


def list_listings(status: int = 200, **context: Any):
    filters = filters_of(ListingFilters)
    if wants_csv():
        rows = read(lambda s: _listing_rows(s, list(s.execute(_listing_query(filters).order_by(Listing.id))
                                                   .scalars())))
        return csv_response(LISTING_COLUMNS, ([
            r["id"], r["batch_code"], r["vintage"], r["project"]["name"], r["title"], yuan(r["price_fen_per_t"]),
            tonnes(r["available_g"]), "on_sale" if r["active"] else "withdrawn", in_china(r["updated_at"])]
            for r in rows), "listings.csv")

    def look(session: Session):
        listed = page_of(session, _listing_query(filters), LISTING_SORTS)
        return listed, _listing_rows(session, [r[0] for r in listed.rows]), _unlisted_batches(session)
    listed, listings, unlisted = read(look)
    context.setdefault("errors", {})
    return page("admin/registry/listings.html", status, listed=listed, sorts=LISTING_SORTS, listings=listings,
                unlisted=unlisted, filters=filters, **WORDS, **context)


def create_listing():
    actor = staff_principal().actor
    try:
        values: dict[str, Any] = _filled("price_yuan", "photo_urls")
        if (price := request.form.get("price_yuan", "").strip()):
            values["price_fen_per_t"] = fen_of_yuan(price)
        values["photo_urls"] = request.form.get("photo_urls", "").split()
        body = _validated(schemas.ListingIn, values)
        listing = atomic(lambda s: shop.create_listing(s, _now(), actor=actor, **body.model_dump()))
    except DomainError as error:
        return list_listings(error.status, **_failed_form(_in_form_words(error, LISTING_FORM_NAMES), "new-listing"))
    flash(f"已上架「{listing.title}」：{yuan(listing.price_fen_per_t)} 元/吨")
    return redirect(url_for("admin_registry.list_listings"))


def change_listing(listing_id: int):
    """A new price (typed in yuan, sent in fen) or on/off sale, as PATCH /api/admin/v1/listings/<id> does."""
    actor = staff_principal().actor
    try:
        values: dict[str, Any] = _filled("price_yuan")
        if (price := request.form.get("price_yuan", "").strip()):
            values["price_fen_per_t"] = fen_of_yuan(price)
        changes = _validated(schemas.ListingChange, values).model_dump(exclude_unset=True)
        if not changes:
            raise InvalidInput("price_yuan", "请填写新单价或新服务费率 (nothing to change)")

        def change(session: Session) -> tuple[int, Listing]:
            before = shop.get_listing(session, listing_id).price_fen_per_t
            return before, shop.update_listing(session, _now(), actor=actor, listing_id=listing_id, changes=changes)
        before, listing = atomic(change)
    except NotFound:
        raise
    except DomainError as error:
        return list_listings(error.status, **_failed_form(_in_form_words(error, LISTING_FORM_NAMES),
                                                          f"listing-{listing_id}"))
    if "price_fen_per_t" in changes:
        flash(f"「{listing.title}」价格 {yuan(before)} → {yuan(listing.price_fen_per_t)} 元/吨")
    if "fee_bp" in changes:
        flash(f"「{listing.title}」平台服务费率改为 {listing.fee_bp / 100:.2f}%（已下的订单按原费率结算）")
    if "active" in changes:
        flash(f"「{listing.title}」{'已重新上架' if listing.active else '已下架'}")
    return redirect(url_for("admin_registry.list_listings"))


PROJECT = "/admin/projects/<int:project_id>"
REVIEW_ACTIONS = f"<any({','.join(service.TRANSITIONS)}):action>"
PAGES = [  # rule, endpoint (as the permission table names it), view, methods
    ("/admin/methodologies", "list_methodologies", list_methodologies, ["GET"]),
    ("/admin/methodologies", "create_methodology", create_methodology, ["POST"]),
    ("/admin/projects", "list_projects", list_projects, ["GET"]),
    ("/admin/projects", "create_project", create_project, ["POST"]),
    (PROJECT, "project_page", project_page, ["GET"]),
    (f"{PROJECT}/{REVIEW_ACTIONS}", "decide_project", decide_project, ["POST"]),
    (f"{PROJECT}/batches", "issue_batch", issue_batch, ["POST"]),
    ("/admin/batches/<int:batch_id>", "batch_page", batch_page, ["GET"]),
    ("/admin/listings", "list_listings", list_listings, ["GET"]),
    ("/admin/listings", "create_listing", create_listing, ["POST"]),
    ("/admin/listings/<int:listing_id>", "change_listing", change_listing, ["POST"]),
]
for rule, endpoint, view, methods in PAGES:
    bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)


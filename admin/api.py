"""Operator JSON API under /api/admin/v1: registry, review, issuance, and ledger operations.

Handlers are thin: authorise, parse (done by the route table), call one domain function in a unit of work,
shape the response.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from sqlalchemy import select
from sqlmodel import Session

from admin import people, schemas
from admin.auth import acting, idempotency_key
from backend import certificates
from backend.certificates import service as cert_service
from backend.db import atomic, read, snapshot
from backend.errors import InvalidInput, NotFound
from backend.certificates.api import NUMBER
from backend.certificates.schemas import CertificateOut
from backend.http import Route, anchored, register
from backend.ledger import operations, queries
from backend.ledger.invariants import check
from backend.ledger.models import Retirement, Transfer
from backend.ledger.schemas import AccountOut, LedgerCheckOut, RetirementOut, SerialOut, TransferOut
from backend.orders import service as orders
from backend.orders.models import Order
from backend.orders.schemas import OperatorOrderOut
from backend.registry import service
from backend.orgs import schemas as org_schemas
from backend.orgs import service as orgs
from backend.registry.models import Batch
from backend.registry.schemas import BatchOut, MethodologyOut, OperatorProjectOut
from backend.schemas import Items, Revoked
from backend.registry.views import (
    batch_view,
    methodology_view,
    project_views,
)
from backend.shop import service as shop
from backend.shop.schemas import OperatorListingOut
from backend.staff.roles import PLATFORM_ROLES
from backend.staff.schemas import InvitationLinkOut, InvitationOut, PlatformInviteIn, StaffAccountOut

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin/v1")
PLATFORM_ROLE = f"<any({','.join(PLATFORM_ROLES)}):role>"


def _now():
    return current_app.config["CLOCK"]()


# --- registry -------------------------------------------------------------------------------------------------

def list_methodologies():
    return {"items": read(lambda s: [methodology_view(m) for m in service.methodologies(s)])}


def create_methodology(body: schemas.MethodologyIn):
    actor = acting()
    made = atomic(lambda s: service.create_methodology(s, _now(), actor=actor, **body.model_dump()))
    return methodology_view(made)


def create_organisation(body: schemas.OrganisationIn):
    actor = acting()
    fields = body.model_dump()
    fields["adcode_"] = fields.pop("adcode")
    return orgs.organisation_view(atomic(lambda s: service.create_organisation(s, _now(), actor=actor, **fields)),
                                  for_reviewer=True)


def list_projects(query: schemas.ProjectQuery):
    states = (query.state,) if query.state else None
    return {"items": read(lambda s: project_views(s, service.projects(s, states=states, limit=query.limit),
                                                   operator=True))}


def _project_view(project_id: int):
    return read(lambda s: project_views(s, [service.get_project(s, project_id)], operator=True)[0])


def get_project(project_id: int):
    return _project_view(project_id)


def create_project(body: schemas.ProjectIn):
    actor = acting()
    project = atomic(lambda s: service.create_project(s, _now(), actor=actor, **body.model_dump()))
    return _project_view(project.id)


def decide_project(project_id: int, action: str, body: schemas.DecisionIn):
    actor = acting()
    atomic(lambda s: service.decide(s, _now(), actor=actor, project_id=project_id, action=action,
                                    reason=body.reason))
    return _project_view(project_id)


def create_batch(project_id: int, body: schemas.BatchIn):
    actor = acting()
    key = idempotency_key()
    batch = atomic(lambda s: service.create_batch(s, _now(), actor=actor, client_id=key, project_id=project_id,
                                                  **body.model_dump()))
    return get_batch(batch.id)


def get_batch(batch_id: int):
    def view(session: Session):
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise NotFound(f"批次 {batch_id} 不存在 (unknown batch)")
        return batch_view(batch, queries.batch_supply(session, [batch.id])[batch.id])
    return read(view)


def serial(batch_id: int, serial: int):
    return read(lambda s: queries.serial_holder(s, operations.get_batch(s, batch_id).id, serial))


# --- ledger ---------------------------------------------------------------------------------------------------

def list_accounts(query: schemas.AccountQuery):
    return {"items": read(lambda s: queries.balances(s, holder=query.holder, batch_id=query.batch_id))}


def _transfer_done(transfer: Transfer):
    return read(lambda s: queries.transfer_view(s, transfer)), 201


def _to_known_holder(operation, field: str, **kwargs):
    """Run a ledger operation whose ``field`` names the receiving holder, which must exist."""
    def work(session: Session):
        service.require_holder(session, kwargs[field], field)
        return operation(session, _now(), **kwargs)
    return atomic(work)


def make_transfer(body: schemas.TransferIn):
    actor, key = acting(), idempotency_key()
    return _transfer_done(_to_known_holder(operations.transfer, "to_holder", client_id=key, actor=actor,
                                           **body.model_dump()))


def make_reservation(body: schemas.ReserveIn):
    actor, key = acting(), idempotency_key()
    fields = body.model_dump()
    fields["ttl_seconds"] = fields["ttl_seconds"] or current_app.config["RESERVATION_TTL_SECONDS"]
    return _transfer_done(_to_known_holder(operations.reserve, "to_holder", client_id=key, actor=actor, **fields))


def post_reservation(reservation_id: int, body: schemas.PostIn):
    actor, key = acting(), idempotency_key()
    return _transfer_done(atomic(lambda s: operations.post(s, _now(), client_id=key, actor=actor,
                                                           reservation_id=reservation_id, amount_g=body.amount_g)))


def void_reservation(reservation_id: int, body: schemas.VoidIn):
    actor, key = acting(), idempotency_key()
    return _transfer_done(atomic(lambda s: operations.void(s, _now(), client_id=key, actor=actor,
                                                           reservation_id=reservation_id)))


def make_retirement(body: schemas.RetireIn):
    actor, key, certify = acting(), idempotency_key(), certificates.certify()
    retirement = atomic(lambda s: operations.retire(s, _now(), client_id=key, actor=actor, certify=certify,
                                                    **body.model_dump()))
    return read(lambda s: queries.retirement_view(s, retirement)), 201


def make_cancellation(body: schemas.CancelIn):
    actor, key = acting(), idempotency_key()
    return _transfer_done(atomic(lambda s: operations.cancel(s, _now(), client_id=key, actor=actor,
                                                             **body.model_dump())))


def correct_transfer(transfer_id: int, body: schemas.CorrectIn):
    actor, key = acting(), idempotency_key()

    def act(s):
        orders.refuse_reversing_a_record(s, transfer_id)
        return operations.correct(s, _now(), client_id=key, actor=actor, transfer_id=transfer_id, reason=body.reason)
    return _transfer_done(atomic(act))


def list_transfers(query: schemas.TransferQuery):
    return {"items": read(lambda s: queries.recent_transfers(s, batch_id=query.batch_id, before_id=query.before_id,
                                                             limit=query.limit))}


def get_transfer(transfer_id: int):

    def view(session: Session):
        transfer = session.get(Transfer, transfer_id)
        if transfer is None:
            raise NotFound(f"转移 {transfer_id} 不存在 (unknown transfer)")
        return queries.transfer_view(session, transfer)
    return read(view)


def get_retirement(retirement_id: int):

    def view(session: Session):
        retirement = session.get(Retirement, retirement_id)
        if retirement is None:
            raise NotFound(f"注销记录 {retirement_id} 不存在 (unknown retirement)")
        return queries.retirement_view(session, retirement)
    return read(view)


# --- shop and orders -----------------------------------------------------------------------------------------

def list_listings():
    return {"items": read(lambda s: shop.listing_views(s, shop.listings(s, include_withdrawn=True), for_operator=True))}


def create_listing(body: schemas.ListingIn):
    actor = acting()
    listing = atomic(lambda s: shop.create_listing(s, _now(), actor=actor, **body.model_dump()))
    return read(lambda s: shop.listing_views(s, [shop.get_listing(s, listing.id)], for_operator=True)[0])


def change_listing(listing_id: int, body: schemas.ListingChange):
    actor = acting()
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("body", "没有要修改的字段 (nothing to change)")
    for name, value in changes.items():
        if value is None:
            raise InvalidInput(name, "不能为空 (must not be null)")
    atomic(lambda s: shop.update_listing(s, _now(), actor=actor, listing_id=listing_id, changes=changes))
    return read(lambda s: shop.listing_views(s, [shop.get_listing(s, listing_id)], for_operator=True)[0])


def list_orders(query: schemas.OrderQuery):
    def views(session: Session):
        statement = select(Order).order_by(Order.id.desc()).limit(query.limit)
        if query.status:
            statement = statement.where(Order.status == query.status)
        if query.attention is not None:
            statement = statement.where(Order.attention.is_not(None) if query.attention else Order.attention.is_(None))
        return [orders.order_view(session, o, for_operator=True) for o in session.execute(statement).scalars()]
    return {"items": read(views)}


def resolve_order(order_no: str, body: schemas.ResolveIn):
    """Close an order an operator settled by hand (a refund WeChat could not make, a payment unlike the order)."""
    actor = acting()
    return atomic(lambda s: orders.order_view(s, orders.resolve(s, _now(), order_no, note=body.note, actor=actor),
                                              for_operator=True))


def record_offline_payment(order_no: str, body: schemas.OfflinePaymentIn):
    """Finance records the bank transfer that paid an organisation's offline order: its credits retire and its
    certificates are made, as a WeChat payment would. The same voucher again answers the same order."""
    actor, certify = acting(), certificates.certify()
    return atomic(lambda s: orders.order_view(s, orders.settle_offline(
        s, _now(), order_no=order_no, reference=body.reference, amount_fen=body.amount_fen, actor=actor,
        certify=certify, second_confirmation_fen=current_app.config["OFFLINE_SECOND_CONFIRMATION_FEN"]),
        for_operator=True))


# --- certificates ---------------------------------------------------------------------------------------------

def revoke_certificate(number: str, body: schemas.RevocationIn):
    actor = acting()
    return atomic(lambda s: cert_service.revoke(s, _now(), number, reason=body.reason, actor=actor))


def ledger_check():
    with snapshot() as session:
        violations = check(session)
    return {"ok": not violations, "violations": [str(v) for v in violations]}


ORDER_NO = {"order_no": anchored(orders.ORDER_NO_PATTERN)}
CERTIFICATE_NO = {"number": anchored(NUMBER)}
ORGANISATION = org_schemas.OrganisationRecordOut
STAFF = StaffAccountOut

ROUTES = [
    Route("GET", "/methodologies", list_methodologies, "List methodologies", response=Items[MethodologyOut]),
    Route("POST", "/methodologies", create_methodology, "Register a methodology", body=schemas.MethodologyIn,
          status=201, response=MethodologyOut),
    Route("GET", "/organisations", people.list_organisations, "Organisations with their verification state",
          query=schemas.OrganisationQuery, response=Items[org_schemas.ReviewedOrganisationOut]),
    Route("POST", "/organisations", create_organisation, "Register an organisation (verified by doing so)",
          body=schemas.OrganisationIn, status=201, response=org_schemas.ReviewedOrganisationOut),
    Route("GET", "/organisations/<int:organisation_id>", people.get_organisation,
          "One organisation: credit-code check, contact, decisions, members", response=ORGANISATION),
    Route("POST", "/organisations/<int:organisation_id>/<any(verify,reject,suspend,reinstate):action>",
          people.decide_organisation, "Verify or reject an application; suspend or reinstate (reason required "
          "except to verify)", body=org_schemas.DecisionIn, response=ORGANISATION,
          description="A reason (1–500 characters) is required to reject or suspend, and not needed to verify; "
                      "which actions are open depends on the organisation's state (409 otherwise)."),
    Route("GET", "/projects", list_projects, "List projects in every state", query=schemas.ProjectQuery,
          response=Items[OperatorProjectOut]),
    Route("POST", "/projects", create_project, "Create a draft project", body=schemas.ProjectIn, status=201,
          response=OperatorProjectOut, description=schemas.ProjectIn.RULES),
    Route("GET", "/projects/<int:project_id>", get_project, "One project with its review history",
          response=OperatorProjectOut),
    Route("POST", "/projects/<int:project_id>/<any(submit,register,reject,suspend,reinstate):action>",
          decide_project, "Review step: submit, register, reject, suspend, reinstate", body=schemas.DecisionIn,
          response=OperatorProjectOut,
          description="Each action is open from some states only (409 otherwise); reject and suspend need a "
                      "reason."),
    Route("POST", "/projects/<int:project_id>/batches", create_batch, "Issue a batch (Idempotency-Key)",
          body=schemas.BatchIn, status=201, response=BatchOut, idempotent=True, description=schemas.BatchIn.RULES),
    Route("GET", "/batches/<int:batch_id>", get_batch, "One batch with its supply", response=BatchOut),
    Route("GET", "/batches/<int:batch_id>/serials/<serial:serial>", serial, "Who holds a serial",
          response=SerialOut),
    Route("GET", "/accounts", list_accounts, "Ledger account balances", query=schemas.AccountQuery,
          response=Items[AccountOut]),
    Route("GET", "/ledger/transfers", list_transfers, "Transfers, newest first", query=schemas.TransferQuery,
          response=Items[TransferOut]),
    Route("GET", "/ledger/transfers/<int:transfer_id>", get_transfer, "One transfer with its serials",
          response=TransferOut),
    Route("POST", "/ledger/transfers", make_transfer, "TRANSFER available credits (Idempotency-Key)",
          body=schemas.TransferIn, status=201, response=TransferOut, idempotent=True,
          description=schemas.TransferIn.RULES, errors=(404,)),
    Route("POST", "/ledger/transfers/<int:transfer_id>/correct", correct_transfer,
          "CORRECT: reverse a transfer exactly (Idempotency-Key)", body=schemas.CorrectIn, status=201,
          response=TransferOut, idempotent=True),
    Route("POST", "/ledger/reservations", make_reservation, "RESERVE credits until a deadline (Idempotency-Key)",
          body=schemas.ReserveIn, status=201, response=TransferOut, idempotent=True,
          description=schemas.TransferIn.RULES, errors=(404,)),
    Route("POST", "/ledger/reservations/<int:reservation_id>/post", post_reservation,
          "POST all or part of a reservation (Idempotency-Key)", body=schemas.PostIn, status=201,
          response=TransferOut, idempotent=True),
    Route("POST", "/ledger/reservations/<int:reservation_id>/void", void_reservation,
          "VOID a reservation (Idempotency-Key)", body=schemas.VoidIn, status=201, response=TransferOut,
          idempotent=True),
    Route("POST", "/ledger/retirements", make_retirement, "RETIRE credits for a purpose (Idempotency-Key)",
          body=schemas.RetireIn, status=201, response=RetirementOut, idempotent=True, errors=(404,)),
    Route("GET", "/ledger/retirements/<int:retirement_id>", get_retirement, "One retirement with its serials",
          response=RetirementOut),
    Route("POST", "/ledger/cancellations", make_cancellation, "CANCEL credits (Idempotency-Key)",
          body=schemas.CancelIn, status=201, response=TransferOut, idempotent=True, errors=(404,)),
    Route("GET", "/listings", list_listings, "Every listing, withdrawn ones too",
          response=Items[OperatorListingOut]),
    Route("POST", "/listings", create_listing, "Put a batch on sale at a price per tonne", body=schemas.ListingIn,
          status=201, response=OperatorListingOut, errors=(404,)),
    Route("PATCH", "/listings/<int:listing_id>", change_listing, "Change a listing's price, texts or availability",
          body=schemas.ListingChange, response=OperatorListingOut, description=schemas.ListingChange.RULES),
    Route("GET", "/orders", list_orders, "Orders, newest first (attention=true: the operators' queue)",
          query=schemas.OrderQuery, response=Items[OperatorOrderOut]),
    Route("POST", "/orders/<order_no>/resolve", resolve_order, "Close an order settled by hand on the merchant "
          "platform", body=schemas.ResolveIn, response=OperatorOrderOut, params=ORDER_NO),
    Route("POST", "/orders/<order_no>/offline-payment", record_offline_payment, "Record the bank transfer that "
          "paid an offline order: it is fulfilled (credits retired, certificates made)", body=schemas.OfflinePaymentIn,
          response=OperatorOrderOut, params=ORDER_NO, errors=(404, 409),
          description="amount_fen must be the order's (409 amount_mismatch); a voucher paying another order: 409."),
    Route("POST", "/certificates/<number>/revocation", revoke_certificate,
          "Revoke a certificate, with the reason its verify page will show", body=schemas.RevocationIn, status=201,
          response=CertificateOut, params=CERTIFICATE_NO),
    Route("GET", "/ledger/check", ledger_check, "Run the ledger invariant checker", response=LedgerCheckOut),
    Route("GET", "/audit", people.list_audit, "The audit chain, newest first (actor, action, object, at)",
          query=schemas.AuditQuery, response=Items[schemas.AuditEventOut]),
    Route("GET", "/staff", people.list_staff, "Staff accounts with their roles", response=Items[STAFF]),
    Route("GET", "/staff/<int:account_id>", people.get_staff, "One staff account", response=STAFF),
    Route("POST", "/staff/<int:account_id>/<any(disable,enable):action>", people.set_staff_disabled,
          "Disable an account (no sign-in, sessions end, tokens stop) or enable it again", response=STAFF),
    Route("PUT", f"/staff/<int:account_id>/roles/{PLATFORM_ROLE}", people.grant_platform_role,
          "Give an account a platform role", response=STAFF),
    Route("DELETE", f"/staff/<int:account_id>/roles/{PLATFORM_ROLE}", people.revoke_platform_role,
          "Take a platform role away", response=STAFF),
    Route("POST", "/staff/<int:account_id>/totp-reset", people.reset_staff_totp,
          "Remove an account's second factor (a lost phone); they enrol again at their next sign-in",
          response=STAFF),
    Route("GET", "/staff/invitations", people.list_platform_invitations, "Open invitations to platform roles",
          response=Items[InvitationOut]),
    Route("POST", "/staff/invitations", people.invite_platform_staff,
          "Invite someone to a platform role: a one-time link, shown once", body=PlatformInviteIn, status=201,
          response=InvitationLinkOut),
    Route("DELETE", "/staff/invitations/<int:invitation_id>", people.revoke_platform_invitation,
          "Revoke an open invitation", response=Revoked),
]


register(bp, ROUTES)  # who may call each route: backend/access/policy.py


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""Handlers of the personal carbon account (routes in ``api.ROUTES``): saved footprints, retirements and their
certificates, totals and badges, the monthly chart, leaderboards, and a 小程序码 to share a certificate."""

from __future__ import annotations

from flask import current_app, make_response

from backend.accounts import service as accounts
from backend.db import atomic, read
from backend.certificates import lookup
from backend.certificates.images import verify_url
from backend.certificates.render import certificate_pdf
from backend.personal import account, leaderboard, sharing
from miniprogram_api import schemas
from miniprogram_api.auth import require_user


def _now():
    return current_app.config["CLOCK"]()


def save_footprint(body: schemas.SaveFootprintIn):
    """Count a calculation from /api/v1/footprint/* in my account (saving it again answers the first save)."""
    user_id = require_user()
    saved = atomic(lambda s: account.save_footprint(s, _now(), user_id=user_id, **body.model_dump()))
    return account.footprint_view(saved)


def list_footprints():
    user_id = require_user()
    return {"items": [account.footprint_view(f) for f in read(lambda s: account.footprints_of(s, user_id))]}


def delete_footprint(saved_id: int):
    user_id = require_user()
    atomic(lambda s: account.forget_footprint(s, user_id=user_id, saved_id=saved_id))
    return {"deleted": saved_id}


def _history(session, user_id: int):
    return account.footprints_of(session, user_id), _retirements(session, user_id)


def _retirements(session, user_id: int):
    return account.retirements_of(session, user_id, accounts.get_user(session, user_id).holder)


def list_retirements():
    user_id = require_user()
    retired = read(lambda s: _retirements(s, user_id))
    base = current_app.config["PUBLIC_BASE_URL"]
    return {"items": [account.retirement_view(r, base) for r in retired]}


def my_account():
    user_id = require_user()
    return account.summary(*read(lambda s: _history(s, user_id)))


def my_monthly(query: schemas.MonthlyQuery):
    user_id = require_user()
    footprints, retired = read(lambda s: _history(s, user_id))
    return {"items": account.monthly(footprints, retired, _now(), query.months)}


def board(query: schemas.BoardQuery):
    user_id = require_user()
    return read(lambda s: leaderboard.standings(s, region=query.region, limit=query.limit, user_id=user_id))


def share_code(number: str):
    """A 小程序码 (a JPEG, as WeChat makes it) that opens my certificate in the mini-program, for sharing."""
    user_id = require_user()
    read(lambda s: sharing.check_owned(s, accounts.get_user(s, user_id).holder, number))
    image, mimetype = sharing.share_code(number)
    response = make_response(image)
    response.mimetype = mimetype
    response.cache_control.private = True
    response.cache_control.max_age = 86400
    return response


def own_certificate_pdf(number: str):
    """My copy of a certificate's PDF: the public one plus the full name and salt that open its name commitment,
    so the beneficiary can prove the certificate names them. Rendered each time, never cached or shared."""
    user_id = require_user()
    proof = read(lambda s: sharing.name_proof(s, accounts.get_user(s, user_id, active=True).holder, number))
    record = lookup.certificate_record(number)
    url = verify_url(record)
    response = make_response(certificate_pdf(record, url, name_proof=proof))
    response.mimetype = "application/pdf"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = f'inline; filename="{number}-own-copy.pdf"'
    return response

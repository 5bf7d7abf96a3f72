"""Handlers of the personal carbon account (routes in ``api.ROUTES``): saved footprints, retirements and their
certificates, totals and badges, the monthly chart, leaderboards, and a 小程序码 to share a certificate."""

from __future__ import annotations

import logging

import redis
from flask import current_app, make_response
from sqlalchemy import select

from backend import wechat
from backend.accounts import service as accounts
from backend.cache import get_redis_bytes, key
from backend.certificates.models import Certificate
from backend.db import atomic, read
from backend.errors import NotFound
from backend.ledger.models import Retirement
from backend.orders.notices import CERTIFICATE_PAGE
from backend.personal import account, leaderboard
from miniprogram_api import schemas
from miniprogram_api.auth import require_user

log = logging.getLogger(__name__)
SHARE_CODE_SECONDS = 7 * 86400  # a certificate's code never changes; a week bounds what Redis holds


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
    user = accounts.get_user(session, user_id)
    return account.footprints_of(session, user_id), account.retirements_of(session, user_id, user.holder)


def list_retirements():
    user_id = require_user()
    _, retired = read(lambda s: _history(s, user_id))
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


def _own_certificate(session, user_id: int, number: str) -> None:
    holder = accounts.get_user(session, user_id).holder
    found = session.execute(select(Certificate.id).join(Retirement, Retirement.id == Certificate.retirement_id)
                            .where(Certificate.number == number, Retirement.holder == holder)).first()
    if found is None:
        raise NotFound("证书不存在 (no such certificate of yours)")


def share_code(number: str):
    """A 小程序码 opening my certificate in the mini-program, for sharing (cached: WeChat's calls are rationed)."""
    user_id = require_user()
    read(lambda s: _own_certificate(s, user_id, number))
    cache_key = key("share-code", number)
    png = None
    try:
        png = get_redis_bytes().get(cache_key)
    except redis.RedisError as error:
        log.warning("share code cache unavailable: %s", error)
    if png is None:
        png = wechat.miniapp().mini_program_code(number, page=CERTIFICATE_PAGE)
        try:
            get_redis_bytes().set(cache_key, png, ex=SHARE_CODE_SECONDS)
        except redis.RedisError as error:
            log.warning("share code not cached: %s", error)
    response = make_response(png)
    response.mimetype = "image/png"
    response.cache_control.private = True
    response.cache_control.max_age = 86400
    return response

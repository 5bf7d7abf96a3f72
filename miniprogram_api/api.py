"""The mini-program's HTTP API under /api/mp/v1: login, profile, the personal carbon account, shop, orders.

Browsing the shop needs no login (WeChat's review rules forbid forcing a login before browsing); everything that
is someone's own needs the Bearer session token from /auth/login.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app

from backend import certificates, jobs, wechat
from backend.accounts import erasure
from backend.accounts import service as accounts
from backend.accounts import sessions
from backend.db import atomic, read
from backend.errors import InvalidInput, Unauthorized
from backend.certificates.api import NUMBER
from backend.clock import beijing_date
from backend.http import Route, anchored, register
from backend.orders import service as orders
from backend.orders import workflow
from backend.orders.schemas import OrderOut, PlacedOrderOut
from backend.personal import leaderboard
from backend.privacy.fingerprint import key_from
from backend.registry import adcode
from backend.schemas import Items
from backend.shop import service as shop
from backend.shop.schemas import ListingOut, QuoteOut
from miniprogram_api import account, schemas
from miniprogram_api.auth import bearer_token, idempotency_key, per_user, require_user

bp = Blueprint("mp_api", __name__, url_prefix="/api/mp/v1")


def _now():
    return current_app.config["CLOCK"]()


def _lifetimes() -> dict[str, int]:
    return {"ttl_seconds": current_app.config["MP_SESSION_TTL_SECONDS"],
            "max_age_seconds": current_app.config["MP_SESSION_MAX_AGE_SECONDS"]}


# --- auth --------------------------------------------------------------------------------------------------------

def login(body: schemas.LoginIn):
    """Exchange a wx.login code for a session token; WeChat's session_key is dropped, never stored or sent."""
    found = wechat.miniapp().code_to_session(body.code)
    user = atomic(lambda s: accounts.login(s, _now(), found))
    issued = sessions.issue(user.id, _now(), **_lifetimes())
    return {"token": issued.token, "expires_in": issued.expires_in, "user": accounts.profile_view(user)}


def logout():
    sessions.revoke(bearer_token(), require_user())
    return {"logged_out": True}


def logout_all():
    """Sign out everywhere: every session of mine ends, this one included (a lost phone's too)."""
    return {"logged_out": True, "sessions_ended": sessions.revoke_all(require_user(), _now())}


def refresh():
    require_user()
    issued = sessions.refresh(bearer_token(), _now(), **_lifetimes())
    if issued is None:  # refreshed by a concurrent call a moment ago: this token is spent
        raise Unauthorized("登录已过期，请重新登录 (session expired or unknown)", code="session_expired")
    return {"token": issued.token, "expires_in": issued.expires_in}


# --- profile -----------------------------------------------------------------------------------------------------

def me():
    user_id = require_user()
    return read(lambda s: accounts.profile_view(accounts.get_user(s, user_id, active=True)))


def delete_me():
    """Delete my account: it can no longer be signed into, and the names tied to it are erased; my certificates
    still verify, showing the masked name they always showed (backend/accounts/erasure.py)."""
    user_id = require_user()
    erased = atomic(lambda s: erasure.erase(s, _now(), user_id))
    sessions.revoke_all(user_id, _now())
    leaderboard.forget(user_id, erased.pop("previous_region"))
    return {"erased": True, **erased}


def update_me(body: schemas.ProfileIn):
    user_id = require_user()
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("body", "没有要修改的字段 (nothing to change)")
    if any(value is None for value in changes.values()):
        name = next(name for name, value in changes.items() if value is None)
        raise InvalidInput(name, "不能为空 (must not be null)")
    if "avatar_url" in changes:
        changes["avatar_url"] = str(changes["avatar_url"])
        if not changes["avatar_url"].startswith("https://"):
            raise InvalidInput("avatar_url", "应为 https 地址 (must be an https URL)")
    if "region" in changes:
        if changes["region"] not in adcode.divisions():
            raise InvalidInput("region", "不是有效的行政区划代码 (not a GB/T 2260 division code)")
        changes["region_adcode"] = changes.pop("region")
    if "birth_year" in changes and changes["birth_year"] > beijing_date(_now()).year:  # duty age would go negative
        raise InvalidInput("birth_year", "不能晚于今年 (in the future)")
    user = read(lambda s: accounts.get_user(s, user_id))
    previous_region = user.region_adcode
    for name in ("nickname", "real_name"):  # what other people may see passes WeChat's content check first
        if name not in changes or changes[name] == getattr(user, name):  # unchanged: it passed when it was stored
            continue
        if not wechat.miniapp().text_is_acceptable(user.openid, changes[name]):
            raise InvalidInput(name, "内容未通过微信内容安全检测 (refused by WeChat's content check)",
                               code="content_refused")
    user = atomic(lambda s: accounts.update_profile(s, _now(), user_id, changes))
    if user.region_adcode != previous_region:  # off the old region's boards, onto the new one's
        jobs.enqueue(("board.record_retired", {"user_id": user_id, "previous_region": previous_region}))
    return accounts.profile_view(user)


# --- shop --------------------------------------------------------------------------------------------------------

def list_listings():
    return {"items": read(lambda s: shop.listing_views(s, shop.listings(s)))}


def get_listing(listing_id: int):
    return read(lambda s: shop.listing_views(s, [shop.get_listing(s, listing_id, for_sale=True)])[0])


def make_quote(body: schemas.QuoteIn):
    return read(lambda s: shop.quote(s, **body.model_dump()))


# --- orders ------------------------------------------------------------------------------------------------------

def _pay():
    return wechat.pay()


def create_order(body: schemas.OrderIn):
    user_id, key = require_user(), idempotency_key()
    config = current_app.config
    request = body.model_dump()
    reference = {name: request.pop(name) for name in body.REFERENCE_FIELDS}
    return workflow.place(_pay(), config["CLOCK"], user_id=user_id, idempotency_key=key,
                          ttl_seconds=config["RESERVATION_TTL_SECONDS"],
                          max_unpaid_orders=config["MP_MAX_UNPAID_ORDERS"], max_reserved_g=config["MP_MAX_RESERVED_G"],
                          name_key=key_from(config["SECRET_KEY"]), reference=reference, **request)


def list_orders():
    user_id = require_user()
    return {"items": read(lambda s: [orders.order_view(s, o) for o in orders.orders_of(s, user_id)])}


def get_order(order_no: str):
    user_id = require_user()
    return workflow.status(_pay(), current_app.config["CLOCK"], certificates.certify(), order_no=order_no,
                           user_id=user_id,
                           query_interval_seconds=current_app.config["MP_ORDER_QUERY_INTERVAL_SECONDS"])


def refund_order(order_no: str):
    user_id = require_user()
    return workflow.request_refund(_pay(), current_app.config["CLOCK"], order_no=order_no, user_id=user_id)


ORDER_NO = {"order_no": anchored(orders.ORDER_NO_PATTERN)}

ROUTES = [
    Route("POST", "/auth/login", login, "Log in with a wx.login code", body=schemas.LoginIn,
          rate_limit=("mp-login", "MP_LOGIN_RATE_LIMIT_PER_MINUTE"), response=schemas.LoginOut, errors=(503,),
          description="An unknown or used code is refused by WeChat: 400 (503 when WeChat cannot be reached)."),
    Route("POST", "/auth/logout", logout, "End this session", response=schemas.LoggedOut),
    Route("POST", "/auth/logout-all", logout_all, "End every session of mine, on every device (sign out everywhere)",
          response=schemas.LoggedOut),
    Route("POST", "/auth/refresh", refresh, "Swap the session token for a fresh one", response=schemas.RefreshOut),
    Route("GET", "/me", me, "My profile", response=schemas.ProfileOut),
    Route("DELETE", "/me", delete_me, "Delete my account and erase the names tied to it (certificates still "
          "verify)", response=schemas.ErasedOut, errors=(409,)),
    Route("PATCH", "/me", update_me, "Change my profile (text passes WeChat's content check)",
          body=schemas.ProfileIn, response=schemas.ProfileOut),
    Route("POST", "/footprints", account.save_footprint, "Save a footprint calculation to my carbon account",
          body=schemas.SaveFootprintIn, status=201, response=schemas.SavedFootprintOut,
          description="calculation_id must name a stored calculation (400 otherwise)."),
    Route("GET", "/footprints", account.list_footprints, "My saved footprints, newest month first",
          response=Items[schemas.SavedFootprintOut]),
    Route("DELETE", "/footprints/<int:saved_id>", account.delete_footprint, "Remove a saved footprint",
          response=schemas.Deleted),
    Route("GET", "/retirements", account.list_retirements, "My retirements with their certificates",
          response=Items[schemas.MyRetirementOut]),
    Route("GET", "/account", account.my_account, "My totals (footprint, offset, net, neutral %) and badges",
          response=schemas.AccountOut),
    Route("GET", "/account/monthly", account.my_monthly, "Footprint and offset per month, for a chart",
          query=schemas.MonthlyQuery, response=Items[schemas.MonthOut]),
    Route("GET", "/leaderboard", account.board, "Credits retired: the top of a region's board, and my place",
          query=schemas.BoardQuery, response=schemas.BoardOut),
    Route("GET", "/certificates/<number>/share-code", account.share_code,
          "A 小程序码 (JPEG as WeChat makes it, PNG when transparent) that opens my certificate in the mini-program",
          rate_limit=("mp-share-code", 30), media_type=("image/jpeg", "image/png"),
          params={"number": anchored(NUMBER)}, errors=(503,)),
    Route("GET", "/certificates/<number>/certificate.pdf", account.own_certificate_pdf,
          "My copy of a certificate's PDF, with the full name and salt that open its name commitment",
          rate_limit=("mp-own-pdf", 30), media_type="application/pdf", params={"number": anchored(NUMBER)}),
    Route("GET", "/listings", list_listings, "Credits on sale, with price per tonne and quantity available",
          response=Items[ListingOut]),
    Route("GET", "/listings/<int:listing_id>", get_listing, "One listing with its project story",
          response=ListingOut),
    Route("POST", "/quotes", make_quote, "Price a quantity, or a saved footprint (neutralise this)",
          body=schemas.QuoteIn, response=QuoteOut, errors=(404,)),
    Route("POST", "/orders", create_order, "Order credits (Idempotency-Key): reserve, prepay, wx.requestPayment "
          "parameters", body=schemas.OrderIn, status=201, idempotent=True, response=PlacedOrderOut,
          rate_limit=("mp-orders", "MP_ORDERS_PER_MINUTE"), rate_limit_who=per_user, errors=(404,)),
    Route("GET", "/orders", list_orders, "My orders, newest first", response=Items[OrderOut]),
    Route("GET", "/orders/<order_no>", get_order, "One of my orders (while it is unpaid, asks WeChat Pay at most "
          "once per MP_ORDER_QUERY_INTERVAL_SECONDS)", response=OrderOut, params=ORDER_NO),
    Route("POST", "/orders/<order_no>/refund", refund_order, "Refund a keep-in-account order before any use",
          response=OrderOut, params=ORDER_NO),
]
register(bp, ROUTES)  # who may call each route: backend/access/policy.py

def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

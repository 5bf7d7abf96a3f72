"""What follows a fulfilled order, in the background (never holding up the payment): the buyer's leaderboard
score, and the subscribe message saying their certificate is ready.

The message uses the template in WECHAT_CERTIFICATE_TEMPLATE_ID, which must have the keywords below (WeChat's
limits: ``thing`` 20 characters, ``character_string`` 32, ``time`` a date and time). The user must have agreed to it
in the mini-program (wx.requestSubscribeMessage); if not, WeChat answers 43101 and nothing more is tried.
"""

from __future__ import annotations

import logging

from flask import current_app

from backend import jobs, wechat
from backend.accounts.service import get_user
from backend.certificates.service import certificate_of
from backend.db import read
from backend.ledger.models import Retirement
from backend.orders import service
from backend.personal import leaderboard, sharing
from backend.registry.models import Batch, Project

log = logging.getLogger(__name__)


def after_fulfilment(order_no: str, outcome: str) -> None:
    """Queue the follow-ups of an order the caller has just fulfilled (and committed)."""
    if outcome != "fulfilled":
        return
    try:  # one Redis round trip and no query: this runs inside WeChat's notification request
        jobs.enqueue(("board.record_buyer", {"order_no": order_no}),
                     ("notice.certificate_ready", {"order_no": order_no}))
    except Exception:  # the payment is settled and committed; nothing here may turn that into an error
        log.exception("order %s: follow-ups not queued", order_no)


@jobs.job("board.record_buyer")
def record_buyer(order_no: str) -> None:
    read(lambda s: leaderboard.record_retired(s, get_user(s, service.get_order(s, order_no).user_id)))


@jobs.job("board.record_retired")
def record_retired(user_id: int, previous_region: str | None = None) -> None:
    read(lambda s: leaderboard.record_retired(s, get_user(s, user_id), previous_region=previous_region))


def _thing(text: str) -> str:
    return text if len(text) <= 20 else text[:19] + "…"


def certificate_message(session, order_no: str) -> tuple[str, dict, str] | None:
    """(openid, data, page) for the message, or None if the order has no certificate."""
    order = service.get_order(session, order_no)
    certificate = certificate_of(session, order.retirement_id) if order.retirement_id else None
    if certificate is None:
        return None
    retirement = session.get(Retirement, order.retirement_id)
    project = session.get(Project, session.get(Batch, order.batch_id).project_id)
    retired_at = retirement.retired_at.astimezone(service.CHINA)
    data = {"thing1": {"value": _thing(project.name)},
            "character_string2": {"value": certificate.number},
            "thing3": {"value": f"{service.tonnes(order.quantity_g)} 吨二氧化碳当量"},
            "time4": {"value": f"{retired_at:%Y-%m-%d %H:%M}"}}
    return get_user(session, order.user_id).openid, data, f"{sharing.CERTIFICATE_PAGE}?no={certificate.number}"


@jobs.job("notice.certificate_ready")
def certificate_ready(order_no: str) -> None:
    template_id = current_app.config["WECHAT_CERTIFICATE_TEMPLATE_ID"]
    if not template_id:
        log.info("order %s: no WECHAT_CERTIFICATE_TEMPLATE_ID, no certificate message", order_no)
        return
    message = read(lambda s: certificate_message(s, order_no))
    if message is not None:
        openid, data, page = message
        wechat.miniapp().send_subscribe_message(openid, template_id, data, page=page)

"""What follows a fulfilled order, in the background (never holding up the payment): the buyer's leaderboard
score, and the subscribe message saying their certificate is ready.

The message uses the template in WECHAT_CERTIFICATE_TEMPLATE_ID, which must have the keywords below (WeChat's
limits: ``thing`` 20 characters, ``character_string`` 32, ``time`` a date and time). The user must have agreed to it
in the mini-program (wx.requestSubscribeMessage); if not, WeChat answers 43101 and nothing more is tried.

Jobs are delivered at least once (backend/jobs.py), so each handler here is idempotent in effect: a board score is
the buyer's total read from the database (ZADD GT: a second run writes the same number), and the message is sent at
most once per certificate (claimed before sending, released only when WeChat answered that it did not send it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app

from backend import jobs, wechat
from backend.accounts.service import get_user
from backend.certificates.service import certificate_of
from backend.db import read
from backend.ledger.models import Retirement
from backend.orders import service
from backend.personal import leaderboard, sharing
from backend.registry.models import Batch, Project
from backend.wechat.errors import WeChatUnavailable

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
    def record(session) -> None:
        order = service.get_order(session, order_no)
        if order.user_id is not None:  # an organisation's order (Native) moves no citizen's board score
            leaderboard.record_retired(session, get_user(session, order.user_id))
    read(record)


@jobs.job("board.record_retired")
def record_retired(user_id: int, previous_region: str | None = None) -> None:
    read(lambda s: leaderboard.record_retired(s, get_user(s, user_id), previous_region=previous_region))


def _thing(text: str) -> str:
    return text if len(text) <= 20 else text[:19] + "…"


@dataclass(frozen=True)
class CertificateMessage:
    number: str
    openid: str
    data: dict
    page: str


def certificate_message(session, order_no: str) -> CertificateMessage | None:
    """The message for the order's certificate, or None if the order has no certificate or no citizen to tell (an
    organisation's order: its staff see the certificate on their page)."""
    order = service.get_order(session, order_no)
    certificate = certificate_of(session, order.retirement_id) if order.retirement_id else None
    if certificate is None or order.user_id is None:
        return None
    retirement = session.get(Retirement, order.retirement_id)
    project = session.get(Project, session.get(Batch, order.batch_id).project_id)
    retired_at = retirement.retired_at.astimezone(service.CHINA)
    data = {"thing1": {"value": _thing(project.name)},
            "character_string2": {"value": certificate.number},
            "thing3": {"value": f"{service.tonnes(order.quantity_g)} 吨二氧化碳当量"},
            "time4": {"value": f"{retired_at:%Y-%m-%d %H:%M}"}}
    return CertificateMessage(certificate.number, get_user(session, order.user_id).openid, data,
                              f"{sharing.CERTIFICATE_PAGE}?no={certificate.number}")


@jobs.job("notice.certificate_ready")
def certificate_ready(order_no: str) -> None:
    template_id = current_app.config["WECHAT_CERTIFICATE_TEMPLATE_ID"]
    if not template_id:
        log.info("order %s: no WECHAT_CERTIFICATE_TEMPLATE_ID, no certificate message", order_no)
        return
    message = read(lambda s: certificate_message(s, order_no))
    if message is None:
        return
    if not jobs.claim_once("certificate_ready", message.number):  # a second delivery of this job, or of another
        log.info("certificate %s: its ready message was sent already; not again", message.number)
        return
    try:
        wechat.miniapp().send_subscribe_message(message.openid, template_id, message.data, page=message.page)
    except WeChatUnavailable as error:
        if not _wechat_answered(error):  # it may have reached the user: at most once means not again
            log.warning("certificate %s: no answer from WeChat to its ready message; not sent again",
                        message.number)
            return
        jobs.release_once("certificate_ready", message.number)  # WeChat said it did not send: retry later
        raise


def _wechat_answered(error: WeChatUnavailable) -> bool:
    """WeChat answered with an error code (so it sent nothing), rather than the network or its answer failing."""
    return isinstance(error.details, dict) and "errcode" in error.details

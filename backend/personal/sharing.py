"""A 小程序码 that opens one's certificate in the mini-program, for sharing in WeChat.

WeChat rations getwxacodeunlimit calls, and a certificate's code never changes, so each is made once and kept in
Redis for a week; without Redis it is made on every request. WeChat answers a JPEG (a PNG only for a transparent
code), so the cache keeps the bytes as they came and their type is read from the bytes on the way out, whichever
the cache holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from sqlalchemy import select
from sqlmodel import Session

from backend import wechat
from backend.cache import get_redis_bytes, key
from backend.certificates.api import NUMBER
from backend.certificates.models import Certificate
from backend.errors import NotFound
from backend.ledger.models import Retirement
from backend.privacy.models import BeneficiaryName
from backend.wechat.miniapp import image_type

log = logging.getLogger(__name__)
CERTIFICATE_PAGE = "pages/certificate/detail"  # the mini-program's certificate page; ?no= or the scene names it
CACHE_SECONDS = 7 * 86400


Opening = tuple[str | None, str | None]
"""(full name, salt) behind a certificate's name commitment; (None, None) once erased."""

DOCUMENT_OWNERS: dict[str, Callable[[Session, str, str], Opening | None]] = {}
"""A scenario whose documents name a citizen (a tree-duty voucher) registers, by certificate kind, who owns one:
``owner(session, holder, number)`` → the opening of its name commitment if ``holder``'s, else None."""


def _document_opening(session: Session, holder: str, number: str) -> Opening | None:
    kind = session.execute(select(Certificate.kind).where(Certificate.number == number)).scalar()
    owner = DOCUMENT_OWNERS.get(kind) if kind is not None else None
    return owner(session, holder, number) if owner is not None else None


def check_owned(session: Session, holder: str, number: str) -> Opening | None:
    """NotFound unless the certificate is ``holder``'s: they retired its credits, or it is a document made out to
    them (someone else's is not theirs to share). A document's opening, when it is one."""
    if not NUMBER.fullmatch(number):
        raise NotFound("证书不存在 (no such certificate of yours)")
    if session.execute(select(Certificate.id).join(Retirement, Retirement.id == Certificate.retirement_id)
                       .where(Certificate.number == number, Retirement.holder == holder)).first():
        return None
    opening = _document_opening(session, holder, number)
    if opening is None:
        raise NotFound("证书不存在 (no such certificate of yours)")
    return opening


def share_code(number: str) -> tuple[bytes, str]:
    """The image and its MIME type, from the cache or from WeChat (the scene is the certificate number, ≤ 32
    characters)."""
    cache_key = key("share-code", number)
    try:
        cached = get_redis_bytes().get(cache_key)
    except redis.RedisError as error:
        log.warning("share code cache unavailable: %s", error)
        cached = None
    if cached is not None and (mimetype := image_type(cached)) is not None:
        return cached, mimetype
    image, mimetype = wechat.miniapp().mini_program_code(number, page=CERTIFICATE_PAGE)
    try:
        get_redis_bytes().set(cache_key, image, ex=CACHE_SECONDS)
    except redis.RedisError as error:
        log.warning("share code not cached: %s", error)
    return image, mimetype


def name_proof(session: Session, holder: str, number: str) -> tuple[str, str] | None:
    """(full name, salt) behind the holder's certificate, or None once erased; NotFound if it is not theirs."""
    opening = check_owned(session, holder, number)
    if opening is not None:  # a document: its scenario keeps the opening
        full_name, salt = opening
        return (full_name, salt) if full_name and salt else None
    row = session.execute(select(BeneficiaryName.full_name, BeneficiaryName.salt)
                          .join(Certificate, Certificate.retirement_id == BeneficiaryName.retirement_id)
                          .where(Certificate.number == number)).one_or_none()
    return (row.full_name, row.salt) if row is not None and row.full_name and row.salt else None

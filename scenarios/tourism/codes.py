"""A site's 小程序码, printed at the gate: it opens the site in the mini-program (scene s=<id>), where the trip
calculator starts with the site as destination.

A site's code never changes (the scene is its number) and WeChat rations getwxacodeunlimit calls, so each is made
once and kept in Redis, as a certificate's share code is (backend/personal/sharing.py); without Redis it is made
on every request, and the bytes are kept as WeChat sent them (a JPEG, or a PNG when transparent)."""

from __future__ import annotations

import logging

import redis
from flask import make_response

from backend import wechat
from backend.cache import get_redis_bytes, key
from backend.wechat.miniapp import image_type

log = logging.getLogger(__name__)
SITE_PAGE = "pages/tourism/site"  # the mini-program page the code opens
CACHE_SECONDS = 30 * 86400  # kept a month: a printed code is asked for again when the gate's sign is reprinted


def scene(site_id: int) -> str:
    return f"s={site_id}"


def gate_code(site_id: int) -> tuple[bytes, str]:
    """The image and its MIME type, from the cache or from WeChat."""
    cache_key = key("site-code", str(site_id))
    try:
        cached = get_redis_bytes().get(cache_key)
    except redis.RedisError as error:
        log.warning("site code cache unavailable: %s", error)
        cached = None
    if cached is not None and (mimetype := image_type(cached)) is not None:
        return cached, mimetype
    image, mimetype = wechat.miniapp().mini_program_code(scene(site_id), page=SITE_PAGE)
    try:
        get_redis_bytes().set(cache_key, image, ex=CACHE_SECONDS)
    except redis.RedisError as error:
        log.warning("site code not cached: %s", error)
    return image, mimetype


def gate_code_response(site_id: int):
    """For an organisation's people to print: private, not cached by shared caches. The caller has scoped the
    site first."""
    image, mimetype = gate_code(site_id)
    response = make_response(image)
    response.mimetype = mimetype
    response.cache_control.private = True
    return response

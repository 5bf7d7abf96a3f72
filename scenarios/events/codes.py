"""The event's 小程序码 for participants, for the venue's screens and badges: it opens the event in the mini-program
(scene e=<id>), where a participant's trip calculator starts with the venue as destination. The JSON route
(a token) and the organiser's page (a session) both answer with this one image; each scopes the event first."""

from __future__ import annotations

from flask import Response, make_response

from backend import wechat

EVENT_PAGE = "pages/events/event"  # the mini-program page the code opens


def participant_code_image(event_id: int) -> Response:
    """The 小程序码 as WeChat made it (JPEG or PNG), private to the organiser's people."""
    image, mimetype = wechat.miniapp().mini_program_code(f"e={event_id}", page=EVENT_PAGE)
    response = make_response(image)
    response.mimetype = mimetype
    response.cache_control.private = True
    return response

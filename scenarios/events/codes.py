"""The event's 小程序码 for participants, for the venue's screens and badges: it opens the event in the mini-program
(scene e=<id>), where a participant's trip calculator starts with the venue as destination. The JSON route
(a token) and the organiser's page (a session) both answer with this one image; each scopes the event first."""

from __future__ import annotations

from flask import Response

from backend import wechat

EVENT_PAGE = "pages/events/event"  # the mini-program page the code opens


def participant_code_image(event_id: int) -> Response:
    return wechat.code_response(f"e={event_id}", EVENT_PAGE)

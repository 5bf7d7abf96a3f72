"""What can go wrong talking to WeChat, as the domain errors the HTTP layer turns into envelopes."""

from __future__ import annotations

from backend.errors import DomainError


class WeChatUnavailable(DomainError):
    """WeChat did not answer, or answered something we cannot use: try again later. Nothing was changed here."""

    status = 503
    code = "wechat_unavailable"


class NotificationRejected(Exception):
    """A payment notification we will not act on; ``reason`` says why (it goes to the log, not to WeChat)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

"""Mini-program users: one row per WeChat openid under our appid. Their ledger holder key is ``user:<id>``."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


class MiniUser(SQLModel, table=True):
    """A citizen who logged in through the mini-program. ``session_key`` is never stored here or sent anywhere."""

    __tablename__ = "mp_user"

    id: int | None = Field(default=None, primary_key=True)
    openid: str = Field(max_length=64, unique=True)
    unionid: str | None = Field(default=None, max_length=64, index=True)
    """The same person across our WeChat apps, when the app is bound to an open-platform account."""
    nickname: str = Field(default="", max_length=32)
    avatar_url: str = Field(default="", max_length=500)
    region_adcode: str | None = Field(default=None, max_length=6)
    real_name: str | None = Field(default=None, max_length=50)
    """Printed on the user's certificates (masked in public); optional."""
    birth_year: int | None = None
    sex: str | None = Field(default=None, max_length=6)
    """``male`` / ``female``: with the birth year, only to judge the tree-planting duty's age (never an ID number)."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_login_at: datetime = Field(sa_type=UTCDateTime)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the citizen deleted their account: the row stays (the ledger and orders refer to ``user:<id>``) with
    nothing in it that names or reaches them."""

    @property
    def holder(self) -> str:
        return f"user:{self.id}"

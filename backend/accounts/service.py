"""Mini-program users: created at first login, found by openid; profiles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend import audit
from backend.accounts.models import MiniUser
from backend.errors import NotFound, Unauthorized
from backend.ledger.holders import mask_name
from backend.wechat.miniapp import WeChatSession

DEFAULT_NAME = "微信用户"
PROFILE_FIELDS = ("nickname", "avatar_url", "region_adcode", "real_name")


def login(session: Session, now: datetime, wechat: WeChatSession) -> MiniUser:
    """The user behind a WeChat session: found by openid, created the first time. The unionid is kept once known."""
    user = session.execute(select(MiniUser).where(MiniUser.openid == wechat.openid).with_for_update()
                           ).scalar_one_or_none()
    if user is None:
        user = MiniUser(openid=wechat.openid, unionid=wechat.unionid, created_at=now, last_login_at=now)
        try:
            with session.begin_nested():  # two first logins at once: the loser finds the winner's row
                session.add(user)
        except IntegrityError:
            return login(session, now, wechat)
        audit.append(session, now, actor=f"user:{user.id}", action="user.create", object_type="mp_user",
                     object_id=user.id, after={"unionid_known": wechat.unionid is not None})
        return user
    user.last_login_at = now
    if wechat.unionid and user.unionid != wechat.unionid:
        user.unionid = wechat.unionid
    session.add(user)
    return user


def get_user(session: Session, user_id: int, *, lock: bool = False, active: bool = False) -> MiniUser:
    """The user; ``active``: one acting for themself, so an erased account is refused like a dead session (a token
    still in flight while the account was deleted must not write into it again)."""
    query = select(MiniUser).where(MiniUser.id == user_id)
    user = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if user is None:
        raise NotFound("用户不存在 (unknown user)")
    if active and user.erased_at is not None:
        raise Unauthorized("账户已删除，请重新登录 (the account was deleted)", code="session_expired")
    return user


def display_name(user: MiniUser) -> str:
    """The name a certificate is made out to when the user buys for themself."""
    return user.real_name or user.nickname or DEFAULT_NAME


def update_profile(session: Session, now: datetime, user_id: int, changes: dict[str, Any]) -> MiniUser:
    """Apply the given profile fields (already validated and content-checked by the caller).

    A field given its stored value is no change: the audit chain records only what changed, and nothing at all
    when nothing did.
    """
    user = get_user(session, user_id, lock=True, active=True)
    changes = {name: value for name, value in changes.items() if getattr(user, name) != value}
    if not changes:
        return user
    for name, value in changes.items():
        setattr(user, name, value)
    session.add(user)
    # Which fields changed, never their values: the chain is permanent, and a name, nickname or home region in it
    # could never be erased.
    audit.append(session, now, actor=f"user:{user_id}", action="user.profile", object_type="mp_user",
                 object_id=user_id, after={"changed": sorted(changes)})
    return user


def profile_view(user: MiniUser) -> dict[str, Any]:
    return {"id": user.id, "nickname": user.nickname, "avatar_url": user.avatar_url, "region": user.region_adcode,
            "real_name_masked": mask_name(user.real_name) if user.real_name else None,
            "birth_year": user.birth_year, "sex": user.sex,
            "has_unionid": user.unionid is not None, "holder": user.holder}

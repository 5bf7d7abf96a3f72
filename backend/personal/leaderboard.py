"""Leaderboards of credits retired, nationwide and per division (province, prefecture, county), in Redis sorted
sets that are a cache of the database (DESIGN.md §7).

A board is rebuilt from the database when its freshness marker is missing: on first use, after Redis lost it, and
every ``BOARD_REBUILD_SECONDS``. Between rebuilds a fulfilled order raises the buyer's score at once (ZADD GT of
their total read from the database, so two updates racing leave the larger, later total). A rebuild racing such an
update can hide it until the next rebuild; a correction that lowers a total shows at the next rebuild. If Redis is
down the board is computed from the database for that request.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import redis
from flask import current_app
from sqlalchemy import String, cast, func, literal, select, true
from sqlmodel import Session

from backend.accounts.models import MiniUser
from backend.accounts.service import DEFAULT_NAME
from backend.cache import get_redis, key
from backend.errors import InvalidInput
from backend.ledger.models import Retirement, Transfer
from backend.registry import adcode

log = logging.getLogger(__name__)
NATIONWIDE = "CN"
REBUILD_LOCK_SECONDS = 30


def scope_of(region: str | None) -> str:
    """The board a ``region`` query names: nationwide when absent, else any GB/T 2260 division."""
    if region is None:
        return NATIONWIDE
    if region not in adcode.divisions():
        raise InvalidInput("region", "不是有效的行政区划代码 (not a GB/T 2260 division code)")
    return region


def scopes_of(region: str | None) -> list[str]:
    """Every board a user with this home region appears on."""
    scopes = [NATIONWIDE]
    if region:  # a county directly under its province (济源 419001) has no prefecture row: no board for one
        for scope in (region[:2] + "0000", region[:4] + "00", region):
            if scope not in scopes and scope in adcode.divisions():
                scopes.append(scope)
    return scopes


def _in_scope(scope: str):
    if scope == NATIONWIDE:
        return true()
    if scope.endswith("0000"):
        return MiniUser.region_adcode.startswith(scope[:2])
    if scope.endswith("00") and any(code != scope and code.startswith(scope[:4]) for code in adcode.divisions()):
        return MiniUser.region_adcode.startswith(scope[:4])  # a prefecture with counties
    return MiniUser.region_adcode == scope


def _standing():
    """Retirements that count on the boards: still standing (none reversed by a correction), and not a court's
    order — a defendant's restoration is no one's green merit to rank."""
    return (~select(Transfer.id).where(Transfer.corrects_id == Retirement.transfer_id).exists()
            & (Retirement.purpose != "judicial"))


def scores_from_database(session: Session, scope: str) -> dict[int, int]:
    rows = session.execute(
        select(MiniUser.id, func.sum(Retirement.quantity_g))
        .join(Retirement, Retirement.holder == literal("user:", String) + cast(MiniUser.id, String))
        .where(_in_scope(scope), _standing(), MiniUser.erased_at.is_(None)).group_by(MiniUser.id)).all()
    return {user_id: int(total) for user_id, total in rows if total}


def retired_by(session: Session, user: MiniUser) -> int:
    return int(session.execute(select(func.coalesce(func.sum(Retirement.quantity_g), 0))
                               .where(Retirement.holder == user.holder, _standing())).scalar_one())


def _board(scope: str) -> str:
    return key("board", "retired", scope)


def _fresh(scope: str) -> str:
    return key("board", "retired", scope, "fresh")


def rebuild(session: Session, scope: str) -> dict[int, int]:
    """Replace the board with the database's figures, atomically (readers see the old board or the new one)."""
    scores = scores_from_database(session, scope)
    connection = get_redis()
    staging = key("board", "retired", scope, "staging")
    with connection.pipeline(transaction=True) as pipe:
        pipe.delete(staging)
        if scores:
            pipe.zadd(staging, {str(user_id): total for user_id, total in scores.items()})
            pipe.rename(staging, _board(scope))
        else:
            pipe.delete(_board(scope))
        pipe.set(_fresh(scope), "1", ex=current_app.config["BOARD_REBUILD_SECONDS"])
        pipe.execute()
    return scores


def _ranked_from_redis(session: Session, scope: str, limit: int, user_id: int | None):
    connection = get_redis()
    if not connection.exists(_fresh(scope)):
        # one process rebuilds; the others serve the board they have (or the database's, if there is none yet)
        lock, token = key("board", "retired", scope, "lock"), secrets.token_hex(8)
        if connection.set(lock, token, nx=True, ex=REBUILD_LOCK_SECONDS):
            try:
                rebuild(session, scope)
            finally:  # ours only: a rebuild slower than the lock's expiry must not release another's lock
                if connection.get(lock) == token:
                    connection.delete(lock)
        elif not connection.exists(_board(scope)):
            return _ranked_from_database(session, scope, limit, user_id)
    board = _board(scope)
    top = [(int(member), int(score)) for member, score in connection.zrevrange(board, 0, limit - 1, withscores=True)]
    mine = None
    if user_id is not None:
        rank, score = connection.zrevrank(board, str(user_id)), connection.zscore(board, str(user_id))
        mine = (rank + 1, int(score)) if rank is not None and score is not None else None
    return top, mine, int(connection.zcard(board))


def _ranked_from_database(session: Session, scope: str, limit: int, user_id: int | None):
    # ties in the order Redis gives them: by member, a string, highest first
    ordered = sorted(scores_from_database(session, scope).items(), key=lambda item: (item[1], str(item[0])),
                     reverse=True)
    mine = next(((rank, total) for rank, (member, total) in enumerate(ordered, 1) if member == user_id), None)
    return ordered[:limit], mine, len(ordered)


def standings(session: Session, *, region: str | None, limit: int, user_id: int | None) -> dict[str, Any]:
    scope = scope_of(region)
    try:
        top, mine, entrants = _ranked_from_redis(session, scope, limit, user_id)
    except redis.RedisError as error:
        log.warning("leaderboard %s from the database: Redis unavailable: %s", scope, error)
        top, mine, entrants = _ranked_from_database(session, scope, limit, user_id)
    users = {u.id: u for u in session.execute(
        select(MiniUser).where(MiniUser.id.in_([member for member, _ in top]))).scalars()}
    return {"region": None if scope == NATIONWIDE else scope,
            "region_name": "全国" if scope == NATIONWIDE else adcode.full_name(scope),
            "entrants": entrants,
            "items": [{"rank": rank, "user_id": member, "nickname": users[member].nickname or DEFAULT_NAME,
                       "avatar_url": users[member].avatar_url, "retired_g": total}
                      for rank, (member, total) in enumerate(top, 1) if member in users],
            "me": {"rank": mine[0], "retired_g": mine[1]} if mine else None}


def record_retired(session: Session, user: MiniUser, *, previous_region: str | None = None) -> None:
    """Put the user's current total on every board of their region, and take them off boards of a region they
    left. Best effort: a board Redis lost or missed this on is rebuilt from the database."""
    if user.erased_at is not None:  # a job queued before the account was deleted: it stays off every board
        forget(user.id, previous_region)
        return
    total = retired_by(session, user)
    scopes = scopes_of(user.region_adcode)
    left = [scope for scope in scopes_of(previous_region) if scope not in scopes] if previous_region else []
    try:
        with get_redis().pipeline(transaction=False) as pipe:
            for scope in left:
                pipe.zrem(_board(scope), str(user.id))
            if total:
                for scope in scopes:
                    pipe.zadd(_board(scope), {str(user.id): total}, gt=True)
            pipe.execute()
    except redis.RedisError as error:
        log.warning("leaderboard update for user %s skipped: Redis unavailable: %s", user.id, error)


def forget(user_id: int, region: str | None) -> None:
    """Take an erased citizen off every board they were on (a rebuild would leave them off too)."""
    try:
        with get_redis().pipeline(transaction=False) as pipe:
            for scope in scopes_of(region):
                pipe.zrem(_board(scope), str(user_id))
            pipe.execute()
    except redis.RedisError as error:
        log.warning("leaderboards keep erased user %s until their rebuild: Redis unavailable: %s", user_id, error)

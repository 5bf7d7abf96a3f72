"""/api/staff/v1: what any staff account may ask about itself with its token — who am I, my tokens.

New tokens are made only by a signed-in person on their account page (password and second factor behind it) or by
the CLI on the server: a leaked token cannot mint itself successors.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app

from backend.access.identity import staff_principal
from backend.db import atomic, read
from backend.http import Route, register
from backend.schemas import Items
from backend.staff.schemas import TokenOut, WhoAmIOut
from backend.staff import service, tokens

bp = Blueprint("staff_api", __name__, url_prefix="/api/staff/v1")


def whoami():
    principal = staff_principal()

    result = read(lambda s: service.account_views(s, [service.get_account(s, principal.account_id)])[0])
    result["token"] = {"id": principal.token_id, "name": principal.token_name}
    return result


def list_tokens():
    principal = staff_principal()
    now = current_app.config["CLOCK"]()
    return {"items": [tokens.token_view(t, now) for t in read(lambda s: tokens.tokens_of(s, principal.account_id))]}


def revoke_token(token_id: int):
    principal = staff_principal()
    now = current_app.config["CLOCK"]()
    token = atomic(lambda s: tokens.revoke(s, now, account_id=principal.account_id, token_id=token_id,
                                           actor=principal.actor))
    return tokens.token_view(token, now)


ROUTES = [
    Route("GET", "/me", whoami, "The account behind this token: name, roles in each scope, the token's name",
          tags=("staff",), response=WhoAmIOut),
    Route("GET", "/tokens", list_tokens, "My personal API tokens (never the secrets)", tags=("staff",),
          response=Items[TokenOut]),
    Route("DELETE", "/tokens/<int:token_id>", revoke_token, "Revoke one of my tokens (this one too)",
          tags=("staff",), response=TokenOut),
]
register(bp, ROUTES)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

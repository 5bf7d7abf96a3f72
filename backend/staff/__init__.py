"""Staff: the people who sign in on the web or call the APIs with a personal token — operators and organisations'
people. Accounts, memberships (roles in a scope), passwords (argon2id), the TOTP second factor, personal tokens,
invitations, sign-in throttling, the sign-in pages and ``flask users``."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from backend.staff import api, cli, pages, web

    web.init_app(app)
    app.register_blueprint(pages.bp)
    api.init_app(app)
    cli.init_app(app)

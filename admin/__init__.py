"""Operator side: the operator JSON API (/api/admin/v1) and the console's pages (/admin/), one blueprint of pages
per section."""

from flask import Flask


def init_app(app: Flask) -> None:
    from admin import api, audit_pages, certificate_pages, listing, pages

    app.jinja_env.globals.update(with_args=listing.with_args, sort_url=listing.sort_url)
    api.init_app(app)
    pages.init_app(app)
    app.register_blueprint(certificate_pages.bp)
    app.register_blueprint(audit_pages.bp)

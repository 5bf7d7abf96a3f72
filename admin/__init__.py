"""Operator side: the operator JSON API (/api/admin/v1) and the console's pages (/admin/), one blueprint of pages
per section."""

from flask import Flask


def init_app(app: Flask) -> None:
    from admin import (api, audit_pages, certificate_pages, factor_pages, listing, order_pages, organisation_pages,
                       pages, registry_pages, settlement_pages, verification_pages, verifications)
    from backend.clock import beijing_text
    from backend.money import yuan
    from backend.orders.service import tonnes

    app.jinja_env.globals.update(with_args=listing.with_args, sort_url=listing.sort_url, yuan=yuan, tonnes=tonnes,
                                 beijing=beijing_text)
    api.init_app(app)
    verifications.init_app(app)
    pages.init_app(app)
    for section in (registry_pages, organisation_pages, order_pages, settlement_pages, certificate_pages,
                    audit_pages, verification_pages, factor_pages):
        app.register_blueprint(section.bp)

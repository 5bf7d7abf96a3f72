"""Operator side: the operator JSON API (/api/admin/v1) and the console's pages (/admin/), one blueprint of pages
per section."""

from flask import Flask

SECTIONS = [  # (path, label, endpoint): across the top of every console page, each shown to who may open it
    ("/admin/", "概览", "admin_pages.home"),
    ("/admin/projects", "项目与批次", "admin_registry.list_projects"),
    ("/admin/listings", "挂牌与价格", "admin_registry.list_listings"),
    ("/admin/organisations", "机构", "admin_organisations.list_organisations"),
    ("/admin/orders", "订单", "admin_orders.list"),
    ("/admin/settlement", "结算", "admin_settlement.month"),
    ("/admin/certificates", "证书", "admin_certificates.list_certificates"),
    ("/admin/factors", "排放因子", "admin_factors.sets"),
    ("/admin/audit", "审计", "admin_audit.list_events"),
    ("/admin/verifications", "校验", "admin_verifications.overview"),
    ("/admin/staff", "员工账号", "admin_organisations.staff"),
]


def init_app(app: Flask) -> None:
    from admin import (api, audit_pages, certificate_pages, export_pages, exports, factor_pages, listing, order_pages,
                       organisation_pages, pages, registry_pages, settlement_pages, verification_pages, verifications)
    from backend.clock import beijing_text
    from backend.money import yuan
    from backend.orders.service import tonnes

    app.jinja_env.globals.update(with_args=listing.with_args, sort_url=listing.sort_url, yuan=yuan, tonnes=tonnes,
                                 beijing=beijing_text, console_sections=SECTIONS)
    api.init_app(app)
    verifications.init_app(app)
    exports.init_app(app)
    pages.init_app(app)
    for section in (registry_pages, organisation_pages, order_pages, settlement_pages, certificate_pages,
                    factor_pages, audit_pages, verification_pages, export_pages):
        app.register_blueprint(section.bp)

"""碳汇+旅游: a scenic area's sites, each with a 小程序码 at the gate; visitors scan it, get the trip calculator
prefilled, and offset the trip with credits from projects nearest the site (purpose tourism, the certificate names
the site). Sites give perks to those who take part (权益兑换); the scenic area's people work under /org/sites and
/org/perks/redeem."""

from flask import Flask

from backend import demo as core_demo
from backend.ledger import invariants as ledger_invariants
from backend.orders import purposes


def init_app(app: Flask) -> None:
    from scenarios.tourism import api, demo, pages, service
    from scenarios.tourism.invariants import check_tourism

    purposes.register(service.TourismScenario())
    if demo.load not in core_demo.SCENARIO_DEMOS:
        core_demo.SCENARIO_DEMOS.append(demo.load)
    if check_tourism not in ledger_invariants.SCENARIO_CHECKS:
        ledger_invariants.SCENARIO_CHECKS.append(check_tourism)
    app.register_blueprint(api.org_bp)
    app.register_blueprint(api.mp_bp)
    app.register_blueprint(pages.bp)

"""碳汇+大型活动: organisers neutralise an event (plan → reduce → final account → offset → certificate), and
participants offset their own trips to it."""

from flask import Flask

from backend.ledger import invariants as ledger_invariants
from backend.orders import purposes


def init_app(app: Flask) -> None:
    from scenarios.events import api, pages, service
    from scenarios.events.invariants import check_events

    purposes.register(service.EventScenario())
    if check_events not in ledger_invariants.SCENARIO_CHECKS:
        ledger_invariants.SCENARIO_CHECKS.append(check_events)
    app.register_blueprint(api.org_bp)
    app.register_blueprint(api.public_bp)
    app.register_blueprint(api.mp_bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(pages.public_bp)

"""碳汇+大型活动: organisers neutralise an event (plan → reduce → final account → offset → certificate), and
participants offset their own trips to it."""

from flask import Flask

from backend import demo as core_demo
from backend import overdue
from backend.ledger import invariants as ledger_invariants
from backend.orders import purposes


def init_app(app: Flask) -> None:
    from scenarios.events import api, demo, pages, service
    from scenarios.events.invariants import check_events

    purposes.register(service.EventScenario())
    overdue.register(overdue.Overdue("events", "逾期未中和的活动", service.overdue_count))
    if demo.load not in core_demo.SCENARIO_DEMOS:
        core_demo.SCENARIO_DEMOS.append(demo.load)
    if check_events not in ledger_invariants.SCENARIO_CHECKS:
        ledger_invariants.SCENARIO_CHECKS.append(check_events)
    app.register_blueprint(api.org_bp)
    app.register_blueprint(api.public_bp)
    app.register_blueprint(api.mp_bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(pages.public_bp)

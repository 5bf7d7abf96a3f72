"""碳汇+生态司法: courts order substitutive restoration, defendants pay, the court receives a witness certificate."""

from flask import Flask

from backend import demo as core_demo
from backend import overdue
from backend.certificates import finders
from backend.ledger import invariants as ledger_invariants
from backend.orders import purposes


def init_app(app: Flask) -> None:
    from scenarios.judicial import api, demo, pages, service
    from scenarios.judicial.invariants import check_cases

    purposes.register(service.JudicialScenario())
    overdue.register(overdue.Overdue("judicial_cases", "逾期未履行的案件", service.overdue_count))
    finders.register(finders.Finder("case", "案号", "完整案号，如 (2024)川0129刑初123号",
                                    service.certificates_of_case))
    if check_cases not in ledger_invariants.SCENARIO_CHECKS:
        ledger_invariants.SCENARIO_CHECKS.append(check_cases)
    if demo.load not in core_demo.SCENARIO_DEMOS:
        core_demo.SCENARIO_DEMOS.append(demo.load)
    app.register_blueprint(api.org_bp)
    app.register_blueprint(api.mp_bp)
    app.register_blueprint(pages.bp)

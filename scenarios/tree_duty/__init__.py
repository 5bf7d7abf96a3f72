"""碳汇+全民义务植树: citizens (for themselves and their family) and organisations (for their staff) discharge the
yearly tree-planting duty by buying credits, under their region's threshold rule, and receive vouchers that the
greening committee recognises."""

from flask import Flask

from backend import demo as core_demo
from backend.accounts import erasure
from backend.ledger import invariants as ledger_invariants
from backend.personal import sharing
from backend.orders import purposes


def init_app(app: Flask) -> None:
    # downloads is imported for its job handler
    from scenarios.tree_duty import api, demo, downloads, issuing, pages, service, voucher  # noqa: F401
    from scenarios.tree_duty.invariants import check_tree_duty

    purposes.register(service.TreeDutyScenario())
    if check_tree_duty not in ledger_invariants.SCENARIO_CHECKS:
        ledger_invariants.SCENARIO_CHECKS.append(check_tree_duty)
    if demo.load not in core_demo.SCENARIO_DEMOS:
        core_demo.SCENARIO_DEMOS.append(demo.load)
    sharing.DOCUMENT_OWNERS[voucher.KIND] = service.voucher_owner
    if service.erase_names not in erasure.SCENARIO_ERASERS:
        erasure.SCENARIO_ERASERS.append(service.erase_names)
    app.register_blueprint(api.mp_bp)
    app.register_blueprint(api.public_bp)
    app.register_blueprint(api.admin_bp)
    app.register_blueprint(api.org_bp)
    app.register_blueprint(pages.bp)
    app.cli.add_command(issuing.cli)

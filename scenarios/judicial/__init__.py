"""碳汇+生态司法: courts order substitutive restoration, defendants pay, the court receives a witness certificate."""

from flask import Flask

from backend.orders import purposes


def init_app(app: Flask) -> None:
    from scenarios.judicial import api, service

    purposes.register(service.JudicialScenario())
    app.register_blueprint(api.org_bp)
    app.register_blueprint(api.mp_bp)

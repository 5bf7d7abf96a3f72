"""碳汇+ backend: the app factory.

``flask --app backend …`` finds ``create_app``; tests call ``create_app({...})`` with overrides, as in Flask's
tutorial. Blueprints of the other top-level packages (admin, miniprogram_api, scenarios) are named by the
``EXTENSIONS`` setting and loaded by name, so that ``backend`` itself imports none of them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import access, cache, certificates, db, docs, errors, footprint, http, staff, transparency, wechat
from backend.clock import system_clock
from backend.settings import finish_settings, load_settings

VERSION = "0.1.0"


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    settings = load_settings()
    settings.update({"CLOCK": system_clock, "VERSION": VERSION, "JSON_AS_ASCII": False})
    settings.update(overrides or {})
    app.config.update(finish_settings(settings, app.instance_path))
    app.json.ensure_ascii = False
    os.makedirs(app.instance_path, exist_ok=True)
    if hops := app.config["TRUSTED_PROXY_HOPS"]:  # the client is who the proxies say, not the last proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    errors.init_app(app)
    db.init_app(app)
    cache.init_app(app)
    access.init_app(app)  # first before every request: the permission table
    http.init_app(app)
    certificates.init_app(app)
    transparency.init_app(app)
    footprint.init_app(app)
    wechat.init_app(app)
    docs.init_app(app)

    from backend import cli, health, jobs, sequencer
    from backend.orders import api as payment_notifications
    from backend.orgs import api as organisations_api
    from backend.orgs import pages as organisation_pages
    from backend.orders import sweeper
    from backend.public import api as public_api
    from backend.wechat import dev_api

    health.init_app(app)
    public_api.init_app(app)
    payment_notifications.init_app(app)
    sweeper.init_app(app)
    sequencer.init_app(app)
    jobs.init_app(app)
    dev_api.init_app(app)
    staff.init_app(app)
    organisations_api.init_app(app)
    organisation_pages.init_app(app)
    cli.init_app(app)
    for name in app.config["EXTENSIONS"]:
        importlib.import_module(name).init_app(app)
    return app

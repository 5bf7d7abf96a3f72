"""The console's verifier pages: each verifier's last result and its recent runs; the one route that asks for a run
now (POST /admin/verifications/<kind>, the button here and beside what each verifier checks: the audit and
certificates pages), which records it owed for a job to run (admin/verifications.py) and leads to the run's page;
and that page, with its progress bar, which reloads itself until the run is done (a Refresh header: the pages run no
script of their own for this). The verifiers change nothing, so every platform reader may run them."""

from __future__ import annotations

from flask import current_app, redirect

from admin import verifications
from backend.access.identity import staff_principal
from backend.db import read
from backend.errors import NotFound
from backend.staff.web import page, page_blueprint

bp = page_blueprint("admin_verifications", __name__)
RELOAD_SECONDS = 2


def overview():
    now = current_app.config["CLOCK"]()
    latest, recent = read(lambda s: (verifications.latest(s, now), verifications.recent(s)))
    return page("admin/verifications/overview.html", latest=latest, recent=recent, kinds=verifications.KINDS,
                every=current_app.config["VERIFY_EVERY_SECONDS"])


def run_page(run_id: int):
    found = read(lambda s: verifications.get(s, run_id))
    if found is None:
        raise NotFound(f"校验记录 {run_id} 不存在 (unknown run)")
    response = page("admin/verifications/run.html", run=found, kinds=verifications.KINDS,
                    commands=verifications.COMMANDS)
    if found.finished_at is None:
        response.headers["Refresh"] = str(RELOAD_SECONDS)
    return response


def run_now(kind: str):
    asked = verifications.ask_by_hand(kind, staff_principal().actor)
    return redirect(f"/admin/verifications/{asked.id}")


bp.add_url_rule("/admin/verifications", endpoint="overview", view_func=overview, methods=["GET"])
bp.add_url_rule("/admin/verifications/<int:run_id>", endpoint="run", view_func=run_page, methods=["GET"])
bp.add_url_rule(f"/admin/verifications/<any({','.join(verifications.KINDS)}):kind>", endpoint="run_now",
                view_func=run_now, methods=["POST"])

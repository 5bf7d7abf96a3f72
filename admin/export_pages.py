"""The console's export pages: ask for a list's CSV as a job (admin/exports.py), watch its progress bar (the page
reloads itself until the file is written: a Refresh header, no script), and download it."""

from __future__ import annotations

from flask import current_app, redirect, request, send_file

from admin import exports
from backend.access.identity import staff_principal
from backend.db import atomic, read
from backend.errors import Conflict
from backend.staff.web import page, page_blueprint

bp = page_blueprint("admin_exports", __name__)
RELOAD_SECONDS = 2


def ask(kind: str):
    query = request.form.get("query", "")
    export = atomic(lambda s: exports.ask(s, current_app.config["CLOCK"](), kind, query,
                                          actor=staff_principal().actor))
    return redirect(f"/admin/exports/{export.id}")


def export_page(export_id: int):
    export = read(lambda s: exports.get(s, export_id))
    response = page("admin/exports/export.html", export=export, label=exports.EXPORTABLE[export.kind].label)
    if export.finished_at is None:
        response.headers["Refresh"] = str(RELOAD_SECONDS)
    return response


def download(export_id: int):
    export = read(lambda s: exports.get(s, export_id))
    if export.finished_at is None or export.error:
        raise Conflict("导出尚未完成或未能生成 (the export is not written)", code="export_pending")
    return send_file(exports.path_of(export), mimetype="text/csv", as_attachment=True,
                     download_name=f"{export.kind}-{export.id}.csv", max_age=0)


bp.add_url_rule("/admin/exports/<kind>", endpoint="ask", view_func=ask, methods=["POST"])
bp.add_url_rule("/admin/exports/<int:export_id>", endpoint="export", view_func=export_page, methods=["GET"])
bp.add_url_rule("/admin/exports/<int:export_id>/file", endpoint="download", view_func=download, methods=["GET"])

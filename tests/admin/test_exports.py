"""A big list's CSV is written by a job: asked for with the page's filters, refused at once when they are not the
list's, written once however often its job is delivered, and read only by who may read the list."""

from __future__ import annotations

from sqlalchemy import select

from admin import exports
from admin.models import CsvExport
from backend import jobs
from backend.db import read
from tests.scenarios.judicial.conftest import open_case
from tests.scenarios.judicial.test_offline_payments import offline_order
from tests.staff.conftest import Browser, Page, People


def signed_in(app, password_hash, username: str, role: str) -> Browser:
    People(app, password_hash).make(username, role)
    browser = Browser(app)
    assert browser.sign_in(username).status_code == 302
    return browser


def recorded(app) -> list[CsvExport]:
    with app.app_context():
        return read(lambda s: list(s.execute(select(CsvExport)).scalars()))


def test_an_export_holds_what_the_filters_selected_and_is_written_once(app, client, nanjing_court, county_listing,
                                                                       password_hash):
    case = open_case(client, nanjing_court, payers=[{"name": "张三"}, {"name": "李四"}])
    first = offline_order(client, nanjing_court, case, county_listing, 1_000_000)
    offline_order(client, nanjing_court, case, county_listing, 2_000_000, payer=1)
    finance = signed_in(app, password_hash, "qian", "finance")

    asked = finance.submit("/admin/orders", "/admin/exports/orders", {"query": f"order_no={first['order_no']}"})
    export_id = int(asked.location.rsplit("/", 1)[1])
    jobs.drain(app)
    path = read_path(app, export_id)
    written = path.read_bytes()
    assert written.decode("utf-8-sig").splitlines()[1].startswith(first["order_no"])
    assert len(written.decode("utf-8-sig").splitlines()) == 2  # the other order is not in it
    with app.app_context():
        exports.write(export_id)  # the job delivered again: the export is finished, the file left as it is
    assert path.read_bytes() == written and [e.rows for e in recorded(app)] == [1]


def read_path(app, export_id: int):
    with app.app_context():
        return exports.path_of(read(lambda s: s.get(CsvExport, export_id)))


def test_filters_the_list_would_refuse_are_refused_before_anything_is_recorded(app, password_hash):
    finance = signed_in(app, password_hash, "qian", "finance")
    refused = finance.submit("/admin/orders", "/admin/exports/orders", {"query": "status=lost"})
    assert refused.status_code == 400 and "status" in Page(refused).text("problem")
    assert finance.submit("/admin/orders", "/admin/exports/nothing", {"query": ""}).status_code == 404
    assert recorded(app) == []


def test_an_export_is_read_only_by_who_may_read_its_list(app, password_hash):
    finance = signed_in(app, password_hash, "qian", "finance")
    export = finance.submit("/admin/orders", "/admin/exports/orders", {"query": ""}).location
    jobs.drain(app)
    assert finance.get(f"{export}/file").status_code == 200
    outsider = Browser(app)
    assert outsider.get(export).status_code == 302  # sign in first


def test_an_export_of_a_list_one_may_not_read_is_refused(app, password_hash):
    finance = signed_in(app, password_hash, "qian", "finance")  # the audit chain is the auditor's and admin's
    assert finance.submit("/admin/orders", "/admin/exports/audit", {"query": ""}).status_code == 403
    auditor = signed_in(app, password_hash, "shen", "auditor")
    export = auditor.submit("/admin/audit", "/admin/exports/audit", {"query": ""}).location
    assert finance.get(export).status_code == 403 and auditor.get(export).status_code == 200
    assert [e.kind for e in recorded(app)] == ["audit"]


def test_an_export_whose_job_was_lost_is_queued_again_and_one_that_breaks_says_why(app, clock, password_hash,
                                                                                   monkeypatch):
    finance = signed_in(app, password_hash, "qian", "finance")
    lost = finance.submit("/admin/orders", "/admin/exports/orders", {"query": ""}).location
    with app.app_context():
        jobs.get_redis_bytes().delete(jobs.Keys.here().queue)  # Redis forgot the job
    jobs.drain(app)
    assert "排队中" in finance.open(lost).text("export")
    clock.advance(minutes=6)
    with app.app_context():
        exports.queue_owed(slot=0)  # the sweep's pass
    jobs.drain(app)
    assert "共 0 行" in finance.open(lost).text("ready")

    def broken(session, rows):
        raise RuntimeError("disk full")
    broken_one = finance.submit("/admin/orders", "/admin/exports/orders", {"query": ""}).location
    monkeypatch.setitem(exports.EXPORTABLE, "orders", exports.EXPORTABLE["orders"].__class__(
        **{**exports.EXPORTABLE["orders"].__dict__, "lines": broken}))
    jobs.drain(app)
    page = finance.open(broken_one)
    assert "disk full" in page.text("failed") and "Refresh" not in page.response.headers
    assert finance.get(f"{broken_one}/file").status_code == 409

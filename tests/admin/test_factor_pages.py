"""Worked examples: the console's footprint-factor pages.

The shipped data files are stored as set 1 at start-up and are the current set. A household in 四川 (510000) uses
100 kWh in 2022: with set 1's provincial factor, 0.1404 kgCO2/kWh, that is 14,040 g. A reviewer downloads
factors.csv from the console, changes that factor to 0.1500 (a corrected notice) and adds a 2024 national grid
factor, and loads the file: set 2, which the diff shows as exactly that one change and that one addition. The next
calculation uses set 2 (15,000 g); the one made before still reproduces with set 1. A broken file is refused naming
the file and its line, and stores nothing; the same files again store nothing either. Finance and the auditor read
every page and see no load form; their POST is refused.
"""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from sqlalchemy import func, select

from backend import audit
from backend.audit.models import AuditEvent
from backend.db import atomic, read
from backend.footprint import library
from backend.footprint.models import FactorSetRecord
from tests.staff.conftest import Browser, Page, People, last_events

HOUSEHOLD = {"region": "510000", "year": 2022, "electricity_kwh": 100}
SICHUAN_2022 = ",0.1404,kgCO2/kWh,510000,2022,official,2024-12-01,"
CORRECTED = ",0.1500,kgCO2/kWh,510000,2022,official,2024-12-01,"
NATIONAL_2024 = ("electricity.grid,电网平均排放因子 (grid average),0.5200,kgCO2/kWh,national,2024,unverified,"
                 "2026-06-01,2024年电力二氧化碳排放因子（待公告）,生态环境部、国家统计局,a test's value\n")


@pytest.fixture
def people(app, password_hash) -> People:
    return People(app, password_hash)


def signed_in(people: People, role: str) -> Browser:
    people.make(f"{role}-1", role)
    browser = Browser(people.app)
    browser.sign_in(f"{role}-1")
    return browser


def upload(browser: Browser, files: dict[str, str | bytes], *, note: str = "", base: int | None = None):
    """Fill in the load form on /admin/factors as a person would: the page's CSRF token and base set, the files."""
    opened = browser.open("/admin/factors")
    form = opened.form("load-set")
    fields = {**form.hidden(), "note": note}
    if base is not None:
        fields["base"] = str(base)
    for name, text in files.items():
        data = text.encode() if isinstance(text, str) else text
        fields[name] = (io.BytesIO(data), name)
    return browser.client.post(form.action, data=fields, content_type="multipart/form-data")


def stored_sets(app) -> list[tuple[int, str]]:
    with app.app_context():
        return read(lambda s: s.execute(select(FactorSetRecord.number, FactorSetRecord.sha256)
                                        .order_by(FactorSetRecord.number)).all())


def load_events(app) -> int:
    with app.app_context():
        return read(lambda s: s.execute(select(func.count()).select_from(AuditEvent)
                                        .where(AuditEvent.action == "footprint.factor_set_load")).scalar_one())


def listed_sets(page: Page) -> list[str]:
    return [line.split('"')[0] for line in page.html.split('<tr class="factor-set" data-number="')[1:]]


def changes(page: Page, table: str) -> list[tuple[str, str]]:
    """(change, identity) of each row of a table's diff."""
    marker = f'<table id="diff-{table}"'
    if marker not in page.html:
        return []
    body = page.html.split(marker, 1)[1].split("</table>", 1)[0]
    return [(row.split('"')[0], row.split('data-identity="')[1].split('"')[0])
            for row in body.split('data-change="')[1:]]


def factor_ids(page: Page) -> list[str]:
    return re.findall(r'<tr class="factor" data-factor="([^"]+)"', page.html)


def next_link(page: Page) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next" id="next-page">', page.html)
    return html.unescape(found.group(1)) if found else None


def edited_factors() -> str:
    shipped = library.packaged_files()["factors.csv"]
    assert shipped.count(SICHUAN_2022) == 1
    return shipped.replace(SICHUAN_2022, CORRECTED) + NATIONAL_2024


def test_the_shipped_files_are_set_1_and_current(app, people):
    browser = signed_in(people, "reviewer")

    sets = browser.open("/admin/factors")
    assert sets.status == 200
    assert listed_sets(sets) == ["1"] and sets.text("current-set") == "当前"
    assert "随程序发布的数据文件" in sets.text("factor-sets")
    assert stored_sets(app) == [(1, library.files_sha256(library.packaged_files()))]
    assert sets.form("load-set").field("base")["value"] == "1"

    one = browser.open("/admin/factors/1")
    assert one.status == 200 and one.text("current-set") == "当前"
    assert one.text("sha256") == library.files_sha256(library.packaged_files())
    sichuan = one.html.split('data-factor="electricity.grid/510000/2022"')[1].split("</tr>")[0]
    assert "0.1404" in sichuan and "kgCO2/kWh" in sichuan and "官方" in sichuan
    assert "2022年电力二氧化碳排放因子（公告2024年第33号）" in sichuan and "生态环境部、国家统计局" in sichuan
    parsed = library.parse(library.packaged_files())
    counts = {label: sum(f.status == status for f in parsed.factors) for status, label in library.STATUS_ZH.items()}
    assert one.text("status-counts") == "，".join(f"{label} {n}" for label, n in counts.items())

    assert browser.open("/admin/factors/1/diff").text("no-previous").startswith("第 1 号是第一个因子集")


def test_filtering_sorting_paging_and_the_csv_of_a_set(app, people):
    browser = signed_in(people, "finance")
    browser.open("/admin/factors")  # start-up's set 1
    parsed = library.parse(library.packaged_files())

    official = browser.open("/admin/factors/1?status=official&size=500")
    shown = len(factor_ids(official))
    assert shown == sum(f.status == "official" for f in parsed.factors) > 0
    assert official.text("matched").startswith(f"{shown} 个因子符合条件")

    hotel = browser.open("/admin/factors/1?q=HOTEL.room")  # any case, any part of the key
    assert len(factor_ids(hotel)) == sum("hotel.room" in f.key for f in parsed.factors) > 0

    by_year = factor_ids(browser.open("/admin/factors/1?sort=year&dir=desc&size=500"))
    years = [int(identity.rsplit("/", 1)[1]) for identity in by_year]
    assert years == sorted(years, reverse=True) and len(years) == len(parsed.factors)

    page, seen = browser.open("/admin/factors/1?size=50"), []  # file order, fifty a page, on from the last shown
    while True:
        seen += factor_ids(page)
        if (following := next_link(page)) is None:
            break
        page = browser.open(following)
    assert seen == [f"{f.key}/{f.geography}/{f.year}" for f in parsed.factors]

    exported = browser.get("/admin/factors/1?format=csv&status=unverified")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == sum(f.status == "unverified" for f in parsed.factors)  # every page, as filtered
    assert {r["status"] for r in rows} == {"unverified"} and all(r["source"] for r in rows)

    for bad, field in (("status=rumoured", "status"), ("sort=colour", "sort"), ("after=999999", "after"),
                       ("format=xlsx", "format"), ("colour=red", "colour")):
        refused = browser.open(f"/admin/factors/1?{bad}")
        assert refused.status == 400 and refused.text("problem").startswith(field), (bad, refused.text("problem"))
    assert browser.open("/admin/factors/7").status == 404

    shipped = browser.get("/admin/factors/1/files/factors.csv")
    assert shipped.status_code == 200 and shipped.get_data(as_text=True) == library.packaged_files()["factors.csv"]
    assert browser.get("/admin/factors/1/files/secrets.txt").status_code == 404


def test_a_reviewer_loads_a_changed_factor_and_a_new_one_and_calculations_follow(app, client, runner, people):
    before = client.post("/api/v1/footprint/household", json=HOUSEHOLD).get_json()
    assert (before["factor_set"]["number"], before["total_g"]) == (1, 14_040)
    reviewer = signed_in(people, "reviewer")

    # The starting point is set 1's own file, as the console gives it.
    factors_csv = reviewer.get("/admin/factors/1/files/factors.csv").get_data(as_text=True)
    assert factors_csv == library.packaged_files()["factors.csv"]
    loaded = upload(reviewer, {"factors.csv": edited_factors()}, note="四川 2022 更正；2024 全国值")

    assert loaded.status_code == 302 and loaded.location == "/admin/factors/2/diff?against=1"
    assert stored_sets(app)[1][0] == 2 and len(stored_sets(app)) == 2
    with app.app_context():
        files = read(lambda s: s.get(FactorSetRecord, 2)).files
    assert files == {**library.packaged_files(), "factors.csv": edited_factors()}  # the others are set 1's

    diff = reviewer.open(loaded.location)
    assert diff.status == 200
    assert changes(diff, "factors") == [("changed", "electricity.grid/510000/2022"),
                                        ("added", "electricity.grid/national/2024")]
    changed = diff.html.split('data-identity="electricity.grid/510000/2022"')[1].split("</tr>")[0]
    assert '<li data-field="value">' in changed and "<del>0.1404</del>" in changed and "<ins>0.15</ins>" in changed
    assert changed.count("<li data-field=") == 1  # unit, source and status are as they were
    assert "0.52" in diff.html.split('data-identity="electricity.grid/national/2024"')[1].split("</tr>")[0]
    for table in ("species", "grid_regions", "places", "airports"):
        assert changes(diff, table) == [] and diff.text(f"counts-{table}") == "无变化"
    assert 'data-file="factors.csv" data-state="changed"' in diff.html
    assert 'data-file="places.csv" data-state="same"' in diff.html
    assert "staff:" in diff.text("loaded-by") and "reviewer-1" in diff.text("loaded-by")

    exported = reviewer.get("/admin/factors/2/diff?format=csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["table", "change", "identity", "field", "old", "new"]
    assert rows[1] == ["factors", "changed", "electricity.grid / 510000 / 2022", "value", "0.1404", "0.15"]
    assert rows[2][:4] == ["factors", "added", "electricity.grid / national / 2024", ""] and len(rows) == 3

    sets = reviewer.open("/admin/factors")
    assert listed_sets(sets) == ["2", "1"]  # newest first
    assert 'data-number="2"' in sets.html.split('id="current-set"')[0].rsplit("<tr", 1)[1]
    assert sets.form("load-set").field("base")["value"] == "2"
    assert reviewer.open("/admin/factors/1").text("not-current") == "非当前（当前为第 2 号）"

    event = last_events(app)[0]
    assert (event["action"], event["object"]) == ("footprint.factor_set_load", "factor_set:2")
    assert event["actor"].endswith(":reviewer-1") and event["after"]["files"] == ["factors.csv"]
    assert event["after"]["base"] == 1 and event["after"]["note"] == "四川 2022 更正；2024 全国值"

    # A new calculation uses set 2; the one made before still reproduces with set 1, to the byte.
    after = client.post("/api/v1/footprint/household", json=HOUSEHOLD).get_json()
    assert (after["factor_set"]["number"], after["total_g"]) == (2, 15_000)
    national_2024 = client.post("/api/v1/footprint/household", json={"year": 2024, "electricity_kwh": 1}).get_json()
    assert national_2024["total_g"] == 520
    outcome = runner.invoke(args=["footprint", "reproduce", before["id"]])
    assert outcome.exit_code == 0 and "reproduced, total 14040 g with factor set 1" in outcome.output
    assert client.post("/api/v1/footprint/household", json={**HOUSEHOLD, "factor_set": 1}).get_json() == before
    outcome = runner.invoke(args=["footprint", "reproduce", after["id"]])
    assert outcome.exit_code == 0 and "reproduced, total 15000 g with factor set 2" in outcome.output

    # A restart (a new process) with the same shipped files keeps set 2 current: the newest set is current.
    from backend.footprint import service, store
    with app.app_context():
        service.forget_current_set()
        store._parsed.clear()
        assert service.current_set().number == 2
    assert stored_sets(app)[-1][0] == 2


def test_loading_the_same_files_again_stores_nothing(app, people):
    reviewer = signed_in(people, "reviewer")
    shipped = library.packaged_files()

    same = upload(reviewer, {"factors.csv": shipped["factors.csv"]})
    assert same.status_code == 302 and same.location == "/admin/factors/1"
    assert stored_sets(app) == [(1, library.files_sha256(shipped))] and load_events(app) == 0
    assert "内容完全相同，未新建因子集" in reviewer.open("/admin/factors/1").html

    # Saved by a spreadsheet: a byte-order mark and Windows line ends are not a new set either.
    windows = ("\ufeff" + shipped["species.csv"].replace("\n", "\r\n")).encode()
    assert upload(reviewer, {"species.csv": windows}).location == "/admin/factors/1"
    assert len(stored_sets(app)) == 1

    assert upload(reviewer, {"factors.csv": edited_factors()}).location == "/admin/factors/2/diff?against=1"
    again = upload(reviewer, {"factors.csv": edited_factors()})
    assert again.location == "/admin/factors/2" and len(stored_sets(app)) == 2 and load_events(app) == 1

    # Set 1's text again, now that set 2 is current: still set 1, stored once; the page says how to bring it back.
    back = upload(reviewer, {"factors.csv": shipped["factors.csv"]})
    assert back.location == "/admin/factors/1" and len(stored_sets(app)) == 2
    assert "请在文件中加一行 # 注释写明原因后再载入" in reviewer.open("/admin/factors/1").html


SICHUAN_LINE = 1 + library.packaged_files()["factors.csv"].splitlines().index(
    next(line for line in library.packaged_files()["factors.csv"].splitlines() if SICHUAN_2022 in line))


@pytest.mark.parametrize("name, edit, words", [
    ("factors.csv", lambda t: t.replace(SICHUAN_2022, SICHUAN_2022.replace("0.1404", "lots")),
     f"第 {SICHUAN_LINE} 行：value 'lots' is not a number"),
    ("factors.csv", lambda t: t.replace(",official,2024-12-01,", ",rumoured,2024-12-01,", 1), "status 'rumoured'"),
    ("factors.csv", lambda t: t + t.splitlines()[8] + "\n",
     f"第 {len(library.packaged_files()['factors.csv'].splitlines()) + 1} 行：('electricity.grid', 'national', 2021) "
     "appears twice"),
    ("factors.csv", lambda t: t.replace("key,name,value,", "key,name,amount,"), "the header lacks the column 'value'"),
    ("airports.csv", lambda t: t + "pek,北京,Beijing,北京,Beijing,CN,40.08,116.58\n", "bad or repeated IATA code 'pek'"),
    ("places.csv", lambda t: t + "510199,95.0,104.0\n", "lat 95.0 is outside ±90"),
    ("species.csv", lambda t: "\n".join(line.rsplit(",", 1)[0] if line.startswith("杉木") else line
                                        for line in t.splitlines()), "7 columns, the header has 8"),
    ("species.csv", lambda t: t.encode("gb18030"), "不是 UTF-8 编码的文本"),
    ("notes.csv", lambda t: "a,b\n", "不是因子库的数据文件"),
])
def test_an_invalid_file_is_a_400_naming_it_and_stores_nothing(app, people, name, edit, words):
    reviewer = signed_in(people, "reviewer")
    shipped = library.packaged_files()
    refused = upload(reviewer, {name: edit(shipped.get(name, ""))})

    assert refused.status_code == 400
    page = Page(refused)
    assert page.text("error").startswith(f"{name}: ") and words in page.text("error"), page.text("error")
    if name in library.DATA_FILES:
        assert words in html.unescape(page.html.split(f'id="file-{name}"')[1].split("</label>")[0])  # beside it
    assert stored_sets(app) == [(1, library.files_sha256(shipped))] and load_events(app) == 0


def test_no_file_or_a_stale_form_is_refused(app, people):
    reviewer = signed_in(people, "reviewer")
    nothing = upload(reviewer, {})
    assert nothing.status_code == 400 and Page(nothing).text("error").startswith("files: ")

    assert upload(reviewer, {"factors.csv": edited_factors()}).status_code == 302
    # A second reviewer's form was opened on set 1, before set 2 was loaded: refused, not merged unseen.
    stale = upload(reviewer, {"species.csv": library.packaged_files()["species.csv"] + "\n# reviewed\n"}, base=1)
    assert stale.status_code == 409 and "第 1 号之后已载入第 2 号因子集" in Page(stale).text("error")
    assert len(stored_sets(app)) == 2


@pytest.mark.parametrize("role", ["finance", "auditor"])
def test_finance_and_the_auditor_read_every_page_and_cannot_load(app, people, role):
    reviewer = signed_in(people, "reviewer")
    assert upload(reviewer, {"factors.csv": edited_factors()}).status_code == 302
    browser = signed_in(people, role)

    for path in ("/admin/factors", "/admin/factors/1", "/admin/factors/2", "/admin/factors/2/diff",
                 "/admin/factors/1/diff", "/admin/factors/2/diff?against=1", "/admin/factors?format=csv",
                 "/admin/factors/2?format=csv", "/admin/factors/2/diff?format=csv",
                 "/admin/factors/2/files/factors.csv"):
        assert browser.get(path).status_code == 200, path
    sets = browser.open("/admin/factors")
    assert not [f for f in sets.forms if f.id == "load-set"] and 'id="load"' not in sets.html
    assert "排放因子" in sets.text("sections")

    refused = browser.submit("/admin/factors", "/admin/factors",
                             {"base": "2", "factors.csv": (io.BytesIO(b"key\n"), "factors.csv")})
    assert refused.status_code == 403
    assert len(stored_sets(app)) == 2 and load_events(app) == 1


def test_the_admin_may_load_too(app, people):
    admin = signed_in(people, "admin")
    assert admin.open("/admin/factors").form("load-set")
    assert upload(admin, {"factors.csv": edited_factors()}).location == "/admin/factors/2/diff?against=1"
    with app.app_context():
        atomic(audit.seal)
        actors = read(lambda s: s.execute(select(AuditEvent.actor)
                                          .where(AuditEvent.action == "footprint.factor_set_load")).scalars().all())
    assert [a.rsplit(":", 1)[1] for a in actors] == ["admin-1"]

"""The ``flask --app backend …`` commands operators and scripts rely on.

``flask demo`` loads three demo projects, each with one batch in the platform's inventory, and three retirements
with their certificates; a second run changes nothing. ``flask ledger check`` exits 0 when every invariant holds
and 1 when a row has been tampered with, naming the batch, the account and the serials concerned.
``flask ledger sweep`` voids reservations whose time is up. Tampering tests are marked ``tampers``: the ``app``
fixture does not check invariants after them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session, SQLModel

import backend.models  # noqa: F401
from backend import sequencer
from backend.migrate import head_revision
from tests import tampering

FOREST = "SC-FOR-510129-0001-2023-01"
GRASS = "SC-GRA-513233-0002-2024-01"
BAMBOO = "SC-BAM-511524-0003-2023-01"
TONNE = 1_000_000
FOREST_QUANTITY = 12_500 * TONNE
REPO = Path(__file__).resolve().parent.parent


def invoke(app, runner, *args):
    """Run a command as ``flask --app backend`` would: inside the app's context (see the demo test below)."""
    with app.app_context():
        return runner.invoke(args=list(args))


def counts(app) -> dict[str, int]:
    with Session(app.extensions["db_engine"]) as session:
        return {table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
                for table in SQLModel.metadata.sorted_tables}


def scalar(app, sql: str, **params):
    with app.extensions["db_engine"].connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def tamper(app, sql: str, **params) -> None:
    tampering.tamper(app.extensions["db_engine"], sql, **params)


def account_id(app, code: str, holder: str, kind: str = "available") -> int:
    return scalar(app, "SELECT a.id FROM ledger_account a JOIN batch b ON b.id = a.batch_id "
                       "WHERE b.code = :code AND a.holder = :holder AND a.kind = :kind",
                  code=code, holder=holder, kind=kind)


def batch_id(app, code: str) -> int:
    return scalar(app, "SELECT id FROM batch WHERE code = :code", code=code)


@pytest.fixture
def demo(app, runner):
    result = invoke(app, runner, "demo")
    assert result.exit_code == 0, result.output
    return result


# --- demo data -----------------------------------------------------------------------------------------------------

def test_flask_demo_runs_from_the_test_runner(app, runner):
    """``app.test_cli_runner()`` runs ``app.cli`` without the app context that ``flask`` itself pushes, so a command
    must ask for the context itself (``@with_appcontext``, as ``AppGroup.command`` adds). ``demo`` and ``serve``
    are added with ``add_command`` and do not: under the runner they fail with "Working outside of application
    context", as would any caller that embeds the CLI the same way."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"


def test_demo_loads_three_batches_and_a_second_run_changes_nothing(app, runner, demo):
    assert demo.output.strip().startswith(
        f"demo data ready: {FOREST} (12,500 t), {GRASS} (8,000 t), {BAMBOO} (3,000 t), certificate TH2026-00000001, "
        "certificate TH2026-00000002, certificate TH2026-00000003, case (2024)川0129刑初123号 (ordered; claim codes "
        "张三 ")
    first = counts(app)
    # Three project owners, and a court, an event organiser, a company and a scenic area whose people sign in.
    assert first["methodology"] == 3 and first["organisation"] == 7 and first["project"] == 3
    assert first["batch"] == 3 and first["transfer"] == 6
    assert first["retirement"] == 3 and first["certificate"] == 3
    assert first["staff_account"] == 11 and first["staff_membership"] == 11

    again = invoke(app, runner, "demo")
    assert again.exit_code == 0, again.output
    assert again.output == demo.output
    assert counts(app) == first

    check = invoke(app, runner, "ledger", "check")
    assert check.exit_code == 0, check.output
    assert check.output.strip() == "ledger check passed: every invariant holds"
    chain = invoke(app, runner, "audit", "verify")
    assert chain.exit_code == 0, chain.output
    assert chain.output.strip() == f"audit chain intact: {first['audit_event']} event(s)"


def test_demo_projects_are_public_with_what_is_left_available(client, demo):
    """The grassland batch has served three demo retirements (0.35 t, 12 t and 3 t); the others are whole."""
    items = client.get("/api/v1/projects").get_json()["items"]
    assert [(p["batches"][0]["code"], p["batches"][0]["available_g"], p["batches"][0]["retired_g"])
            for p in items] == [(FOREST, FOREST_QUANTITY, 0), (GRASS, 8_000 * TONNE - 15_350_000, 15_350_000),
                                (BAMBOO, 3_000 * TONNE, 0)]


def test_the_demo_gate_gives_its_perk_for_any_offset_of_5_kg_there(client, demo):
    [site] = [s for s in client.get("/api/mp/v1/sites").get_json()["items"] if s["name"] == "西岭雪山景区南门（演示）"]
    perks = client.get(f"/api/mp/v1/sites/{site['id']}").get_json()["perks"]
    assert [(p["kind"], p["min_g"], p["open"]) for p in perks] == [("site_offset", 5_000, True)]


def test_db_current_names_the_revision(app, runner):
    result = invoke(app, runner, "db", "current")
    assert result.exit_code == 0
    assert result.output.strip() == f"database: {head_revision()}  head: {head_revision()}"


# --- ledger check on tampered rows ---------------------------------------------------------------------------------

def check_fails(app, runner) -> list[str]:
    result = invoke(app, runner, "ledger", "check")
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"ledger check FAILED: {len(lines) - 1} violation(s)"
    return lines[:-1]


@pytest.mark.tampers
def test_an_extra_gram_in_the_platform_account_is_named(app, runner, demo):
    platform = account_id(app, FOREST, "platform")
    forest = batch_id(app, FOREST)
    tamper(app, "UPDATE ledger_account SET credits_g = credits_g + 1 WHERE id = :id", id=platform)
    assert check_fails(app, runner) == [
        f"[supply] batch {FOREST}: available + reserved + retired + cancelled = {FOREST_QUANTITY + 1} g, "
        f"issued = {FOREST_QUANTITY} g",
        f"[totals] account {platform} (platform/available) of batch {forest}: stored debits/credits "
        f"0/{FOREST_QUANTITY + 1} g, transfers sum to 0/{FOREST_QUANTITY} g",
        f"[serial_balance] account {platform} (platform/available) of batch {forest}: holds {FOREST_QUANTITY} "
        f"serials, balance is {FOREST_QUANTITY + 1} g",
    ]


@pytest.mark.tampers
def test_overlapping_serial_ranges_are_named_with_the_serial_and_both_holders(app, runner, operator, demo):
    """1,000 g go to cooperative 2 (serials 1–1000); then the platform's range is stretched back to serial 501."""
    forest = batch_id(app, FOREST)
    operator.ok(operator.post("/ledger/transfers", {"batch_id": forest, "from_holder": "platform",
                                                    "to_holder": "org:2", "amount_g": 1000}, key="to-coop"), 201)
    assert invoke(app, runner, "ledger", "check").exit_code == 0
    platform, coop = account_id(app, FOREST, "platform"), account_id(app, FOREST, "org:2")
    tamper(app, "UPDATE serial_range SET first = 501 WHERE account_id = :id", id=platform)
    assert check_fails(app, runner) == [
        f"[serial_overlap] batch {FOREST}: serial 501 is held twice, by account {coop} (org:2/available) and "
        f"account {platform} (platform/available)",
        f"[serial_balance] account {platform} (platform/available) of batch {forest}: holds "
        f"{FOREST_QUANTITY - 500} serials, balance is {FOREST_QUANTITY - 1000} g",
        f"[history_holdings] batch {FOREST}: stored holdings differ from the replayed history; first difference: "
        f"the history has serials 1–1000 held by account {coop} (org:2/available), the stored rows have 1–500 "
        f"held by account {coop} (org:2/available)",
    ]


@pytest.mark.tampers
def test_a_deleted_serial_range_is_named_as_a_gap(app, runner, operator, demo):
    forest = batch_id(app, FOREST)
    operator.ok(operator.post("/ledger/transfers", {"batch_id": forest, "from_holder": "platform",
                                                    "to_holder": "org:2", "amount_g": 1000}, key="to-coop"), 201)
    coop = account_id(app, FOREST, "org:2")
    tamper(app, "DELETE FROM serial_range WHERE account_id = :id", id=coop)
    assert check_fails(app, runner) == [
        f"[serial_gap] batch {FOREST}: serials 1–1000 are held by no account",
        f"[serial_balance] account {coop} (org:2/available) of batch {forest}: holds 0 serials, balance is 1000 g",
        f"[history_holdings] batch {FOREST}: stored holdings differ from the replayed history; first difference: "
        f"the history has serials 1–1000 held by account {coop} (org:2/available), the stored rows have "
        f"1001–{FOREST_QUANTITY} held by account {account_id(app, FOREST, 'platform')} (platform/available)",
    ]


@pytest.mark.tampers
def test_a_batch_quantity_raised_behind_the_ledgers_back_is_named(app, runner, demo):
    tamper(app, "UPDATE batch SET quantity_g = quantity_g + 5 WHERE code = :code", code=BAMBOO)
    quantity = 3_000 * TONNE
    assert check_fails(app, runner) == [
        f"[issued] batch {BAMBOO}: issuance account shows {quantity} g issued, the batch says {quantity + 5} g",
        f"[serial_gap] batch {BAMBOO}: serials {quantity + 1}–{quantity + 5} are held by no account",
    ]


@pytest.mark.tampers
def test_a_deleted_retirement_record_is_named(app, runner, operator, demo):
    forest = batch_id(app, FOREST)
    retirement = operator.ok(operator.post("/ledger/retirements", {
        "batch_id": forest, "holder": "platform", "amount_g": 5000, "purpose": "event",
        "purpose_ref": "2026 成都世运会", "beneficiary_name": "成都世运会组委会"}, key="event-offset"), 201)
    # The certificate and its log leaf go too (they reference the retirement); the log check then names the gap.
    sequencer.run_once(app)
    tamper(app, "DELETE FROM log_entry WHERE certificate_id = (SELECT id FROM certificate WHERE retirement_id = :id)",
           id=retirement["id"])
    tamper(app, "DELETE FROM certificate WHERE retirement_id = :id", id=retirement["id"])
    tamper(app, "DELETE FROM beneficiary_name WHERE retirement_id = :id", id=retirement["id"])
    tamper(app, "DELETE FROM retirement WHERE id = :id", id=retirement["id"])
    lines = check_fails(app, runner)
    assert [line for line in lines if not line.startswith("[transparency_log]")] == [
        f"[retirement] RETIRE transfer {retirement['transfer_id']} has no retirement record"]


@pytest.mark.tampers
def test_every_violation_is_reported_not_just_the_first(app, runner, demo):
    tamper(app, "UPDATE ledger_account SET credits_g = credits_g + 1 WHERE id = :id",
           id=account_id(app, FOREST, "platform"))
    tamper(app, "UPDATE batch SET quantity_g = quantity_g + 5 WHERE code = :code", code=BAMBOO)
    lines = check_fails(app, runner)
    assert any(FOREST in line for line in lines) and any(BAMBOO in line for line in lines)
    assert not any(GRASS in line for line in lines)
    assert len(lines) == 5


# --- the sweeper ---------------------------------------------------------------------------------------------------

def test_the_sweeper_voids_reservations_whose_time_is_up(app, runner, operator, clock, demo):
    forest = batch_id(app, FOREST)
    body = {"batch_id": forest, "from_holder": "platform", "to_holder": "user:1", "amount_g": 1000}
    soon = operator.ok(operator.post("/ledger/reservations", {**body, "ttl_seconds": 60}, key="r-soon"), 201)
    later = operator.ok(operator.post("/ledger/reservations", {**body, "ttl_seconds": 3600}, key="r-later"), 201)

    result = invoke(app, runner, "ledger", "sweep")
    assert result.output.strip() == "voided 0 expired reservation(s)"
    clock.advance(seconds=60)
    result = invoke(app, runner, "ledger", "sweep")
    assert result.exit_code == 0 and result.output.strip() == "voided 1 expired reservation(s)"
    assert operator.ok(operator.get(f"/ledger/transfers/{soon['id']}"))["status"] == "expired"
    assert operator.ok(operator.get(f"/ledger/transfers/{later['id']}"))["status"] == "pending"
    assert invoke(app, runner, "ledger", "sweep").output.strip() == "voided 0 expired reservation(s)"
    voids = [t for t in operator.ok(operator.get("/ledger/transfers"))["items"] if t["code"] == "VOID"]
    assert [(v["pending_id"], v["actor"], v["client_id"]) for v in voids] == [
        (soon["id"], "system:sweeper", f"expire:{soon['id']}")]


# --- the real entry point --------------------------------------------------------------------------------------------

def test_the_flask_command_line_end_to_end(tmp_path):
    """What an operator types on a fresh machine: migrate, load the demo twice, check the ledger and the chain."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "OPERATOR_TOKEN", "APP_ENV", "EXTENSIONS"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"

    def flask(*args):
        return subprocess.run([sys.executable, "-m", "flask", "--app", "backend", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)

    upgraded = flask("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"schema at {head_revision()}" in upgraded.stdout
    first, second = flask("demo"), flask("demo")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout and FOREST in first.stdout
    checked = flask("ledger", "check")
    assert checked.returncode == 0 and "every invariant holds" in checked.stdout
    verified = flask("audit", "verify")
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout

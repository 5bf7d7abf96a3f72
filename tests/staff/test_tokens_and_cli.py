"""Personal API tokens and ``flask --app backend users``, told as the platform's people use them.

The first admin and every script account are made on the server with ``flask users``: 任审 (ren.shen) is a
reviewer whose nightly report runs with a token, 沈计 (shen.ji) an auditor who exports the audit trail. A token
acts as its account, with the account's roles as they are at each request, and the audit trail names both the
person and the token. A token lasts its days, stops when revoked or when its account is disabled, and notes when
it was last used; it opens no page, as a signed-in cookie opens no API.

The fake clock stands at 2026-03-12 09:00 UTC.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from backend.settings import SPEC
from backend.staff.totp import code_at
from tests.envelope import refused
from tests.staff.conftest import NEW_PASSWORD, PASSWORD, Page, enrol, last_events, signed_in_to

REPO = Path(__file__).resolve().parents[2]
STAFF_API = "/api/staff/v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(cli, username: str, *options: str) -> str:
    """``flask users token``: the token is the last word it prints."""
    return cli.ok("token", username, *options).split()[-1]


def me(client, token: str) -> dict:
    response = client.get(f"{STAFF_API}/me", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def tokens_seen_by(client, token: str) -> dict[str, dict]:
    """The account's tokens as GET /api/staff/v1/tokens lists them, by name."""
    response = client.get(f"{STAFF_API}/tokens", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return {t["name"]: t for t in response.get_json()["items"]}


def script_account(cli, username: str, role: str, *options: str) -> None:
    """An account that acts only through tokens (no password: nothing to hash)."""
    cli.ok("create", username, "--role", role, "--no-password", *options)


# --- making accounts and tokens on the server ----------------------------------------------------------------------

def test_contract_flask_users_create_reads_the_password_from_stdin(app, cli, browser):
    """The real command line, in its own process against the test's stores: the password and its confirmation
    on standard input, never in the arguments."""
    environment = {name: value for name, value in os.environ.items() if name not in SPEC}
    environment.update(APP_ENV="test", DATABASE_URL=app.config["DATABASE_URL"],
                       REDIS_URL=app.config["REDIS_URL"] or "", REDIS_KEY_PREFIX=app.config["REDIS_KEY_PREFIX"],
                       SECRET_KEY=app.config["SECRET_KEY"], CERT_SIGNING_KEY_FILE=app.config["CERT_SIGNING_KEY_FILE"])
    made = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "backend", "users", "create", "wang.fang",
         "--role", "reviewer", "--display-name", "王芳"],
        input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True, cwd=REPO, env=environment, timeout=120)
    assert made.returncode == 0, made.stderr
    assert re.fullmatch(r"created wang\.fang \(account \d+\): reviewer of the platform\n", made.stdout), made.stdout
    assert cli.roles()["wang.fang"] == "王芳 reviewer"
    assert browser().sign_in("wang.fang").location == "/admin/"

    # A confirmation that differs: exit 1, and no account.
    output = cli.fails("create", "qian.hui", "--role", "finance", input=f"{PASSWORD}\n{PASSWORD}.\n")
    assert "the two passwords differ" in output
    # One line and no confirmation is taken as it is.
    cli.ok("create", "shen.ji", "--role", "auditor", input=f"{NEW_PASSWORD}\n")
    assert set(cli.roles()) == {"wang.fang", "shen.ji"}
    assert browser("198.51.100.2").sign_in("shen.ji", NEW_PASSWORD).location == "/admin/"


def test_contract_a_token_from_flask_users_token_acts_as_its_account(app, client, cli, operator):
    script_account(cli, "ren.shen", "reviewer", "--display-name", "任审")
    output = cli.ok("token", "ren.shen", "--name", "nightly-report")
    reviewer = output.split()[-1]
    assert reviewer.startswith("thp_") and "'nightly-report' for ren.shen" in output

    who = me(client, reviewer)
    assert (who["username"], who["display_name"], who["can_sign_in"]) == ("ren.shen", "任审", False)
    assert who["memberships"] == [{"scope": "platform", "role": "reviewer"}]
    assert who["token"]["name"] == "nightly-report" and isinstance(who["token"]["id"], int)

    # An auditor's token reads the operators' API and changes nothing.
    script_account(cli, "shen.ji", "auditor")
    auditor = token_for(cli, "shen.ji")
    assert client.get("/api/admin/v1/orders", headers=bearer(auditor)).status_code == 200
    revocation = {"reason": "证书信息有误"}
    refused(client.post("/api/admin/v1/certificates/TH-2026-000001/revocation", json=revocation,
                        headers=bearer(auditor)), 403, "forbidden")
    refused(operator.post("/certificates/TH-2026-000001/revocation", revocation), 404)  # the admin may: none such

    # The reviewer's token suspends a project and reinstates it; the trail names 任审 and her token.
    project = operator.registered_project()["project"]
    suspended = client.post(f"/api/admin/v1/projects/{project['id']}/suspend", json={"reason": "监测报告存疑"},
                            headers=bearer(reviewer))
    assert suspended.status_code == 200 and suspended.get_json()["state"] == "suspended"
    reinstated = client.post(f"/api/admin/v1/projects/{project['id']}/reinstate", json={"reason": "复核无误"},
                             headers=bearer(reviewer))
    assert reinstated.status_code == 200 and reinstated.get_json()["state"] == "registered"
    [event] = last_events(app)
    assert event["action"] == "project.reinstate"
    assert event["actor"] == f"staff:{who['id']}:ren.shen token:{who['token']['id']}:nightly-report"

    # The shared token of old opens nothing, and neither does no token.
    for headers in ({"Authorization": "Bearer dev-operator-token"}, {}):
        refused(client.get("/api/admin/v1/orders", headers=headers), 401, "unauthorized")
        refused(client.get(f"{STAFF_API}/me", headers=headers), 401, "unauthorized")


def test_contract_the_audit_trail_names_who_did_what_newest_first_and_pages_on(app, client, cli, operator, clock,
                                                                               organisation):
    script_account(cli, "ren.shen", "reviewer")
    reviewer = token_for(cli, "ren.shen", "--name", "nightly-report")
    script_account(cli, "shen.ji", "auditor")
    auditor = token_for(cli, "shen.ji", "--name", "audit-export")
    project = operator.registered_project()["project"]
    clock.advance(hours=1)
    assert client.post(f"/api/admin/v1/projects/{project['id']}/suspend", json={"reason": "监测报告存疑"},
                       headers=bearer(reviewer)).status_code == 200

    response = client.get("/api/admin/v1/audit?limit=5", headers=bearer(auditor))
    assert response.status_code == 200
    newest = response.get_json()["items"]
    assert len(newest) == 5
    assert all({"seq", "actor", "action", "object", "at"} <= set(event) for event in newest)
    seqs = [event["seq"] for event in newest]
    assert seqs == list(range(seqs[0], seqs[0] - 5, -1))  # newest first, none skipped
    who = me(client, reviewer)
    assert newest[0]["actor"] == f"staff:{who['id']}:ren.shen token:{who['token']['id']}:nightly-report"
    assert (newest[0]["action"], newest[0]["object"]) == ("project.suspend", f"project:{project['id']}")
    assert newest[0]["at"].startswith("2026-03-12T10:00:00") and newest[1]["at"].startswith("2026-03-12T09:00:00")

    older = client.get("/api/admin/v1/audit", query_string={"limit": 5, "before": seqs[-1]},
                       headers=bearer(auditor)).get_json()["items"]
    assert [event["seq"] for event in older] == list(range(seqs[-1] - 1, seqs[-1] - 6, -1))
    first = client.get("/api/admin/v1/audit", query_string={"before": 2}, headers=bearer(auditor)).get_json()
    assert [event["seq"] for event in first["items"]] == [1]

    # Reading the trail is for auditors (and admins): not for finance, a reviewer, an organisation's people.
    script_account(cli, "qian.hui", "finance")
    script_account(cli, "chen.jing", "org_admin", "--org", str(organisation["id"]))
    for username in ("qian.hui", "chen.jing"):
        refused(client.get("/api/admin/v1/audit", headers=bearer(token_for(cli, username))), 403, "forbidden")
    refused(client.get("/api/admin/v1/audit", headers=bearer(reviewer)), 403, "forbidden")
    refused(client.get("/api/admin/v1/audit"), 401, "unauthorized")
    assert operator.get("/audit?limit=1").status_code == 200


# --- a token's life ------------------------------------------------------------------------------------------------

def test_a_token_lasts_its_days_and_then_stops(app, client, cli, clock):
    app.config["STAFF_TOKEN_DAYS"] = 30
    script_account(cli, "ren.shen", "reviewer")
    usual = token_for(cli, "ren.shen")  # STAFF_TOKEN_DAYS
    brief = token_for(cli, "ren.shen", "--days", "2", "--name", "two-days")
    listed = tokens_seen_by(client, usual)
    assert listed["cli"]["expires_at"].startswith("2026-04-11T09:00:00")
    assert listed["two-days"]["expires_at"].startswith("2026-03-14T09:00:00")

    clock.advance(days=2, seconds=-1)
    assert me(client, brief)["token"]["name"] == "two-days"
    clock.advance(seconds=1)
    refused(client.get(f"{STAFF_API}/me", headers=bearer(brief)), 401, "unauthorized")
    assert tokens_seen_by(client, usual)["two-days"]["state"] == "expired"

    clock.advance(days=28)
    refused(client.get(f"{STAFF_API}/me", headers=bearer(usual)), 401, "unauthorized")


def test_a_revoked_token_stops_at_once_and_only_its_owner_can_revoke_it(app, client, cli):
    script_account(cli, "ren.shen", "reviewer")
    laptop = token_for(cli, "ren.shen", "--name", "laptop")
    script = token_for(cli, "ren.shen", "--name", "script")
    script_account(cli, "shen.ji", "auditor")
    someone_else = token_for(cli, "shen.ji")
    ids = {name: token["id"] for name, token in tokens_seen_by(client, laptop).items()}

    revoked = client.delete(f"{STAFF_API}/tokens/{ids['script']}", headers=bearer(laptop))
    assert revoked.status_code == 200 and revoked.get_json()["state"] == "revoked"
    refused(client.get(f"{STAFF_API}/me", headers=bearer(script)), 401, "unauthorized")
    assert me(client, laptop)["username"] == "ren.shen"
    assert last_events(app)[0]["action"] == "staff.token_revoke"

    # Another account's token is not found, and keeps working.
    refused(client.delete(f"{STAFF_API}/tokens/{ids['laptop']}", headers=bearer(someone_else)), 404)
    assert me(client, laptop)["username"] == "ren.shen"

    # A token may revoke itself: the last thing it does.
    assert client.delete(f"{STAFF_API}/tokens/{ids['laptop']}", headers=bearer(laptop)).status_code == 200
    refused(client.get(f"{STAFF_API}/me", headers=bearer(laptop)), 401, "unauthorized")


def test_a_disabled_accounts_tokens_stop_and_enabling_the_account_restores_them(client, cli):
    script_account(cli, "ren.shen", "reviewer")
    token = token_for(cli, "ren.shen")
    assert client.get("/api/admin/v1/projects", headers=bearer(token)).status_code == 200
    cli.ok("disable", "ren.shen")
    refused(client.get("/api/admin/v1/projects", headers=bearer(token)), 401, "unauthorized")
    refused(client.get(f"{STAFF_API}/me", headers=bearer(token)), 401, "unauthorized")
    cli.ok("enable", "ren.shen")
    assert client.get("/api/admin/v1/projects", headers=bearer(token)).status_code == 200


def test_a_tokens_last_use_is_noted_at_most_once_a_minute(client, cli, clock):
    script_account(cli, "ren.shen", "reviewer")
    laptop = token_for(cli, "ren.shen", "--name", "laptop")
    script = token_for(cli, "ren.shen", "--name", "script")
    listed = tokens_seen_by(client, laptop)
    assert listed["script"]["last_used_at"] is None
    assert listed["laptop"]["last_used_at"].startswith("2026-03-12T09:00:00")  # this very request

    def script_last_used() -> str:
        return tokens_seen_by(client, laptop)["script"]["last_used_at"]

    clock.advance(minutes=5)
    me(client, script)
    assert script_last_used().startswith("2026-03-12T09:05:00")
    clock.advance(seconds=30)
    me(client, script)
    assert script_last_used().startswith("2026-03-12T09:05:00")  # within the minute: not written again
    clock.advance(seconds=31)
    me(client, script)
    assert script_last_used().startswith("2026-03-12T09:06:01")


def test_a_token_opens_no_page_and_a_signed_in_cookie_opens_no_api(client, cli, people, browser):
    people.make("wang.fang", "admin")
    token = token_for(cli, "wang.fang")
    assert me(client, token)["username"] == "wang.fang"
    for area, page in (("admin", "/admin/"), ("admin", "/admin/account"), ("org", "/org/")):
        assert client.get(page, headers=bearer(token)).location == f"/{area}/login?next={page}"

    office = browser()
    assert office.sign_in("wang.fang").location == "/admin/"
    assert office.get("/admin/").status_code == 200
    refused(office.client.get(f"{STAFF_API}/me"), 401, "unauthorized")
    refused(office.client.get("/api/admin/v1/orders"), 401, "unauthorized")
    refused(office.client.post("/api/admin/v1/organisations", json={"name": "冒名机构", "kind": "court"}), 401)


def test_the_account_page_makes_a_token_and_shows_it_once(app, client, people, browser):
    people.make("wang.fang", "reviewer")
    office = browser()
    office.sign_in("wang.fang")
    form = office.open("/admin/account").form("new-token-form")
    assert form.action == "/admin/account/tokens" and form.field("name") and form.field("days")["type"] == "number"
    forged = office.client.post("/admin/account/tokens", data={"name": "对账脚本", "days": "30"})
    assert forged.status_code == 400  # no CSRF token: no token

    made = office.submit("/admin/account", "/admin/account/tokens", {"name": "对账脚本", "days": "30"})
    assert made.status_code == 201
    shown = Page(made).text("new-token")
    assert "对账脚本" in shown and "只显示这一次" in shown
    [secret] = [word for word in shown.split() if word.startswith("thp_")]
    who = me(client, secret)
    assert who["username"] == "wang.fang" and who["token"]["name"] == "对账脚本"

    later = office.open("/admin/account")
    assert later.text("new-token") is None and secret not in later.html
    assert f"{secret[:10]}…" in later.html  # only its first characters, to tell it apart

    revoked = office.submit("/admin/account", f"/admin/account/tokens/{who['token']['id']}/revoke")
    assert revoked.location == "/admin/account"
    refused(client.get(f"{STAFF_API}/me", headers=bearer(secret)), 401, "unauthorized")
    assert "已撤销" in office.open("/admin/account").html


# --- flask users: roles, passwords, second factor ------------------------------------------------------------------

def test_users_grant_revoke_and_list(cli, organisation):
    org = str(organisation["id"])
    script_account(cli, "ren.shen", "reviewer", "--display-name", "任审")
    assert cli.roles()["ren.shen"] == "任审 reviewer"

    assert cli.ok("grant", "ren.shen", "--role", "finance") == "ren.shen: finance\n"
    cli.ok("grant", "ren.shen", "--role", "clerk", "--org", org)
    assert cli.roles()["ren.shen"] == f"任审 finance reviewer clerk@org:{org}"
    cli.ok("grant", "ren.shen", "--role", "org_admin", "--org", org)  # one role per organisation: it replaces
    assert cli.roles()["ren.shen"] == f"任审 finance reviewer org_admin@org:{org}"

    assert cli.ok("revoke", "ren.shen", "--role", "finance") == "ren.shen: revoked\n"
    cli.ok("revoke", "ren.shen", "--org", org)
    assert cli.roles()["ren.shen"] == "任审 reviewer"
    assert "no such membership" in cli.fails("revoke", "ren.shen", "--role", "finance")
    assert cli("revoke", "ren.shen").exit_code == 2  # --role or --org: one of them
    assert cli("revoke", "ren.shen", "--role", "reviewer", "--org", org).exit_code == 2
    assert cli.roles()["ren.shen"] == "任审 reviewer"

    assert "no account named 'nobody'" in cli.fails("grant", "nobody", "--role", "finance")
    cli.ok("disable", "ren.shen")
    assert cli.roles()["ren.shen"] == "任审 reviewer (disabled)"


def test_a_role_and_its_scope_must_match_or_nothing_changes(cli, organisation):
    org = str(organisation["id"])
    before = cli.roles()
    for args, problem in [
        (("--role", "admin", "--org", org), "role: 机构角色应为 viewer, clerk, org_admin 之一 (an organisation role)"),
        (("--role", "clerk"), "role: 平台角色应为 admin, reviewer, finance, auditor 之一"),
        (("--role", "clerk", "--org", "999999"), "organisation_id: 机构不存在 (unknown organisation)"),
    ]:
        assert problem in cli.fails("create", "ren.shen", *args, "--no-password"), args
    assert cli("create", "ren.shen", "--role", "superuser", "--no-password").exit_code == 2
    assert cli.roles() == before  # no account was made

    script_account(cli, "ren.shen", "reviewer")
    before = cli.roles()
    assert "(an organisation role)" in cli.fails("grant", "ren.shen", "--role", "finance", "--org", org)
    assert "name the organisation" in cli.fails("grant", "ren.shen", "--role", "viewer")
    assert cli.roles() == before


def test_users_token_takes_its_days_from_one_to_366(client, cli):
    script_account(cli, "ren.shen", "reviewer")
    for days in ("0", "367", "-5"):
        assert "1–366" in cli.fails("token", "ren.shen", "--days", days), days
    assert "no account named 'nobody'" in cli.fails("token", "nobody")
    token = token_for(cli, "ren.shen", "--days", "366")
    assert list(tokens_seen_by(client, token)) == ["cli"]  # the refused ones were never made


def test_users_password_sets_a_new_one_and_ends_every_session(cli, people, browser):
    people.make("wang.fang", "reviewer")
    office = browser()
    office.sign_in("wang.fang")

    assert "at least 10 characters" in cli.fails("password", "wang.fang", input="short\nshort\n")
    assert "the two passwords differ" in cli.fails("password", "wang.fang", input=f"{NEW_PASSWORD}\n{PASSWORD}\n")
    assert signed_in_to(office)  # nothing changed

    assert cli.ok("password", "wang.fang", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n") == "wang.fang: password set\n"
    assert not signed_in_to(office)
    assert office.sign_in("wang.fang", PASSWORD).status_code == 401
    assert office.sign_in("wang.fang", NEW_PASSWORD).location == "/admin/"


def test_users_totp_reset_removes_the_second_factor_for_a_lost_phone(app, cli, people, browser, clock):
    people.make("zhao.lei", "auditor")
    secret = enrol(app, "zhao.lei")
    clock.advance(seconds=30)
    phone = browser()
    assert phone.sign_in("zhao.lei").location == "/admin/login/code"
    assert phone.enter_code(code_at(secret, clock())).location == "/admin/"

    assert cli.ok("totp-reset", "zhao.lei") == "zhao.lei: second factor removed\n"
    assert not signed_in_to(phone)  # that session was opened with the lost phone
    assert people.account("zhao.lei").totp_secret is None
    assert phone.sign_in("zhao.lei").location == "/admin/"  # the password alone, until she enrols again
    assert phone.open("/admin/account/totp").text("totp-secret")

"""An organisation's people, told through /api/org/v1 (personal tokens) and the /org/ pages (signed-in sessions):
who reads the members list, who changes it, the org_admin who must remain, what a member of another organisation
finds (nothing: 404), what platform staff may do, invitations that never lower a role, and one person working for
two courts.

The ledger invariants and the audit chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask import url_for

from backend.access.policy import POLICY
from backend.db import atomic
from backend.errors import Conflict
from backend.staff import invitations
from backend.staff import service as staff
from tests.conftest import staff_member
from tests.envelope import refused
from tests.orgs.conftest import (
    audit_events,
    credit_code,
    csrf_of,
    person,
    role_of,
    signed_in,
    submit,
    verified_organisation,
)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def org_api(org_id: int, path: str = "") -> str:
    return f"/api/org/v1/organisations/{org_id}{path}"


def roles(client, org_id: int, member) -> list[tuple[str, str]]:
    """(username, role) of every member, highest role first, as ``member`` reads them."""
    return [(m["username"], m["role"]) for m in ok(client.get(org_api(org_id, "/members"),
                                                              headers=member.headers))["items"]]


def registered(operator, name: str, number: int) -> int:
    """An organisation the operator registers (verified by doing so), with nobody in it yet."""
    return operator.ok(operator.post("/organisations", {"name": name, "kind": "court",
                                                        "credit_code": credit_code(number)}), 201)["id"]


def invitation_path(client, org_id: int, admin, role: str) -> str:
    made = ok(client.post(org_api(org_id, "/invitations"), json={"role": role}, headers=admin.headers), 201)
    return urlsplit(made["url"]).path


EVERYONE = [("dayi-admin", "org_admin"), ("dayi-clerk", "clerk"), ("dayi-viewer", "viewer")]


# --- reading and changing the list ---------------------------------------------------------------------------------

def test_every_member_reads_the_list_and_only_the_org_admin_changes_it(app, client, operator):
    court = verified_organisation(operator, app, "dayi")
    members = org_api(court.id, "/members")
    for member in (court.admin, court.clerk, court.viewer):
        assert roles(client, court.id, member) == EVERYONE

    # A clerk or a viewer changes nothing, and does not see the open invitation links.
    for member in (court.clerk, court.viewer):
        refused(client.patch(f"{members}/{court.viewer.account_id}", json={"role": "clerk"}, headers=member.headers),
                403, "forbidden")
        refused(client.delete(f"{members}/{court.viewer.account_id}", headers=member.headers), 403, "forbidden")
        refused(client.post(org_api(court.id, "/invitations"), json={"role": "clerk"}, headers=member.headers),
                403, "forbidden")
        refused(client.get(org_api(court.id, "/invitations"), headers=member.headers), 403, "forbidden")
    refused(client.patch(f"{members}/{court.clerk.account_id}", json={"role": "org_admin"},
                         headers=court.clerk.headers), 403, "forbidden")  # nor promotes themself
    assert roles(client, court.id, court.admin) == EVERYONE

    # The org_admin swaps the clerk and the viewer.
    demoted = ok(client.patch(f"{members}/{court.clerk.account_id}", json={"role": "viewer"},
                              headers=court.admin.headers))["items"]
    assert [(m["username"], m["role"]) for m in demoted] == [
        ("dayi-admin", "org_admin"), ("dayi-clerk", "viewer"), ("dayi-viewer", "viewer")]
    ok(client.patch(f"{members}/{court.viewer.account_id}", json={"role": "clerk"}, headers=court.admin.headers))
    assert roles(client, court.id, court.viewer) == [
        ("dayi-admin", "org_admin"), ("dayi-viewer", "clerk"), ("dayi-clerk", "viewer")]
    refused(client.patch(f"{members}/{court.clerk.account_id}", json={"role": "owner"},
                         headers=court.admin.headers), 400, field="role")
    refused(client.patch(f"{members}/{court.clerk.account_id}", json={"role": "admin"},  # a platform role
                         headers=court.admin.headers), 400, field="role")
    refused(client.patch(f"{members}/{operator.member.account_id}", json={"role": "viewer"},
                         headers=court.admin.headers), 404, "not_found")  # not a member: nobody is added this way
    refused(client.patch(f"{members}/99999", json={"role": "viewer"}, headers=court.admin.headers), 404)

    # … and removes the (former) clerk, whose token then finds nothing there.
    left = ok(client.delete(f"{members}/{court.clerk.account_id}", headers=court.admin.headers))["items"]
    assert [m["username"] for m in left] == ["dayi-admin", "dayi-viewer"]
    refused(client.get(org_api(court.id), headers=court.clerk.headers), 404, "not_found")
    refused(client.delete(f"{members}/{court.clerk.account_id}", headers=court.admin.headers), 404, "not_found")

    # The audit chain names the org_admin (and the token) for each change.
    grants = [e for e in audit_events(operator, "staff.grant") if e["actor"] == court.admin.actor]
    assert [(e["object"], e["before"], e["after"]["role"]) for e in grants] == [
        (f"staff_account:{court.clerk.account_id}", {"role": "clerk"}, "viewer"),
        (f"staff_account:{court.viewer.account_id}", {"role": "viewer"}, "clerk")]
    revokes = [e for e in audit_events(operator, "staff.revoke") if e["actor"] == court.admin.actor]
    assert [(e["object"], e["before"]["scope"], e["before"]["username"]) for e in revokes] == [
        (f"staff_account:{court.clerk.account_id}", f"org:{court.id}", "dayi-clerk")]


def test_the_last_org_admin_can_be_neither_demoted_nor_removed(app, client, operator):
    court = verified_organisation(operator, app, "dayi")
    members = org_api(court.id, "/members")
    me = f"{members}/{court.admin.account_id}"
    refused(client.patch(me, json={"role": "clerk"}, headers=court.admin.headers), 409, "last_org_admin")
    refused(client.delete(me, headers=court.admin.headers), 409, "last_org_admin")
    refused(operator.client.patch(me, json={"role": "viewer"}, headers=operator.headers), 409, "last_org_admin")
    refused(operator.client.delete(me, headers=operator.headers), 409, "last_org_admin")
    ok(client.patch(me, json={"role": "org_admin"}, headers=court.admin.headers))  # staying is fine
    assert roles(client, court.id, court.admin) == EVERYONE

    # With a second org_admin the first may step down; then the second is the one who must stay.
    ok(client.patch(f"{members}/{court.clerk.account_id}", json={"role": "org_admin"}, headers=court.admin.headers))
    ok(client.patch(me, json={"role": "viewer"}, headers=court.admin.headers))
    successor = f"{members}/{court.clerk.account_id}"
    refused(client.delete(successor, headers=court.clerk.headers), 409, "last_org_admin")
    refused(client.patch(successor, json={"role": "clerk"}, headers=court.clerk.headers), 409, "last_org_admin")
    assert roles(client, court.id, court.clerk) == [
        ("dayi-clerk", "org_admin"), ("dayi-admin", "viewer"), ("dayi-viewer", "viewer")]
    refused(client.patch(me, json={"role": "org_admin"}, headers=court.admin.headers), 403, "forbidden")


# --- other organisations and platform staff ------------------------------------------------------------------

def test_a_member_of_another_organisation_finds_nothing_there(app, client, operator):
    dayi = verified_organisation(operator, app, "dayi")
    qionglai = verified_organisation(operator, app, "qionglai", number=1)
    invitation = ok(client.post(org_api(dayi.id, "/invitations"), json={"role": "viewer"},
                                headers=dayi.admin.headers), 201)
    values = {"org_id": dayi.id, "account_id": dayi.clerk.account_id, "invitation_id": invitation["id"]}
    bodies = {"PATCH": {"role": "viewer"}, "POST": {"role": "clerk"}}

    def every(prefix: str) -> list[tuple[str, str]]:
        """Each route of the blueprint, made concrete for Dayi's court."""
        with app.test_request_context():
            return sorted((method, url_for(rule.endpoint, **{name: values[name] for name in rule.arguments}))
                          for rule in app.url_map.iter_rules() if rule.endpoint.startswith(prefix)
                          for method in rule.methods - {"HEAD", "OPTIONS"})
    api_routes = every("org_api.")
    assert len(api_routes) == len([e for e in POLICY if e.startswith("org_api.")]) == 8
    for outsider in (qionglai.admin, qionglai.clerk, qionglai.viewer):
        for method, path in api_routes:
            response = client.open(path, method=method, json=bodies.get(method), headers=outsider.headers)
            refused(response, 404, "not_found")
            # Word for word what an organisation that does not exist answers.
            missing = path.replace(f"/organisations/{dayi.id}", f"/organisations/{dayi.id + 100}", 1)
            assert client.open(missing, method=method, json=bodies.get(method),
                               headers=outsider.headers).get_json() == response.get_json()
    assert roles(client, dayi.id, dayi.admin) == EVERYONE
    assert [i["id"] for i in ok(client.get(org_api(dayi.id, "/invitations"), headers=dayi.admin.headers))[
        "items"]] == [invitation["id"]]

    # The pages say the same to Qionglai's org_admin, signed in.
    person(app, "qionglai-zhou", [("org_admin", qionglai.id)])
    browser = signed_in(app, "qionglai-zhou")
    own = browser.get(f"/org/{qionglai.id}/members")
    assert own.status_code == 200 and "qionglai 人民法院" in own.get_data(as_text=True)
    token = csrf_of(own)
    page_routes = [(m, p) for m, p in every("org_pages.") if f"/org/{dayi.id}/" in p]
    assert len(page_routes) == 5
    for method, path in page_routes:
        response = browser.open(path, method=method, data={"csrf_token": token, "role": "viewer"})
        assert response.status_code == 404, (method, path)
        assert "dayi" not in response.get_data(as_text=True)
    assert roles(client, dayi.id, dayi.admin) == EVERYONE


def test_a_platform_auditor_reads_the_members_and_a_platform_admin_changes_them(app, client, operator):
    court = verified_organisation(operator, app, "dayi")
    auditor = staff_member(app, "auditor-chen", "auditor")
    members = org_api(court.id, "/members")
    assert roles(client, court.id, auditor) == EVERYONE
    assert ok(client.get(org_api(court.id, "/invitations"), headers=auditor.headers))["items"] == []
    assert ok(client.get(org_api(court.id), headers=auditor.headers))["status"] == "verified"
    for method, path, body in [("patch", f"{members}/{court.clerk.account_id}", {"role": "viewer"}),
                               ("delete", f"{members}/{court.viewer.account_id}", None),
                               ("post", org_api(court.id, "/invitations"), {"role": "clerk"})]:
        response = getattr(client, method)(path, json=body, headers=auditor.headers)
        assert response.status_code in (403, 404), response.get_json()  # exactly 403: the test below
    assert roles(client, court.id, court.admin) == EVERYONE

    changed = ok(client.patch(f"{members}/{court.clerk.account_id}", json={"role": "viewer"},
                              headers=operator.headers))["items"]
    assert [(m["username"], m["role"]) for m in changed][1] == ("dayi-clerk", "viewer")
    ok(client.delete(f"{members}/{court.viewer.account_id}", headers=operator.headers))
    invited = ok(client.post(org_api(court.id, "/invitations"), json={"role": "clerk"}, headers=operator.headers),
                 201)
    assert invited["invited_by"] == operator.actor
    assert roles(client, court.id, auditor) == [("dayi-admin", "org_admin"), ("dayi-clerk", "viewer")]
    assert [(e["actor"], e["object"]) for e in audit_events(operator, "staff.grant")][-1] == (
        operator.actor, f"staff_account:{court.clerk.account_id}")


def test_a_platform_auditor_who_may_read_is_told_403_when_changing(app, client, operator):
    court = verified_organisation(operator, app, "dayi")
    auditor = staff_member(app, "auditor-chen", "auditor")
    members = org_api(court.id, "/members")
    refused(client.patch(f"{members}/{court.clerk.account_id}", json={"role": "viewer"}, headers=auditor.headers),
            403, "forbidden")
    refused(client.delete(f"{members}/{court.viewer.account_id}", headers=auditor.headers), 403, "forbidden")
    refused(client.post(org_api(court.id, "/invitations"), json={"role": "clerk"}, headers=auditor.headers), 403,
            "forbidden")


# --- invitations and roles ---------------------------------------------------------------------------------------

def test_accepting_an_invitation_never_lowers_a_higher_role(app, client, operator):
    court = verified_organisation(operator, app, "dayi")
    person(app, "li-clerk", [("clerk", court.id)], display_name="李书记员")
    browser = signed_in(app, "li-clerk")

    for role in ("viewer", "clerk"):  # lower, and the same
        path = invitation_path(client, court.id, court.admin, role)
        opened = browser.get(path)
        assert opened.status_code == 200 and "以 李书记员（li-clerk）的身份接受" in opened.get_data(as_text=True)
        answer = browser.post(path, data={"csrf_token": csrf_of(opened), "action": "accept"})
        assert answer.status_code == 409 and "你已是该机构成员" in answer.get_data(as_text=True)
        assert role_of(app, "li-clerk", court.id) == "clerk"
        assert browser.get(path).status_code == 200  # refused, so not used up

    secret = path.rsplit("/", 1)[-1]
    with app.app_context():
        def accept(session):
            invitations.accept(session, app.config["CLOCK"](), secret=secret,
                               account=staff.find_account(session, "li-clerk"))
        with pytest.raises(Conflict) as refusal:
            atomic(accept)
    assert refusal.value.code == "already_member"

    path = invitation_path(client, court.id, court.admin, "org_admin")  # higher: taken
    opened = browser.get(path)
    answer = browser.post(path, data={"csrf_token": csrf_of(opened), "action": "accept"})
    assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/org/"
    assert role_of(app, "li-clerk", court.id) == "org_admin"
    assert browser.get(path).status_code == 404
    assert [(e["after"]["role"], e["actor"].split(":")[-1]) for e in audit_events(operator, "staff.invitation_accept")
            ] == [("org_admin", "li-clerk")]


def test_a_clerk_of_two_courts_sees_both_on_the_portal(app, operator):
    dayi = registered(operator, "大邑县人民法院", 10)
    qionglai = registered(operator, "邛崃市人民法院", 11)
    chongzhou = registered(operator, "崇州市人民法院", 12)
    person(app, "zhou-clerk", [("clerk", dayi), ("clerk", qionglai)], display_name="周书记员")

    anonymous = app.test_client().get("/org/")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].endswith("/org/login?next=/org/")
    browser = signed_in(app, "zhou-clerk")
    home = browser.get("/org/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    table = page[page.index('id="organisations"'):]
    assert re.findall(r'href="/org/(\d+)/members"', table) == [str(dayi), str(qionglai)]
    assert "大邑县人民法院" in table and "邛崃市人民法院" in table and "崇州市人民法院" not in page
    assert table.count("经办人 (clerk)") == 2
    for court in (dayi, qionglai):
        members = browser.get(f"/org/{court}/members")
        assert members.status_code == 200 and "周书记员" in members.get_data(as_text=True)
        assert 'id="invite"' not in members.get_data(as_text=True)  # a clerk invites nobody
    assert browser.get(f"/org/{chongzhou}/members").status_code == 404


def test_the_org_admin_manages_members_on_the_page(app, operator):
    court = verified_organisation(operator, app, "dayi")
    person(app, "wang-admin", [("org_admin", court.id)], display_name="王院长")
    browser = signed_in(app, "wang-admin")
    members = f"/org/{court.id}/members"
    assert 'id="invite"' in browser.get(members).get_data(as_text=True)

    invited = submit(browser, f"{members}/invite", {"role": "viewer", "note": "档案室小陈"}, page=members)
    assert invited.status_code == 201
    shown = invited.get_data(as_text=True)
    link = re.search(r'id="invitation-link".*?(http://\S+/org/invite/thi_[\w-]+)', shown, re.S).group(1)
    assert "档案室小陈" in shown and app.test_client().get(urlsplit(link).path).status_code == 200
    refused_invite = submit(browser, f"{members}/invite", {"role": "admin"}, page=members)
    assert refused_invite.status_code == 400

    changed = submit(browser, f"{members}/{court.clerk.account_id}/role", {"role": "viewer"}, page=members)
    assert changed.status_code == 302 and role_of(app, "dayi-clerk", court.id) == "viewer"
    removed = submit(browser, f"{members}/{court.viewer.account_id}/remove", {}, page=members)
    assert removed.status_code == 302 and role_of(app, "dayi-viewer", court.id) is None
    removed = submit(browser, f"{members}/{court.admin.account_id}/remove", {}, page=members)
    assert removed.status_code == 302 and role_of(app, "dayi-admin", court.id) is None
    kept = submit(browser, f"{members}/{staff_id(app, 'wang-admin')}/role", {"role": "clerk"}, page=members)
    assert kept.status_code == 409 and "机构至少要有一名管理员" in kept.get_data(as_text=True)
    assert role_of(app, "wang-admin", court.id) == "org_admin"

    # A form from elsewhere (no CSRF token) changes nothing.
    forged = browser.post(f"{members}/{court.clerk.account_id}/role", data={"role": "org_admin"})
    assert forged.status_code == 400 and role_of(app, "dayi-clerk", court.id) == "viewer"

    # A viewer sees the list without the forms, and posting them anyway is refused.
    person(app, "chen-viewer", [("viewer", court.id)])
    viewer = signed_in(app, "chen-viewer")
    page = viewer.get(members)
    assert page.status_code == 200 and 'id="invite"' not in page.get_data(as_text=True)
    assert "王院长" in page.get_data(as_text=True)
    assert submit(viewer, f"{members}/invite", {"role": "org_admin"}, page=members).status_code == 403


def staff_id(app, username: str) -> int:
    with app.app_context():
        return atomic(lambda s: staff.find_account(s, username).id)

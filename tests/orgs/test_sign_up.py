"""An organisation signs itself up, told through HTTP: a court applies with its first org_admin's account, follows
its application with a personal token, a reviewer verifies it, and its org_admin invites a clerk by a one-time link.
Around that story: the 统一社会信用代码 check, what a sign-up refuses (naming the field, creating nothing), the rate
limit, a rejection corrected and resubmitted, a suspension and a reinstatement, the page sign-up, and the demo's
organisations as other parts of the app rely on them.

The ledger invariants and the audit chain are checked after every test by the ``app`` fixture.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from backend.db import atomic
from backend.errors import Conflict, InvalidInput
from backend.orgs import creditcode
from backend.staff import invitations
from tests.conftest import staff_member
from tests.envelope import refused
from tests.orgs.conftest import (
    PASSWORD,
    application,
    audit_events,
    census,
    credit_code,
    csrf_of,
    submit,
    token_for,
    verified_organisation,
)

# As printed on business licences (深圳 and 杭州 companies): real codes whose check character is right.
PUBLISHED = ["91440300708461136T", "914403001922038216", "91330100799655058B"]


def org_api(path: str = "") -> str:
    return f"/api/org/v1/organisations{path}"


class Reviewer:
    """A platform reviewer deciding applications through /api/admin/v1 with a personal token."""

    def __init__(self, app, client, username: str = "reviewer-zhang") -> None:
        self.client = client
        self.member = staff_member(app, username, "reviewer")
        self.actor = self.member.actor

    def waiting(self) -> list[dict]:
        response = self.client.get("/api/admin/v1/organisations", query_string={"status": "applied"},
                                   headers=self.member.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["items"]

    def decide(self, organisation_id: int, action: str, reason: str | None = None):
        return self.client.post(f"/api/admin/v1/organisations/{organisation_id}/{action}",
                                json={} if reason is None else {"reason": reason}, headers=self.member.headers)

    def ok(self, organisation_id: int, action: str, reason: str | None = None) -> dict:
        response = self.decide(organisation_id, action, reason)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def reviewer(app, client):
    return Reviewer(app, client)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


# --- the 统一社会信用代码 (GB 32100-2015) ------------------------------------------------------------------------

def test_codes_published_on_business_licences_pass_the_check():
    for code in PUBLISHED:
        assert creditcode.check_character(code[:17]) == code[17]
        assert creditcode.is_valid(code)
        assert creditcode.check(code) == code
        assert creditcode.check(f" {code.lower()} ") == code  # typed in lower case, with stray spaces


def test_every_one_character_typo_fails_the_check_character():
    """31 is prime and no weight is 0 mod 31: any single wrong character, and any swap of two neighbours among
    the first 17, changes the weighted sum, so the check character no longer matches."""
    tried = 0
    for code in PUBLISHED:
        typos = [code[:i] + char + code[i + 1:] for i in range(18) for char in creditcode.CHARSET if char != code[i]]
        swaps = [code[:i] + code[i + 1] + code[i] + code[i + 2:] for i in range(16) if code[i] != code[i + 1]]
        for typo in typos + swaps:
            if not creditcode.PATTERN.fullmatch(typo):  # a letter among the six region digits: a form error
                continue
            with pytest.raises(InvalidInput) as refusal:
                creditcode.check(typo)
            assert (refusal.value.code, refusal.value.field) == ("credit_code_check", "credit_code"), typo
            assert not creditcode.is_valid(typo)
            tried += 1
    assert tried > 1000


@pytest.mark.parametrize("raw", [
    "91440300708461136",      # 17 characters
    "91440300708461136TT",    # 19
    "",
    "9144030070846I136T",     # I, O, S, V and Z are not in the set (they look like 1, 0, 5, U and 2)
    "9144030070846O136T",
    "91440300708461136S",
    "9144030070846V136T",
    "9144030070846Z136T",
    "91A40300708461136T",     # characters 3–8 are the region's digits
    "91440300-08461136T",
])
def test_a_code_of_the_wrong_form_names_credit_code(raw):
    with pytest.raises(InvalidInput) as refusal:
        creditcode.check(raw)
    assert refusal.value.field == "credit_code"
    assert refusal.value.code == "invalid_request"  # not credit_code_check: the form, not a typo, is wrong


def test_the_sign_up_route_applies_the_check(operator, sign_ups):
    before = census(operator)
    refused(sign_ups.post(application(1, credit_code="91440300708461136X")), 400, "credit_code_check",
            "credit_code")
    refused(sign_ups.post(application(1, credit_code="91440300708461136S")), 400, "invalid_request", "credit_code")
    refused(sign_ups.post(application(1, credit_code="91440300708461136")), 400, "invalid_request", "credit_code")
    assert census(operator) == before

    made = ok(sign_ups.post(application(1, credit_code="91440300708461136t")), 201)["organisation"]
    assert made["credit_code"] == "91440300708461136T"
    listed = operator.ok(operator.get("/organisations", query_string={"status": "applied"}))["items"]
    assert [(o["id"], o["credit_code"], o["credit_code_check"]) for o in listed] == [
        (made["id"], "91440300708461136T", True)]
    # Typed in upper case, it is the same organisation.
    refused(sign_ups.post(application(2, credit_code="91440300708461136T")), 409, "duplicate", "credit_code")


# --- the whole story -------------------------------------------------------------------------------------------

def test_a_court_signs_up_is_verified_and_its_admin_invites_a_clerk(app, client, runner, operator, reviewer):
    """Apply (no login) → follow it with a token → a reviewer verifies → invite → the clerk joins by the link."""
    # The court applies; the applicant's new account comes with it.
    response = client.post("/api/v1/organisations/applications", json=application(
        7, name="四川省大邑县人民法院", admin={"username": "Dayi-Court", "display_name": "王立"}))
    body = ok(response, 201)
    court = body["organisation"]
    assert court["status"] == "applied" and court["status_label"] == "审核中"
    assert court["kind"] == "court" and court["name"] == "四川省大邑县人民法院"
    assert court["holder"] == f"org:{court['id']}"
    assert body["admin"] == {"username": "dayi-court"}  # usernames are lower case
    assert "contact_phone" not in court  # the review fields are for reviewers and the court's own people

    # The applicant makes a personal token on the command line and follows the application.
    with app.app_context():
        made = runner.invoke(args=["users", "token", "dayi-court", "--name", "laptop"])
    assert made.exit_code == 0, made.output
    applicant = {"Authorization": f"Bearer {made.stdout.split()[-1]}"}
    mine = ok(client.get(org_api(f"/{court['id']}"), headers=applicant))
    assert mine["status"] == "applied" and mine["credit_code_check"] is True
    assert mine["region_name"] == "四川省成都市大邑县" and mine["contact_phone"] == "028-88223456"
    members = ok(client.get(org_api(f"/{court['id']}/members"), headers=applicant))["items"]
    assert [(m["username"], m["display_name"], m["role"]) for m in members] == [("dayi-court", "王立", "org_admin")]
    applicant_actor = f"staff:{members[0]['account_id']}:dayi-court"
    assert [(d["from"], d["to"], d["actor"]) for d in mine["decisions"]] == [(None, "applied", applicant_actor)]

    # Until it is verified the court only reads: no invitation is made.
    refused(client.post(org_api(f"/{court['id']}/invitations"), json={"role": "clerk", "note": "书记员小李"},
                        headers=applicant), 403, "organisation_not_active")
    assert ok(client.get(org_api(f"/{court['id']}/invitations"), headers=applicant))["items"] == []

    # A reviewer finds it waiting, with the credit code's check passed, and verifies it.
    waiting = reviewer.waiting()
    assert [(o["id"], o["credit_code_check"], o["contact_name"]) for o in waiting] == [
        (court["id"], True, "王书记员")]
    verified = reviewer.ok(court["id"], "verify")
    assert verified["status"] == "verified" and verified["decided_by"] == reviewer.actor
    assert [(m["username"], m["role"]) for m in verified["members"]] == [("dayi-court", "org_admin")]
    assert reviewer.waiting() == []
    assert [(d["from"], d["to"]) for d in ok(client.get(org_api(f"/{court['id']}"), headers=applicant))[
        "decisions"]] == [(None, "applied"), ("applied", "verified")]

    # The audit chain names who applied and who verified.
    subject = f"organisation:{court['id']}"
    applied = [e for e in audit_events(operator, "organisation.apply") if e["object"] == subject]
    assert [(e["actor"], e["after"]["status"]) for e in applied] == [(applicant_actor, "applied")]
    verifications = [e for e in audit_events(operator, "organisation.verify") if e["object"] == subject]
    assert [(e["actor"], e["before"], e["after"]["status"]) for e in verifications] == [
        (reviewer.actor, {"status": "applied"}, "verified")]
    assert reviewer.actor.startswith(f"staff:{reviewer.member.account_id}:reviewer-zhang token:")

    # Now the org_admin invites a clerk: the link is in this answer and nowhere else.
    invited = ok(client.post(org_api(f"/{court['id']}/invitations"), json={"role": "clerk", "note": "书记员小李"},
                             headers=applicant), 201)
    assert invited["role"] == "clerk" and invited["scope"] == f"org:{court['id']}"
    assert invited["invited_by"].startswith(f"{applicant_actor} token:")
    assert invited["url"].startswith(f"{app.config['PUBLIC_BASE_URL']}/org/invite/thi_")
    listed = ok(client.get(org_api(f"/{court['id']}/invitations"), headers=applicant))["items"]
    assert [(i["id"], i["note"]) for i in listed] == [(invited["id"], "书记员小李")]
    assert "url" not in listed[0]

    # The invitee opens the link in their own browser and makes an account there.
    path = urlsplit(invited["url"]).path
    browser = app.test_client()
    opened = browser.get(path)
    assert opened.status_code == 200
    assert "四川省大邑县人民法院" in opened.get_data(as_text=True) and "经办人" in opened.get_data(as_text=True)
    joined = browser.post(path, data={"csrf_token": csrf_of(opened), "action": "create", "username": "li-clerk",
                                      "display_name": "李书记员", "password": PASSWORD, "password_again": PASSWORD})
    assert joined.status_code == 302 and urlsplit(joined.headers["Location"]).path == "/org/"
    home = browser.get("/org/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert "四川省大邑县人民法院" in page and "经办人 (clerk)" in page and "李书记员" in page
    members = ok(client.get(org_api(f"/{court['id']}/members"), headers=applicant))["items"]
    assert [(m["username"], m["role"]) for m in members] == [("dayi-court", "org_admin"), ("li-clerk", "clerk")]
    accepted = audit_events(operator, "staff.invitation_accept")
    assert [(e["actor"], e["object"]) for e in accepted] == [
        (f"staff:{members[1]['account_id']}:li-clerk", f"staff_invitation:{invited['id']}")]

    # The link worked once.
    assert browser.get(path).status_code == 404
    assert app.test_client().get(path).status_code == 404
    assert ok(client.get(org_api(f"/{court['id']}/invitations"), headers=applicant))["items"] == []


def test_a_revoked_or_expired_invitation_link_answers_404(app, client, clock, operator):
    court = verified_organisation(operator, app, "dayi")
    links = org_api(f"/{court.id}/invitations")

    def invite(note: str) -> tuple[dict, str]:
        made = ok(client.post(links, json={"role": "viewer", "note": note}, headers=court.admin.headers), 201)
        return made, urlsplit(made["url"]).path

    revoked, revoked_path = invite("撤销的")
    assert client.get(revoked_path).status_code == 200
    assert ok(client.delete(f"{links}/{revoked['id']}", headers=court.admin.headers)) == {
        "revoked": revoked["id"]}
    assert client.get(revoked_path).status_code == 404
    refused(client.delete(f"{links}/{revoked['id']}", headers=court.admin.headers), 404, "not_found")

    expiring, expiring_path = invite("过期的")
    clock.advance(days=app.config["INVITATION_DAYS"], seconds=-1)
    assert client.get(expiring_path).status_code == 200  # its last second
    clock.advance(seconds=1)
    assert client.get(expiring_path).status_code == 404
    assert ok(client.get(links, headers=court.admin.headers))["items"] == []
    refused(client.delete(f"{links}/{expiring['id']}", headers=court.admin.headers), 404, "not_found")
    # A link nobody made, and a made-up one of another form, say the same.
    assert client.get("/org/invite/thi_" + "A" * 32).status_code == 404
    assert client.get("/org/invite/" + "x" * 200).status_code == 404


def test_a_suspended_organisations_link_waits_for_its_reinstatement(app, client, operator, reviewer):
    """Nobody joins a suspended organisation, and the account the invitee was making is not left behind."""
    court = verified_organisation(operator, app, "dayi")
    made = ok(client.post(org_api(f"/{court.id}/invitations"), json={"role": "clerk"}, headers=court.admin.headers),
              201)
    path = urlsplit(made["url"]).path
    reviewer.ok(court.id, "suspend", "待核实")
    browser = app.test_client()
    opened = browser.get(path)
    assert opened.status_code == 200
    fields = {"action": "create", "username": "li-clerk", "display_name": "李书记员", "password": PASSWORD,
              "password_again": PASSWORD}
    refused_page = browser.post(path, data={"csrf_token": csrf_of(opened), **fields})
    assert refused_page.status_code == 409 and "不能接纳成员" in refused_page.get_data(as_text=True)
    assert "li-clerk" not in census(operator)[1]
    with app.app_context(), pytest.raises(Conflict) as refusal:  # nor does the domain make a link for it
        atomic(lambda s: invitations.invite(s, app.config["CLOCK"](), organisation_id=court.id, role="viewer",
                                            note="", days=7, actor=court.admin.actor))
    assert refusal.value.code == "organisation_not_verified"

    reviewer.ok(court.id, "reinstate", "核实无误")
    joined = browser.post(path, data={"csrf_token": csrf_of(browser.get(path)), **fields})
    assert joined.status_code == 302
    members = ok(client.get(org_api(f"/{court.id}/members"), headers=court.admin.headers))["items"]
    assert ("li-clerk", "clerk") in [(m["username"], m["role"]) for m in members]


# --- what a sign-up refuses --------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, field", [
    ({"adcode": "999999"}, "adcode"),                    # six digits, but no such division
    ({"adcode": "51012"}, "adcode"),
    ({"contact_phone": "12345678901"}, "contact_phone"),  # eleven digits, not a mobile number
    ({"contact_phone": "88223456"}, "contact_phone"),     # a landline without its area code
    ({"contact_email": "office.dyfy.example.cn"}, "contact_email"),
    ({"contact_email": "office@dyfy"}, "contact_email"),
    ({"kind": "law_firm"}, "kind"),
    ({"name": "法"}, "name"),
    ({"admin": {"password": "Dayi-2026"}}, "admin.password"),     # nine characters
    ({"admin": {"password": "aaaaabbbbb"}}, "admin.password"),    # ten, but too simple
    ({"admin": {"password": "court-1-Dayi-2026"}}, "admin.password"),  # contains the username
    ({"admin": {"username": "wang court"}}, "admin.username"),
    ({"admin": {"display_name": "王\u200b立"}}, "admin.display_name"),  # a zero-width space
    ({"admin": {"role": "admin"}}, "admin.role"),                  # no such field: nobody picks their role
    ({"status": "verified"}, "status"),
])
def test_a_bad_field_is_refused_by_name_and_nothing_is_created(operator, sign_ups, overrides, field):
    before = census(operator)
    refused(sign_ups.post(application(1, **overrides)), 400, field=field)
    assert census(operator) == before
    # The same application, corrected, goes through: the refused one left nothing behind.
    assert ok(sign_ups.post(application(1)), 201)["organisation"]["status"] == "applied"


def test_a_taken_username_is_a_conflict_and_nothing_is_created(app, operator, sign_ups):
    staff_member(app, "court-1", "auditor")
    before = census(operator)
    refused(sign_ups.post(application(1)), 409, "duplicate", "admin.username")
    refused(sign_ups.post(application(1, admin={"username": " Court-1 "})), 409, "duplicate", "admin.username")
    assert census(operator) == before  # in particular the credit code is still free
    made = ok(sign_ups.post(application(1, admin={"username": "court-1b"})), 201)
    assert made["organisation"]["credit_code"] == credit_code(1)


def test_a_credit_code_signs_up_once_and_a_rejected_one_is_resubmitted(app, operator, sign_ups, reviewer):
    court = sign_ups.applied(1)
    before = census(operator)
    error = refused(sign_ups.post(application(1, name="另一家法院", admin={"username": "someone-else"})), 409,
                    "duplicate", "credit_code")
    assert "resubmit" not in error["message"]
    assert census(operator) == before  # someone-else was not made

    reviewer.ok(court["id"], "reject", "营业执照与单位名称不一致")
    error = refused(sign_ups.post(application(1, admin={"username": "someone-else"})), 409, "duplicate",
                    "credit_code")
    assert "重新提交" in error["message"] and "resubmit" in error["message"]
    assert census(operator) == before

    # A code the operator registered is taken too.
    registered = operator.ok(operator.post("/organisations", {"name": "邛崃市人民法院", "kind": "court",
                                                              "credit_code": credit_code(2)}), 201)
    assert registered["status"] == "verified"
    refused(sign_ups.post(application(2)), 409, "duplicate", "credit_code")


def test_sign_ups_from_one_address_are_rate_limited(app, clock, operator, sign_ups):
    allowance = app.config["SIGNUP_RATE_LIMIT_PER_MINUTE"]
    here = "203.0.113.9"
    assert ok(sign_ups.post(application(1), address=here), 201)
    for _ in range(allowance - 1):  # a refused body costs an allowance too
        refused(sign_ups.post(application(2, adcode="999999"), address=here), 400, field="adcode")
    response = sign_ups.post(application(2), address=here)
    error = refused(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "60" and error["details"] == {"retry_after": 60}
    clock.advance(seconds=45)
    response = sign_ups.post(application(2), address=here)
    assert response.status_code == 429 and response.headers["Retry-After"] == "15"
    assert census(operator)[0] == [credit_code(1)]
    assert ok(sign_ups.post(application(3)), 201)  # another address has its own allowance
    # The page signs up through the same allowance.
    browser = app.test_client()
    page = submit(browser, "/org/apply", {}, environ_base={"REMOTE_ADDR": here})
    assert page.status_code == 429 and page.headers["Retry-After"] == "15"
    assert "请求过于频繁" in page.get_data(as_text=True)

    clock.advance(seconds=15)  # the next minute
    assert ok(sign_ups.post(application(2), address=here), 201)


# --- review: reject, resubmit, suspend, reinstate ------------------------------------------------------------

def test_a_rejected_application_is_corrected_resubmitted_and_verified(app, client, operator, sign_ups, reviewer):
    court = sign_ups.applied(1, name="大邑法院")
    applicant = token_for(app, "court-1")
    account = f"staff:{applicant.account_id}:court-1"  # signing up, nobody had a token yet
    mine = org_api(f"/{court['id']}")

    refused(reviewer.decide(court["id"], "reject"), 400, "invalid_request", "reason")
    refused(reviewer.decide(court["id"], "reject", "   "), 400, field="reason")
    refused(reviewer.decide(court["id"], "suspend", "未通过审核的不能暂停"), 409, "invalid_state")
    refused(reviewer.decide(court["id"], "reinstate", "理由"), 409, "invalid_state")
    assert ok(client.get(mine, headers=applicant.headers))["status"] == "applied"  # nothing happened

    rejected = reviewer.ok(court["id"], "reject", "单位名称应与营业执照一致：四川省大邑县人民法院")
    assert rejected["status"] == "rejected" and rejected["status_reason"].startswith("单位名称应与营业执照一致")
    seen = ok(client.get(mine, headers=applicant.headers))
    assert seen["status"] == "rejected" and seen["status_reason"] == rejected["status_reason"]
    assert [(d["to"], d["reason"]) for d in seen["decisions"]] == [
        ("applied", None), ("rejected", rejected["status_reason"])]
    refused(reviewer.decide(court["id"], "verify"), 409, "invalid_state")
    refused(client.post(f"{mine}/invitations", json={"role": "clerk"}, headers=applicant.headers), 403,
            "organisation_not_active")
    # Only its own org_admin resubmits: a reviewer does not correct it for them.
    refused(client.post(f"{mine}/resubmit", json={}, headers=reviewer.member.headers), 403, "forbidden")

    # A bad correction, or one of the credit code, is refused and leaves it rejected.
    refused(client.post(f"{mine}/resubmit", json={"contact_phone": "12345"}, headers=applicant.headers), 400,
            field="contact_phone")
    refused(client.post(f"{mine}/resubmit", json={"adcode": "999999"}, headers=applicant.headers), 400,
            field="adcode")
    refused(client.post(f"{mine}/resubmit", json={"credit_code": credit_code(2)}, headers=applicant.headers),
            400, field="credit_code")
    assert ok(client.get(mine, headers=applicant.headers))["name"] == "大邑法院"

    fixed = ok(client.post(f"{mine}/resubmit", json={"name": "四川省大邑县人民法院", "contact_phone": "13800138000"},
                           headers=applicant.headers))
    assert fixed["status"] == "applied" and fixed["status_reason"] is None
    assert (fixed["name"], fixed["contact_phone"], fixed["contact_name"]) == (
        "四川省大邑县人民法院", "13800138000", "王书记员")  # what was not sent stays
    refused(client.post(f"{mine}/resubmit", json={}, headers=applicant.headers), 409, "invalid_state")
    assert [o["id"] for o in reviewer.waiting()] == [court["id"]]

    verified = reviewer.ok(court["id"], "verify")
    assert verified["status"] == "verified" and verified["name"] == "四川省大邑县人民法院"
    assert [(d["from"], d["to"], d["actor"]) for d in verified["decisions"]] == [
        (None, "applied", account), ("applied", "rejected", reviewer.actor),
        ("rejected", "applied", applicant.actor), ("applied", "verified", reviewer.actor)]
    subject = f"organisation:{court['id']}"
    assert [(e["action"], e["actor"]) for e in audit_events(operator) if e["object"] == subject] == [
        ("organisation.create", account), ("organisation.apply", account),
        ("organisation.reject", reviewer.actor), ("organisation.correct", applicant.actor),
        ("organisation.resubmit", applicant.actor),
        ("organisation.verify", reviewer.actor)]
    ok(client.post(f"{mine}/invitations", json={"role": "clerk"}, headers=applicant.headers), 201)


def test_a_suspended_organisation_reads_but_does_not_act_until_reinstated(app, client, operator, reviewer):
    court = verified_organisation(operator, app, "dayi")
    base = org_api(f"/{court.id}")
    invitation = ok(client.post(f"{base}/invitations", json={"role": "viewer"}, headers=court.admin.headers), 201)
    writes = [
        ("post", f"{base}/invitations", {"role": "viewer"}),
        ("delete", f"{base}/invitations/{invitation['id']}", None),
        ("patch", f"{base}/members/{court.clerk.account_id}", {"role": "viewer"}),
        ("delete", f"{base}/members/{court.viewer.account_id}", None),
    ]

    def roles() -> list[tuple[str, str]]:
        items = ok(client.get(f"{base}/members", headers=court.admin.headers))["items"]
        return [(m["username"], m["role"]) for m in items]
    before = roles()
    assert before == [("dayi-admin", "org_admin"), ("dayi-clerk", "clerk"), ("dayi-viewer", "viewer")]

    refused(reviewer.decide(court.id, "suspend"), 400, field="reason")
    refused(reviewer.decide(court.id, "reinstate", "未暂停"), 409, "invalid_state")
    suspended = reviewer.ok(court.id, "suspend", "统一社会信用代码已注销，待核实")
    assert suspended["status"] == "suspended"

    for method, path, body in writes:
        refused(getattr(client, method)(path, json=body, headers=court.admin.headers), 403,
                "organisation_not_active")
    for member in (court.admin, court.clerk, court.viewer):  # reading goes on
        shown = ok(client.get(base, headers=member.headers))
        assert shown["status"] == "suspended" and shown["status_reason"] == "统一社会信用代码已注销，待核实"
    assert roles() == before
    assert [i["id"] for i in ok(client.get(f"{base}/invitations", headers=court.admin.headers))["items"]] == [
        invitation["id"]]

    refused(reviewer.decide(court.id, "reinstate"), 400, field="reason")
    refused(reviewer.decide(court.id, "verify"), 409, "invalid_state")
    reinstated = reviewer.ok(court.id, "reinstate", "核实无误，恢复")
    assert reinstated["status"] == "verified"
    assert [(d["from"], d["to"]) for d in reinstated["decisions"]][-2:] == [
        ("verified", "suspended"), ("suspended", "verified")]
    for method, path, body in writes:
        assert getattr(client, method)(path, json=body, headers=court.admin.headers).status_code in (200, 201)
    assert roles() == [("dayi-admin", "org_admin"), ("dayi-clerk", "viewer")]


# --- the page ------------------------------------------------------------------------------------------------

def address(number: int) -> dict:
    """A POST's own client address (the page signs up through the rate-limited allowance too)."""
    return {"environ_base": {"REMOTE_ADDR": f"192.0.2.{number}"}}


def test_signing_up_on_the_page_signs_the_applicant_in(app, operator):
    browser = app.test_client()
    form = {"name": "成都马拉松组委会", "kind": "event_organiser", "credit_code": credit_code(5).lower(),
            "adcode": "510100", "contact_name": "赵主任", "contact_phone": "028 8765 4321", "contact_email": "",
            "username": "cdm-zhao", "display_name": "赵主任", "password": PASSWORD, "password_again": PASSWORD}
    assert browser.get("/org/").status_code == 302  # nobody is signed in yet
    before = census(operator)
    refused_page = submit(browser, "/org/apply", {**form, "password_again": PASSWORD + "!"}, **address(1))
    assert refused_page.status_code == 400 and "两次输入的密码不一致" in refused_page.get_data(as_text=True)
    refused_page = submit(browser, "/org/apply", {**form, "adcode": "519999"}, **address(2))
    assert refused_page.status_code == 400 and "不是有效的行政区划代码" in refused_page.get_data(as_text=True)
    assert census(operator) == before

    done = submit(browser, "/org/apply", form, **address(3))
    assert done.status_code == 302 and urlsplit(done.headers["Location"]).path == "/org/"
    home = browser.get("/org/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert "成都马拉松组委会" in page and "审核中" in page and "机构管理员 (org_admin)" in page
    made = [o for o in operator.ok(operator.get("/organisations"))["items"] if o["name"] == "成都马拉松组委会"]
    assert [(o["status"], o["kind"], o["credit_code"], o["contact_phone"], o["contact_email"]) for o in made] == [
        ("applied", "event_organiser", credit_code(5), "02887654321", None)]

    # Signed in, they apply for another unit as themselves: no second account.
    again = submit(browser, "/org/apply", {k: v for k, v in form.items() if k not in (
        "username", "display_name", "password", "password_again")} | {"name": "成都半程马拉松组委会",
                                                                         "credit_code": credit_code(6)},
                   **address(4))
    assert again.status_code == 302
    page = browser.get("/org/").get_data(as_text=True)
    assert "成都马拉松组委会" in page and "成都半程马拉松组委会" in page
    assert census(operator)[1] == sorted([*before[1], "cdm-zhao"])


# --- the contract other parts rely on ----------------------------------------------------------------------------

def test_contract_the_demo_lists_verified_courts_organisers_and_companies(app, client, runner):
    """Scenario code (cases, events, company footprints) finds its demo organisations this way."""
    with app.app_context():
        loaded = runner.invoke(args=["demo"])
        assert loaded.exit_code == 0, loaded.output
        tokens = {name: runner.invoke(args=["users", "token", name]) for name in ("admin", "auditor")}
    for name, made in tokens.items():
        assert made.exit_code == 0, made.output
        response = client.get("/api/admin/v1/organisations", query_string={"status": "verified"},
                              headers={"Authorization": f"Bearer {made.stdout.split()[-1]}"})
        items = ok(response)["items"]
        assert all(isinstance(o["id"], int) and o["status"] == "verified" for o in items), name
        kinds = {o["kind"] for o in items}
        assert {"court", "event_organiser", "company"} <= kinds, (name, kinds)
        court = next(o for o in items if o["kind"] == "court")
        assert court["credit_code_check"] is True

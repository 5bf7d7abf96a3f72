"""Schemathesis over every operation of /openapi.json, in-process (WSGI), with real credentials: a staff admin's
personal token for the operator API and /api/staff, an org_admin's token for /api/org, a citizen's mini-program
session for /api/mp. The app is seeded first (a registered project with a batch on sale, an organisation with its
admin, a retirement with its certificate, a citizen), so that generated ids — Hypothesis tries 1 early — find real
records and reach the handlers' success paths, not only their 404s.

Budget: MAX_EXAMPLES positive and MAX_EXAMPLES // 2 negative (schema-violating) cases per operation, derandomised
(the same cases every run), no shrinking (a failure is reported with the case that found it). About a minute per
store pair on the 2-core CI machine; the test fails if it ever takes more than BUDGET_SECONDS.

Checks on every answer: no 5xx (a 500 is a bug); the status is one the operation declares; the media type is one
it declares; a JSON body matches the declared schema. For positive (schema-valid) cases also: the request is not
refused with a 400 — a valid request may still meet a missing record (404), a state that refuses it (409), a
limit (429) or a role that may not (401/403) — except for the operations in EXPLAINED_REJECTIONS, each with the
rule the schema cannot say. After the run the ``app`` fixture checks the ledger invariants and the audit chain:
whatever the fuzzer did through the API must leave both intact.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from backend import wechat
from tests.conftest import staff_member
from tests.miniprogram.conftest import wx_login

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 20))
BUDGET_SECONDS = 240
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Operations whose schema-valid requests may be refused with a 400, and why that is right: each names a rule that
# JSON Schema cannot state (a comparison between two fields, a record that must exist, a check made by another
# service), which the operation's description states instead. Everything else must accept what its schema allows.
EXPLAINED_REJECTIONS = {
    "admin_api.create_project": "owner_id and methodology_id must name existing records, the methodology must fit "
                                "the ecosystem, county_adcode must be a county in GB/T 2260, crediting_end must "
                                "follow crediting_start",
    "admin_api.create_batch": "monitoring dates must be ordered and within the project's crediting period, and the "
                              "vintage within the monitoring period",
    "admin_api.make_transfer": "to_holder must exist (org:<id> a registered organisation)",
    "admin_api.make_reservation": "to_holder must exist (org:<id> a registered organisation)",
    "admin_api.make_retirement": "holder must exist",
    "admin_api.make_cancellation": "holder must exist",
    "admin_api.create_organisation": "credit_code must carry a valid GB 32100 check character, adcode must be a "
                                     "GB/T 2260 division",
    "admin_api.decide_organisation": "a reason is required to reject or suspend (depends on the action in the path)",
    "admin_api.decide_project": "a reason is required to reject or suspend (depends on the action in the path)",
    "org_signup.apply": "credit_code check character, adcode in GB/T 2260, username free and well-formed, a strong "
                        "enough password",
    "org_api.resubmit": "adcode must be a GB/T 2260 division",
    "mp_api.update_me": "region must be a GB/T 2260 division; nickname and real_name pass WeChat's content check",
    "mp_api.login": "the code must be one WeChat issued (the fake WeChat refuses unknown codes, as WeChat does)",
    "mp_api.save_footprint": "calculation_id must name a stored calculation",
    "mp_api.make_quote": "footprint_id must name a stored calculation; one order holds at most MP_MAX_RESERVED_G",
    "mp_api.create_order": "footprint_id must name a stored calculation; one order holds at most MP_MAX_RESERVED_G",
    "transparency.get_entries": "end must not be before start, and start must be within the log",
    "transparency.consistency_proof": "both sizes must be sizes the log has had, first ≤ second",
    "transparency.inclusion_proof": "tree_size must be a size the log has had that includes the certificate",
    **{f"footprint.calculate_{name}": "regions must be GB/T 2260 divisions (airports known IATA codes, dates in a "
                                      "rule's period); a factor_set must exist"
       for name in ("household", "travel", "lifestyle", "trip", "event", "judicial", "tree_duty")},
    **{f"footprint.{name}": "factor_set must name a loaded set" for name in ("list_factors", "list_species",
                                                                             "list_duty_rules")},
    **{name: "note must be printable text (no control or unassigned characters, Python's str.isprintable): a "
             "Unicode property JSON Schema's regular expressions cannot name portably"
       for name in ("admin_api.invite_platform_staff", "org_api.invite_member")},
    "mp_api.board": "region must be a GB/T 2260 division (the pattern says six digits; the table, which)",
    "judicial_org_api.open_case": "case_no must be a 案号 as courts write it, damage_region a county in GB/T 2260, "
                                  "the deadline not past, shares for all payers or none adding to 100",
    "judicial_org_api.extend_case": "the new deadline must follow the old one and not be past",
    **{f"tree_duty_admin_api.{name}": "the rule's own consistency (effective_to after effective_from, the honour "
                                      "pair above the duty, ages in order) and, for a new rule, region in GB/T 2260"
       for name in ("create_rule", "revise_rule")},
    "tree_duty_mp_api.my_year": "the region must have a tree-duty rule in force in the year",
    "tree_duty_mp_api.add_member": "birth_year must not be after this year",
    "events_org_api.create_event": "venue_region must be a county in GB/T 2260, ends_on not before starts_on",
    **{f"events_org_api.{name}": "calculation must be a body the event calculator accepts (regions in GB/T 2260, "
                                 "the stage of the route)" for name in ("put_plan", "put_final")},
}


class Credentials:
    """The callers the fuzzer speaks as, made again when an operation ended them (a revoked token, a logout)."""

    def __init__(self, app, client, organisation_id: int) -> None:
        self.app, self.client, self.organisation_id = app, client, organisation_id
        self.serial = itertools.count(1)
        self.admin = self.member = self.citizen = ""
        self.renew("admin"), self.renew("member"), self.renew("citizen")

    def renew(self, who: str) -> None:
        n = next(self.serial)
        if who == "admin":
            self.admin = staff_member(self.app, f"fuzz-admin-{n}", "admin").token
        elif who == "member":
            self.member = staff_member(self.app, f"fuzz-member-{n}", "org_admin",
                                       organisation_id=self.organisation_id).token
        else:
            code = wx_login(self.client, f"fuzz-citizen-{n}")
            response = self.client.post("/api/mp/v1/auth/login", json={"code": code})
            assert response.status_code == 200, response.get_json()
            self.citizen = response.get_json()["token"]

    def headers(self, path: str, security: list[dict[str, Any]] | None) -> dict[str, str]:
        schemes = {name for requirement in security or () for name in requirement}
        if "citizenSession" in schemes:
            return {"Authorization": f"Bearer {self.citizen}"}
        if "personalToken" in schemes:
            token = self.member if path.startswith("/api/org/") else self.admin
            return {"Authorization": f"Bearer {token}"}
        return {}


LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}  # a client address, as any server gives (rate limits, the dev pay route)

# Operations that can end the credentials they were called with: the next case gets fresh ones.
ENDS_CREDENTIALS = {
    "admin_api.set_staff_disabled": "admin", "admin_api.revoke_platform_role": "admin",
    "staff_api.revoke_token": "admin", "org_api.change_member_role": "member", "org_api.remove_member": "member",
    "mp_api.logout": "citizen", "mp_api.logout_all": "citizen", "mp_api.refresh": "citizen",
    "mp_api.delete_me": "citizen",
}


@pytest.fixture
def world(app, client, operator):
    """What the fuzzer finds when it asks for id 1: a registered project (organisation 1 owns it), a batch on sale,
    a retirement with certificate TH2026-00000001, a saved footprint calculation."""
    for name in ("PUBLIC_RATE_LIMIT_PER_MINUTE", "MP_LOGIN_RATE_LIMIT_PER_MINUTE", "SIGNUP_RATE_LIMIT_PER_MINUTE",
                 "MP_ORDERS_PER_MINUTE"):
        app.config[name] = 1_000_000  # limits are tested elsewhere; here they would only hide the handlers
    with app.app_context():
        fake = wechat.fake_server()
    fake.sender = lambda notification: client.post(urlsplit(notification.url).path, data=notification.body,
                                                   headers=notification.headers).status_code  # as WeChat would
    made = operator.registered_project(quantity_g=10_000_000)
    batch = made["batch"]
    operator.ok(operator.post("/listings", {"batch_id": batch["id"], "price_fen_per_t": 8_000, "title": "林场碳汇"}))
    operator.ok(operator.post("/ledger/retirements", {
        "batch_id": batch["id"], "holder": "platform", "amount_g": 1_000, "purpose": "personal",
        "beneficiary_name": "张三"}, key="fuzz-seed-retirement"))
    client.post("/api/v1/footprint/household", json={"region": "510000", "electricity_kwh": 100})
    return Credentials(app, client, made["owner"]["id"])


def _integers_as_integers(value: Any) -> Any:
    """17646.0 is an integer to JSON Schema, but not to our strict parser (a 400 naming the field, as for "17646"):
    a client that writes counts of grams or fen as floats has a bug worth hearing about, so the document says
    integers are written as integers (info.description) and positive cases send them so."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integers_as_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integers_as_integers(item) for item in value]
    return value


def _fuzz(operation, mode: GenerationMode, credentials: Credentials, keys: Callable[[], str],
          examples: int, failures: list[str], statuses: dict[str, set[int]]) -> None:
    security = operation.definition.raw.get("security")
    endpoint = operation.definition.raw["operationId"]
    checks = list(CHECKS)
    if mode == GenerationMode.POSITIVE and endpoint not in EXPLAINED_REJECTIONS:
        checks.append(positive_data_acceptance)

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        if mode == GenerationMode.POSITIVE:
            if case.headers and "Idempotency-Key" in case.headers:
                case.headers["Idempotency-Key"] = keys()  # a new request each time, not a replay of the last one
            case.body = _integers_as_integers(case.body)
        try:
            response = case.call_and_validate(headers=credentials.headers(operation.path, security), checks=checks,
                                              environ_base=LOOPBACK)
            statuses.setdefault(endpoint, set()).add((mode.value[:3], response.status_code))
        finally:
            if endpoint in ENDS_CREDENTIALS:
                credentials.renew(ENDS_CREDENTIALS[endpoint])

    try:
        run()
    except Unsatisfiable:  # negative mode, nothing to break: no parameters and no body
        assert mode == GenerationMode.NEGATIVE, operation.label
    except (Exception, BaseExceptionGroup) as error:  # every failing operation is reported, not only the first
        failures.append(f"{operation.label} ({mode.value}): {error}")


def test_every_operation_keeps_to_the_document(app, world):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    counter = itertools.count(1)
    failures: list[str] = []
    statuses: dict[str, set[int]] = {}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 100
    for operation in operations:
        for mode, examples in ((GenerationMode.POSITIVE, MAX_EXAMPLES), (GenerationMode.NEGATIVE, MAX_EXAMPLES // 2)):
            _fuzz(operation, mode, world, lambda: f"fuzz-{next(counter)}", examples, failures, statuses)
    elapsed = time.monotonic() - started
    if os.environ.get("FUZZ_REPORT"):
        print(f"fuzzed {len(operations)} operations in {elapsed:.1f} s")
        for endpoint, seen in sorted(statuses.items()):
            print(f"  {endpoint}: {sorted(seen)}")
    assert not failures, f"{len(failures)} operations broke the document:\n\n" + "\n\n".join(failures)
    assert elapsed < BUDGET_SECONDS, f"the fuzz run took {elapsed:.0f} s, over its {BUDGET_SECONDS} s budget"

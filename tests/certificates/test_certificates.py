"""Every retirement comes with its certificate: numbered in one series, stating the retirement, committing to the
beneficiary's full name, signed so that anyone with the published JWKS can check it.

The signature is checked by hand from the JWKS (see test_keys.verify_by_hand), never by the signing code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone

import pytest
from sqlmodel import Session, select

from backend.canonical import canonical_json
from backend.certificates.models import Certificate
from backend.certificates.service import commitment
from backend.privacy.models import BeneficiaryName
from tests.certificates.test_keys import verify_by_hand
from tests.envelope import refused


@pytest.fixture
def batch(operator):
    return operator.registered_project(quantity_g=100_000_000)["batch"]


def retire(operator, batch, key: str, **overrides):
    body = {"batch_id": batch["id"], "holder": "platform", "amount_g": 350_000, "purpose": "personal",
            "beneficiary_name": "张三丰", **overrides}
    return operator.ok(operator.post("/ledger/retirements", body, key=key), 201)


def test_a_retirement_comes_with_a_certificate_anyone_can_check(operator, client, batch):
    retirement = retire(operator, batch, "cert-1")
    number = retirement["certificate_no"]
    assert number == "TH2026-00000001"
    certificate = client.get(f"/api/v1/certificates/{number}").get_json()
    payload = certificate["payload"]
    assert payload["number"] == number and payload["quantity_g"] == 350_000 and payload["purpose"] == "personal"
    assert payload["batch"] == {"code": batch["code"], "vintage": 2023}
    assert payload["serials"] == [[1, 350_000]]
    assert payload["beneficiary"]["masked"] == "张**"
    assert "张三丰" not in json.dumps(certificate, ensure_ascii=False)  # the full name never leaves the server
    assert hashlib.sha256(canonical_json(payload)).hexdigest() == certificate["payload_sha256"]

    signed = verify_by_hand(certificate["jws"], client.get("/.well-known/jwks.json").get_json())
    retired_at = datetime.fromisoformat(payload["retired_at"].replace("Z", "+00:00"))
    digest = base64.urlsafe_b64encode(bytes.fromhex(certificate["payload_sha256"])).rstrip(b"=").decode()
    assert signed == {"n": number, "q": 350_000, "b": batch["code"], "s": [[1, 350_000]],
                      "t": int(retired_at.timestamp()), "p": "personal", "h": digest}


def test_the_beneficiary_can_prove_the_certificate_names_them(app, operator, client, batch):
    """The certificate shows 张** and a salted hash; the salt (kept for the beneficiary, erasably) and the name open
    it."""
    number = retire(operator, batch, "cert-2")["certificate_no"]
    with Session(app.extensions["db_engine"]) as session:
        salt = session.execute(select(BeneficiaryName.salt).join(
            Certificate, Certificate.retirement_id == BeneficiaryName.retirement_id)
            .where(Certificate.number == number)).scalar_one()
    published = client.get(f"/api/v1/certificates/{number}").get_json()["payload"]["beneficiary"]["commitment"]
    assert commitment(salt, "张三丰") == published
    assert commitment(salt, "张三") != published


def test_numbers_run_on_in_one_series_with_the_year_of_issue_in_front(operator, clock, batch):
    """One series across years (a per-year counter was a row every retirement queued on): the year in front
    turns at midnight in Beijing, the number goes on."""
    assert retire(operator, batch, "a")["certificate_no"] == "TH2026-00000001"
    assert retire(operator, batch, "b")["certificate_no"] == "TH2026-00000002"
    clock.now = datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)  # midnight in Beijing: 2027 begins
    assert retire(operator, batch, "c")["certificate_no"] == "TH2027-00000003"


def test_a_replayed_retirement_gets_its_first_certificate_not_a_second(operator, batch):
    first = retire(operator, batch, "same-key")
    again = retire(operator, batch, "same-key")
    assert again["certificate_no"] == first["certificate_no"] and again["id"] == first["id"]
    assert retire(operator, batch, "next")["certificate_no"] == "TH2026-00000002"


@pytest.mark.parametrize("number", ["TH2026-00000099", "TH2026-1", "nonsense", "TH2026-00000001%00"])
def test_an_unknown_number_is_a_404_that_reveals_nothing(operator, client, batch, number):
    retire(operator, batch, "exists")
    error = refused(client.get(f"/api/v1/certificates/{number}"), 404, "not_found")
    assert error["message"] == "证书不存在 (no such certificate)" and "details" not in error

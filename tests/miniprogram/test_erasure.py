"""A citizen deletes her account (PIPL's right to erasure): the names tied to it are gone, and everything others
rely on still holds — her certificates verify and show the masked name they always showed, the ledger's invariants
and the audit chain hold, and WeChat can sign her in again only as a new, empty account.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text

from backend.audit.models import AuditEvent
from backend.db import read
from backend.ledger.models import Transfer
from backend.personal import leaderboard
from backend.personal.leaderboard import NATIONWIDE
from backend.privacy.models import BeneficiaryName
from tests.envelope import refused
from tests.miniprogram.conftest import Citizen


def fulfilled(citizen, fake_wechat, listing_id: int, quantity_g: int, **order) -> dict:
    placed = citizen.order(listing_id, quantity_g, **order)
    fake_wechat.pay(placed["order_no"])
    done = citizen.get(f"/orders/{placed['order_no']}").get_json()
    assert done["status"] == "fulfilled", done
    return done


def test_a_citizen_deletes_her_account_and_her_certificates_still_verify(app, client, shop, fake_wechat):
    lin = Citizen(client, "lin-xiaolv")
    assert lin.client.patch("/api/mp/v1/me", json={"nickname": "绿色小林", "real_name": "林小绿"},
                            headers=lin.headers).status_code == 200
    listing = shop["listing"]["id"]
    mine = fulfilled(lin, fake_wechat, listing, 200_000)
    gift = fulfilled(lin, fake_wechat, listing, 100_000, purpose="gift", beneficiary_name="林大山")

    # Before: her own list carries each certificate's name proof, which opens the published commitment.
    proofs = {r["certificate_no"]: r["name_proof"] for r in lin.get("/retirements").get_json()["items"]}
    for number, name in ((mine["certificate_no"], "林小绿"), (gift["certificate_no"], "林大山")):
        proof = proofs[number]
        published = client.get(f"/api/v1/certificates/{number}").get_json()["payload"]["beneficiary"]
        assert proof["name"] == name
        assert hashlib.sha256(f"{proof['salt']}:{name}".encode()).hexdigest() == published["commitment"]

    erased = lin.client.delete("/api/mp/v1/me", headers=lin.headers)
    assert erased.status_code == 200 and erased.get_json() == {"erased": True, "names": 2, "gift_orders": 1,
                                                               "footprints": 0, "family_members": 0,
                                                               "voucher_names": 0}  # no tree-duty records

    # Her sessions are over, and her names are nowhere in the database.
    refused(lin.get("/me"), 401, "session_expired")
    with app.app_context():
        kept = read(lambda s: s.execute(select(BeneficiaryName)).scalars().all())
        dump = read(lambda s: "\n".join(str(row) for table in ("mp_user", "purchase_order", "beneficiary_name",
                                                                  "retirement", "certificate", "audit_event")
                                        for row in s.execute(text(f"SELECT * FROM {table}")).all()))
    assert all(r.full_name is None and r.salt is None and r.erased_at is not None for r in kept)
    for name in ("林小绿", "林大山", "绿色小林", "lin-xiaolv"):
        assert name not in dump

    # Her certificates still verify, and show what they always showed.
    for number, masked in ((mine["certificate_no"], "林**"), (gift["certificate_no"], "林**")):
        record = client.get(f"/api/v1/certificates/{number}").get_json()
        assert record["record_check"]["genuine"] is True and record["status"] == "valid"
        assert record["payload"]["beneficiary"]["masked"] == masked
        page = client.get(f"/v/{number}?jws={record['jws']}")
        assert page.status_code == 200 and "真实有效" in page.get_data(as_text=True)

    # WeChat signs the same person in again: a new account with nothing of the old one.
    again = Citizen(client, "lin-xiaolv")
    assert again.login["user"]["id"] != lin.login["user"]["id"]
    assert again.get("/retirements").get_json()["items"] == []
    # She is off the leaderboards, in Redis now and in any rebuild from the database.
    assert lin.login["user"]["id"] not in [i["user_id"] for i in again.get("/leaderboard").get_json()["items"]]
    with app.app_context():
        assert lin.login["user"]["id"] not in read(lambda s: leaderboard.scores_from_database(s, NATIONWIDE))


def test_erasure_waits_for_unfinished_orders_and_kept_credits(client, shop, fake_wechat):
    wang = Citizen(client, "wang-da")
    listing = shop["listing"]["id"]
    unpaid = wang.order(listing, 100_000)
    refused(wang.client.delete("/api/mp/v1/me", headers=wang.headers), 409, "erasure_refused")
    fake_wechat.pay(unpaid["order_no"])
    assert wang.get(f"/orders/{unpaid['order_no']}").get_json()["status"] == "fulfilled"

    kept = fulfilled(wang, fake_wechat, listing, 100_000, purpose="keep")
    held = wang.client.delete("/api/mp/v1/me", headers=wang.headers)
    refused(held, 409, "erasure_refused")
    assert held.get_json()["error"]["details"] == {"open_orders": 0, "kept_g": 100_000}

    # She refunds what she kept; while WeChat is still refunding, the order is unfinished.
    assert wang.post(f"/orders/{kept['order_no']}/refund").get_json()["status"] == "refunding"
    refused(wang.client.delete("/api/mp/v1/me", headers=wang.headers), 409, "erasure_refused")
    fake_wechat.settle_refund(next(iter(fake_wechat.refunds)))
    assert wang.get(f"/orders/{kept['order_no']}").get_json()["status"] == "refunded"
    assert wang.client.delete("/api/mp/v1/me", headers=wang.headers).status_code == 200


def test_the_chain_records_which_profile_fields_changed_never_the_names(app, client, fake_wechat):
    zhao = Citizen(client, "zhao-xiao")
    zhao.client.patch("/api/mp/v1/me", json={"nickname": "小赵", "real_name": "赵小明"}, headers=zhao.headers)
    with app.app_context():
        events = read(lambda s: [(e.action, e.before, e.after) for e in s.execute(
            select(AuditEvent).where(AuditEvent.object_type == "mp_user")).scalars()])
    assert ("user.profile", None, {"changed": ["nickname", "real_name"]}) in events
    assert "小赵" not in str(events) and "赵小明" not in str(events)


def test_a_retirements_idempotency_hash_cannot_confirm_a_guessed_name(app, client, operator, shop):
    """The RETIRE transfer keeps a hash of its request for idempotency; the name in it is a keyed fingerprint, so
    hashing a guessed name the same way does not match without the app's secret."""
    from backend.ledger import engine

    retired = operator.ok(operator.post("/ledger/retirements", {
        "batch_id": shop["batch"]["id"], "holder": "platform", "amount_g": 1000, "purpose": "personal",
        "beneficiary_name": "张三丰"}, key="guess-me"), 201)
    with app.app_context():
        stored = read(lambda s: s.get(Transfer, retired["transfer_id"]).request_hash)
    plain = {"batch_id": shop["batch"]["id"], "from_holder": "platform", "to_holder": "platform",
             "amount_g": 1000, "actor": operator.actor, "purpose": "personal", "purpose_ref": None}
    for guess in ({**plain, "beneficiary_name": "张三丰"}, {**plain, "beneficiary": "张三丰"}):
        assert engine.request_hash("retire", guess) != stored
    # The same request again is still recognised: idempotency holds.
    again = operator.post("/ledger/retirements", {"batch_id": shop["batch"]["id"], "holder": "platform",
                                                  "amount_g": 1000, "purpose": "personal",
                                                  "beneficiary_name": "张三丰"}, key="guess-me")
    assert again.status_code == 201 and again.get_json()["id"] == retired["id"]


def test_a_token_still_in_flight_cannot_write_into_a_deleted_account(app, client, shop, fake_wechat, monkeypatch):
    """The account is erased first and its sessions ended after: a request that got past the session check in
    between (or a Redis blip that kept the session) finds the account gone, and writes nothing."""
    from backend.accounts import sessions

    qian = Citizen(client, "qian-duoduo")
    monkeypatch.setattr(sessions, "revoke_all", lambda user_id, now: 0)  # as if the session outlived the erasure
    assert qian.client.delete("/api/mp/v1/me", headers=qian.headers).status_code == 200
    refused(qian.client.patch("/api/mp/v1/me", json={"nickname": "钱多多"}, headers=qian.headers), 401,
            "session_expired")
    refused(qian.post("/orders", {"listing_id": shop["listing"]["id"], "quantity_g": 100_000, "purpose": "personal"},
                      key="after-erasure"), 401, "session_expired")
    refused(qian.get("/me"), 401, "session_expired")
    with app.app_context():
        assert read(lambda s: s.execute(text("SELECT nickname FROM mp_user")).scalars().all()) == [""]


def test_a_gift_orders_hash_cannot_confirm_its_erased_name(app, client, shop, fake_wechat):
    from backend.canonical import sha256_hex
    from backend.orders.models import Order

    sun = Citizen(client, "sun-li")
    placed = fulfilled(sun, fake_wechat, shop["listing"]["id"], 100_000, purpose="gift", beneficiary_name="孙小美")
    with app.app_context():
        digest = read(lambda s: s.execute(select(Order.request_hash).where(Order.order_no == placed["order_no"]))
                      .scalar_one())
    guess = {"listing_id": shop["listing"]["id"], "quantity_g": 100_000, "footprint_id": None, "purpose": "gift"}
    assert digest not in {sha256_hex({**guess, "beneficiary_name": "孙小美"}), sha256_hex({**guess, "beneficiary": "孙小美"})}
    assert sun.client.delete("/api/mp/v1/me", headers=sun.headers).status_code == 200
    with app.app_context():
        assert read(lambda s: s.execute(select(Order.request_hash, Order.beneficiary_name)).all()) == [("erased", None)]


def test_a_leaderboard_job_queued_before_the_erasure_keeps_her_off(app, client, shop, fake_wechat):
    from backend import jobs

    zhou = Citizen(client, "zhou-yi")
    fulfilled(zhou, fake_wechat, shop["listing"]["id"], 100_000)  # queues her board update
    assert zhou.client.delete("/api/mp/v1/me", headers=zhou.headers).status_code == 200
    with app.app_context():
        jobs.drain(app)
    other = Citizen(client, "wu-er")
    assert zhou.login["user"]["id"] not in [i["user_id"] for i in other.get("/leaderboard").get_json()["items"]]


def test_the_buyers_own_pdf_carries_the_name_proof_and_the_public_one_does_not(app, client, shop, fake_wechat):
    from io import BytesIO

    from pypdf import PdfReader

    he = Citizen(client, "he-ping")
    done = fulfilled(he, fake_wechat, shop["listing"]["id"], 100_000, purpose="gift", beneficiary_name="何安然")
    number = done["certificate_no"]
    salt = he.get("/retirements").get_json()["items"][0]["name_proof"]["salt"]

    def text(response) -> str:
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        pages = PdfReader(BytesIO(response.data)).pages
        return "".join(page.extract_text() for page in pages).replace("\n", "").replace("\x00", "")

    own = he.get(f"/certificates/{number}/certificate.pdf")
    assert own.headers["Cache-Control"] == "private, no-store"
    assert "何安然" in text(own) and salt in text(own)
    public = text(client.get(f"/api/v1/certificates/{number}/certificate.pdf"))
    assert "何安然" not in public and salt not in public
    refused(Citizen(client, "stranger").get(f"/certificates/{number}/certificate.pdf"), 404, "not_found")

"""The ledger through the operator's HTTP API (/api/admin/v1/ledger/*): what an operator's console or a script sees.

Each credit-moving POST carries an ``Idempotency-Key``: the same key with the same body returns the first result
(201, same transfer id, nothing new written); the same key with another body is a 409. Every bad field is a 400
naming it, never a 500. A batch of 100 t (serials 1 … 10^8) sits in the platform's inventory at the start of each
test; the invariants and the audit chain are checked after each by the ``app`` fixture.
"""

from __future__ import annotations

import json

import pytest

from tests.envelope import refused

TONNE = 1_000_000
QUANTITY = 100 * TONNE


class Desk:
    """The operator at the ledger desk: one batch, its accounts, its transfers."""

    def __init__(self, operator, batch: dict) -> None:
        self.op = operator
        self.batch = batch
        self.batch_id = batch["id"]

    def post(self, path: str, body=None, key: str | None = None, **kw):
        return self.op.post(f"/ledger{path}", body, key=key, **kw)

    def raw(self, path: str, data: bytes, key: str = "raw-key"):
        return self.op.client.post(f"/api/admin/v1/ledger{path}", data=data, content_type="application/json",
                                   headers={**self.op.headers, "Idempotency-Key": key})

    def done(self, response) -> dict:
        return self.op.ok(response, 201)

    def transfer(self, to: str, amount: int, key: str, frm: str = "platform"):
        return self.post("/transfers", {"batch_id": self.batch_id, "from_holder": frm, "to_holder": to,
                                        "amount_g": amount}, key=key)

    def reserve(self, to: str, amount: int, key: str, ttl: int | None = None):
        body = {"batch_id": self.batch_id, "from_holder": "platform", "to_holder": to, "amount_g": amount}
        if ttl is not None:
            body["ttl_seconds"] = ttl
        return self.post("/reservations", body, key=key)

    def retire(self, holder: str, amount: int, key: str, name: str = "张三丰", purpose: str = "personal", ref=None):
        body = {"batch_id": self.batch_id, "holder": holder, "amount_g": amount, "purpose": purpose,
                "beneficiary_name": name}
        if ref is not None:
            body["purpose_ref"] = ref
        return self.post("/retirements", body, key=key)

    def cancel(self, amount: int, key: str, reason: str = "与其他登记系统重复计算"):
        return self.post("/cancellations", {"batch_id": self.batch_id, "holder": "platform", "amount_g": amount,
                                            "reason": reason}, key=key)

    def balances(self) -> dict[tuple[str, str], int]:
        items = self.op.ok(self.op.get("/accounts", query_string={"batch_id": self.batch_id}))["items"]
        return {(a["holder"], a["kind"]): a["balance_g"] for a in items if a["balance_g"]}

    def transfers(self) -> list[dict]:
        return self.op.ok(self.op.get("/ledger/transfers", query_string={"batch_id": self.batch_id}))["items"]

    def supply(self) -> dict:
        return self.op.ok(self.op.get(f"/batches/{self.batch_id}"))

    def snapshot(self):
        return self.balances(), [t["id"] for t in self.transfers()]


@pytest.fixture
def desk(operator):
    """A batch of 100 t in the platform's inventory; org:1 owns the project, org:2 … org:5 are cooperatives."""
    batch = operator.registered_project(quantity_g=QUANTITY)["batch"]
    for n in range(2, 6):
        operator.ok(operator.post("/organisations", {"name": f"林业专业合作社{n}", "kind": "cooperative"}))
    return Desk(operator, batch)


# --- happy paths -------------------------------------------------------------------------------------------------

def test_a_citizen_reserves_pays_and_retires(desk, clock):
    """Reserve 350 kg for user 7 for 15 minutes, the payment arrives, post, user 7 retires it for 张三丰."""
    reservation = desk.done(desk.reserve("user:7", 350_000, "order-1001-reserve"))
    assert reservation["code"] == "RESERVE" and reservation["status"] == "pending"
    assert reservation["from"] == {"holder": "platform", "kind": "available"}
    assert reservation["to"] == {"holder": "platform", "kind": "reserved"}
    assert reservation["counterparty"] == "user:7"
    assert reservation["ranges"] == [[1, 350_000]]
    assert reservation["expires_at"] == "2026-03-12T09:15:00.000000Z"
    assert desk.balances() == {("platform", "available"): QUANTITY - 350_000, ("platform", "reserved"): 350_000}
    assert desk.supply()["available_g"] == QUANTITY - 350_000

    clock.advance(minutes=3)
    posted = desk.done(desk.post(f"/reservations/{reservation['id']}/post", {}, key="order-1001-post"))
    assert posted["code"] == "POST" and posted["pending_id"] == reservation["id"]
    assert posted["to"] == {"holder": "user:7", "kind": "available"}
    assert desk.op.ok(desk.op.get(f"/ledger/transfers/{reservation['id']}"))["status"] == "posted"

    retirement = desk.done(desk.retire("user:7", 350_000, "order-1001-retire"))
    assert retirement["holder"] == "user:7" and retirement["quantity_g"] == 350_000
    assert retirement["beneficiary_name"] == "张三丰" and retirement["beneficiary_masked"] == "张**"
    assert retirement["ranges"] == [[1, 350_000]] and retirement["status"] == "retired"
    assert desk.op.ok(desk.op.get(f"/ledger/retirements/{retirement['id']}")) == retirement
    assert desk.balances() == {("platform", "available"): QUANTITY - 350_000, ("user:7", "retired"): 350_000}
    assert desk.op.ok(desk.op.get("/ledger/check")) == {"ok": True, "violations": []}


def test_a_partial_post_and_a_void(desk):
    """An organiser's 10 t reservation is posted for 7.5 t; a second reservation is dropped altogether."""
    event = desk.done(desk.reserve("org:3", 10 * TONNE, "expo-reserve", ttl=3600))
    posted = desk.done(desk.post(f"/reservations/{event['id']}/post", {"amount_g": 7_500_000}, key="expo-post"))
    assert posted["amount_g"] == 7_500_000
    dropped = desk.done(desk.reserve("user:9", TONNE, "cart-9"))
    voided = desk.done(desk.post(f"/reservations/{dropped['id']}/void", {}, key="cart-9-void"))
    assert voided["code"] == "VOID" and voided["to"] == {"holder": "platform", "kind": "available"}
    assert desk.op.ok(desk.op.get(f"/ledger/transfers/{dropped['id']}"))["status"] == "voided"
    assert desk.balances() == {("platform", "available"): QUANTITY - 7_500_000, ("org:3", "available"): 7_500_000}
    # Each reservation resolves once.
    refused(desk.post(f"/reservations/{event['id']}/void", {}, key="expo-void"), 409, "reservation_resolved")
    refused(desk.post(f"/reservations/{dropped['id']}/post", {}, key="cart-9-post"), 409, "reservation_resolved")


def test_a_transfer_a_cancellation_and_corrections(desk):
    wrong = desk.done(desk.transfer("org:4", 3 * TONNE, "to-coop-9"))
    assert wrong["code"] == "TRANSFER" and wrong["ranges"] == [[1, 3 * TONNE]]
    fix = desk.done(desk.post(f"/transfers/{wrong['id']}/correct", {"reason": "收款单位填错"}, key="fix-coop-9"))
    assert fix["code"] == "CORRECT" and fix["corrects_id"] == wrong["id"] and fix["reason"] == "收款单位填错"
    assert fix["ranges"] == wrong["ranges"]
    refused(desk.post(f"/transfers/{wrong['id']}/correct", {"reason": "again"}, key="fix-again"), 409,
            "correction_refused")

    cancelled = desk.done(desk.cancel(5 * TONNE, "double-counted"))
    assert cancelled["code"] == "CANCEL" and cancelled["to"]["kind"] == "cancelled"
    assert desk.supply()["cancelled_g"] == 5 * TONNE

    desk.done(desk.transfer("user:5", 4 * TONNE, "to-defendant"))
    retirement = desk.done(desk.retire("user:5", 4 * TONNE, "judicial-1", name="李四", purpose="judicial",
                                       ref="(2026)川0129刑初12号"))
    desk.done(desk.post(f"/transfers/{retirement['transfer_id']}/correct", {"reason": "案号错误，依法院通知撤销"},
                        key="undo-judicial-1"))
    assert desk.op.ok(desk.op.get(f"/ledger/retirements/{retirement['id']}"))["status"] == "reversed"
    assert desk.balances() == {("platform", "available"): QUANTITY - 9 * TONNE, ("platform", "cancelled"): 5 * TONNE,
                               ("user:5", "available"): 4 * TONNE}

    issue = [t for t in desk.transfers() if t["code"] == "ISSUE"][0]
    refused(desk.post(f"/transfers/{issue['id']}/correct", {"reason": "no"}, key="undo-issue"), 409,
            "correction_refused")
    refused(desk.post("/transfers/9999/correct", {"reason": "no"}, key="undo-nothing"), 404, "not_found")
    refused(desk.post(f"/transfers/{wrong['id']}/correct", {}, key="no-reason"), 400, field="reason")


def test_an_expired_reservation_cannot_be_posted(desk, clock):
    reservation = desk.done(desk.reserve("user:8", 2 * TONNE, "late-order", ttl=900))
    clock.advance(minutes=15)
    refused(desk.post(f"/reservations/{reservation['id']}/post", {}, key="late-post"), 409, "reservation_expired")
    desk.done(desk.post(f"/reservations/{reservation['id']}/void", {}, key="late-void"))
    assert desk.balances() == {("platform", "available"): QUANTITY}


# --- idempotency -------------------------------------------------------------------------------------------------

def _replays(desk, path: str, body: dict, key: str) -> dict:
    """Send the request twice; the second answers 201 with the first's result and writes nothing."""
    first = desk.done(desk.post(path, body, key=key))
    before = desk.snapshot()
    again = desk.post(path, body, key=key)
    assert again.status_code == 201, again.get_json()
    assert again.get_json() == first
    assert desk.snapshot() == before
    return first


def test_every_operation_replays_to_its_first_result(desk):
    base = {"batch_id": desk.batch_id}
    moved = _replays(desk, "/transfers", {**base, "from_holder": "platform", "to_holder": "org:1",
                                         "amount_g": 1000}, "t-1")
    _replays(desk, "/cancellations", {**base, "holder": "platform", "amount_g": 500, "reason": "重复"}, "c-1")
    held = _replays(desk, "/reservations", {**base, "from_holder": "platform", "to_holder": "user:1",
                                           "amount_g": 300}, "r-1")
    _replays(desk, f"/reservations/{held['id']}/post", {"amount_g": 200}, "p-1")
    dropped = _replays(desk, "/reservations", {**base, "from_holder": "platform", "to_holder": "user:2",
                                              "amount_g": 70}, "r-2")
    _replays(desk, f"/reservations/{dropped['id']}/void", {}, "v-1")
    retired = _replays(desk, "/retirements", {**base, "holder": "user:1", "amount_g": 150, "purpose": "tree_duty",
                                             "purpose_ref": "2026", "beneficiary_name": "王五"}, "ret-1")
    _replays(desk, f"/transfers/{moved['id']}/correct", {"reason": "错了"}, "fix-1")
    assert retired["purpose"] == "tree_duty"
    assert desk.balances() == {("platform", "available"): QUANTITY - 500 - 200, ("platform", "cancelled"): 500,
                               ("user:1", "available"): 50, ("user:1", "retired"): 150}


def test_a_replay_after_the_state_moved_on_still_returns_the_first_result(desk):
    """A client retrying a post whose answer it lost gets the POST, even though the reservation is now resolved."""
    held = desk.done(desk.reserve("user:3", 100, "r-lost"))
    posted = desk.done(desk.post(f"/reservations/{held['id']}/post", {}, key="p-lost"))
    desk.done(desk.transfer("user:4", 100, "t-onward", frm="user:3"))
    assert desk.done(desk.post(f"/reservations/{held['id']}/post", {}, key="p-lost")) == posted


def test_the_same_key_with_another_request_is_refused(desk):
    first = desk.done(desk.transfer("org:1", 1000, "t-key"))
    before = desk.snapshot()
    for response in [desk.transfer("org:1", 1001, "t-key"),            # another amount
                     desk.transfer("org:2", 1000, "t-key"),            # another recipient
                     desk.cancel(1000, "t-key"),                       # another operation altogether
                     desk.reserve("org:1", 1000, "t-key"),
                     desk.transfer("org:2", 1000, "t-key", frm="org:9"),  # from someone with no credits at all
                     desk.post("/transfers", {"batch_id": 999_999, "from_holder": "platform", "to_holder": "org:1",
                                              "amount_g": 1000}, key="t-key"),  # of a batch that does not exist
                     desk.post("/reservations/999999/void", {}, key="t-key")]:  # of no reservation
        error = refused(response, 409, "idempotency_conflict")
        assert error["details"] == {"client_id": "t-key", "transfer_id": first["id"]}
    assert desk.snapshot() == before


def test_a_failed_request_does_not_use_up_its_key(desk):
    refused(desk.transfer("org:1", QUANTITY + 1, "t-retry"), 409, "insufficient_credits")
    assert desk.done(desk.transfer("org:1", QUANTITY, "t-retry"))["amount_g"] == QUANTITY


# --- bad input -----------------------------------------------------------------------------------------------------

BAD_AMOUNTS = [0, -5, 10**16, "100", 1.5, True, None, [100], {"g": 100}]


@pytest.mark.parametrize("path, body", [
    ("/transfers", {"from_holder": "platform", "to_holder": "org:1"}),
    ("/reservations", {"from_holder": "platform", "to_holder": "user:1"}),
    ("/retirements", {"holder": "platform", "purpose": "personal", "beneficiary_name": "张三"}),
    ("/cancellations", {"holder": "platform", "reason": "重复"}),
])
def test_a_bad_amount_is_a_400_naming_amount_g(desk, path, body):
    before = desk.snapshot()
    for n, amount in enumerate(BAD_AMOUNTS):
        response = desk.post(path, {"batch_id": desk.batch_id, **body, "amount_g": amount}, key=f"bad-{n}")
        refused(response, 400, "invalid_request", "amount_g")
    assert desk.snapshot() == before


def test_a_bad_post_amount_is_a_400_naming_amount_g(desk):
    held = desk.done(desk.reserve("user:1", 1000, "r-1"))
    for n, amount in enumerate([0, -5, 10**16, "100", 1.5, True, 1001]):
        refused(desk.post(f"/reservations/{held['id']}/post", {"amount_g": amount}, key=f"p-{n}"), 400,
                field="amount_g")
    assert desk.op.ok(desk.op.get(f"/ledger/transfers/{held['id']}"))["status"] == "pending"
    refused(desk.post("/reservations/9999/post", {}, key="p-x"), 404, "not_found")
    refused(desk.post(f"/reservations/{held['id']}/void", {"why": "x"}, key="v-x"), 400, field="why")
    first_transfer = desk.transfers()[-1]  # the ISSUE: no reservation
    refused(desk.post(f"/reservations/{first_transfer['id']}/post", {}, key="p-issue"), 404, "not_found")


@pytest.mark.parametrize("field, value", [
    ("from_holder", "bob"), ("from_holder", "registry"), ("from_holder", "user:0"), ("from_holder", "org:-1"),
    ("from_holder", 7), ("to_holder", "user:"), ("to_holder", "User:1"), ("to_holder", " platform x"),
    ("batch_id", 0), ("batch_id", -1), ("batch_id", "1"), ("batch_id", 1.0),
])
def test_a_bad_field_is_a_400_naming_it(desk, field, value):
    body = {"batch_id": desk.batch_id, "from_holder": "platform", "to_holder": "org:1", "amount_g": 1000}
    body[field] = value
    refused(desk.post("/transfers", body, key="bad-field"), 400, "invalid_request", field)
    assert len(desk.transfers()) == 1


def test_missing_and_unknown_fields_are_named(desk):
    refused(desk.post("/transfers", {"batch_id": desk.batch_id, "from_holder": "platform", "amount_g": 1},
                      key="k1"), 400, field="to_holder")
    error = refused(desk.post("/transfers", {"batch_id": desk.batch_id, "from_holder": "platform",
                                             "to_holder": "org:1", "amount_g": 1, "memo": "hi"}, key="k2"),
                    400, field="memo")
    assert "memo" in error["message"]
    refused(desk.post("/retirements", {"batch_id": desk.batch_id, "holder": "platform", "amount_g": 1,
                                       "purpose": "gift", "beneficiary_name": "张三"}, key="k3"), 400, field="purpose")
    refused(desk.post("/retirements", {"batch_id": desk.batch_id, "holder": "platform", "amount_g": 1,
                                       "purpose": "personal", "beneficiary_name": "  "}, key="k4"), 400,
            field="beneficiary_name")
    refused(desk.post("/cancellations", {"batch_id": desk.batch_id, "holder": "platform", "amount_g": 1},
                      key="k5"), 400, field="reason")
    for ttl in (0, 7 * 86400 + 1, "900"):
        refused(desk.post("/reservations", {"batch_id": desk.batch_id, "from_holder": "platform",
                                            "to_holder": "user:1", "amount_g": 1, "ttl_seconds": ttl}, key="k6"),
                400, field="ttl_seconds")
    refused(desk.transfer("platform", 1, "k7"), 400, field="to_holder")  # to oneself
    assert len(desk.transfers()) == 1


def test_bodies_that_are_not_a_json_object_are_refused(desk):
    for data in [b"{", b'{"batch_id": 1,}', b"\xff\xfe", b"NaN-ish", b"{'single': 'quotes'}"]:
        refused(desk.raw("/transfers", data), 400, "invalid_json", "body")
    for data in [b"[]", b'"text"', b"5", b"null", b"true", b"[{\"batch_id\": 1}]"]:
        refused(desk.raw("/transfers", data), 400, "invalid_request", "body")
    # An empty body is an empty object: every required field is named.
    error = refused(desk.raw("/transfers", b""), 400, "invalid_request")
    assert {d["field"] for d in error["details"]} == {"batch_id", "from_holder", "to_holder", "amount_g"}
    assert len(desk.transfers()) == 1


def test_an_oversized_body_is_refused_before_parsing(desk):
    body = json.dumps({"batch_id": desk.batch_id, "from_holder": "platform", "to_holder": "org:1",
                       "amount_g": 1, "pad": "x" * 70_000}).encode()
    refused(desk.raw("/transfers", body), 400, field="body")


def test_a_deeply_nested_body_is_a_400_not_a_500(desk):
    """JSON nested deeper than the parser's recursion limit is malformed input, not a server error."""
    refused(desk.raw("/transfers", b"[" * 30_000), 400, field="body")
    refused(desk.raw("/transfers", b'{"a":' * 20_000 + b"1" + b"}" * 20_000), 400, field="body")


def test_an_unknown_batch_is_404(desk):
    for path, body in [("/transfers", {"from_holder": "platform", "to_holder": "org:1"}),
                       ("/reservations", {"from_holder": "platform", "to_holder": "org:1"}),
                       ("/retirements", {"holder": "platform", "purpose": "other", "beneficiary_name": "张三"}),
                       ("/cancellations", {"holder": "platform", "reason": "x"})]:
        error = refused(desk.post(path, {"batch_id": 999, "amount_g": 1, **body}, key="no-batch"), 404, "not_found")
        assert error["details"] == {"batch_id": 999}


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**20])
def test_a_batch_id_too_large_for_any_row_is_refused_never_a_500(desk, huge):
    """A batch id beyond the column's range is bad input (400 naming batch_id) or simply unknown (404). Today the
    schema sets no upper bound, so it reaches the database (OverflowError on SQLite, 'integer out of range' on
    PostgreSQL) and comes back as a 500."""
    response = desk.post("/transfers", {"batch_id": huge, "from_holder": "platform", "to_holder": "org:1",
                                        "amount_g": 1}, key="huge")
    assert response.status_code in (400, 404), response.get_json()
    if response.status_code == 400:
        refused(response, 400, field="batch_id")
    listing = desk.op.get("/accounts", query_string={"batch_id": huge})
    assert listing.status_code in (200, 400), listing.get_json()


def test_an_organisation_id_too_large_for_any_row_is_an_unknown_holder_never_a_500(desk):
    """The holder pattern allows 18 digits; PostgreSQL's integer does not. Found by tests/test_api_fuzz.py: the
    look-up of org:936629699120307169 failed with 'integer out of range' (a 500) on PostgreSQL."""
    response = desk.transfer("org:936629699120307169", 977, "huge-org")
    refused(response, 400, field="to_holder")
    response = desk.reserve("org:936629699120307169", 977, "huge-org-reserve")
    refused(response, 400, field="to_holder")


def test_the_idempotency_key_is_required(desk):
    body = {"batch_id": desk.batch_id, "from_holder": "platform", "to_holder": "org:1", "amount_g": 1}
    for path in ("/transfers", "/reservations"):
        refused(desk.post(path, body), 400, "invalid_request", "Idempotency-Key")
    assert len(desk.transfers()) == 1


def test_keys_of_the_orders_own_transfers_are_reserved(desk):
    """An operator's key must never replay or block a mini-program order's transfer, nor hide a reservation from
    ``ledger sweep`` (which leaves order reservations to the order sweeper)."""
    body = {"batch_id": desk.batch_id, "from_holder": "platform", "to_holder": "org:1", "amount_g": 1,
            "ttl_seconds": 60}
    error = refused(desk.post("/reservations", body, key="order:TH2026031200000000000A:post"), 400,
                    "invalid_request", "Idempotency-Key")
    assert "reserved for orders" in error["message"]
    refused(desk.post("/reservations", body, key="ORDER:anything"), 400, "invalid_request", "Idempotency-Key")
    assert len(desk.transfers()) == 1


def test_not_enough_credits_is_a_409_saying_how_many(desk):
    error = refused(desk.transfer("org:1", QUANTITY + 1, "too-much"), 409, "insufficient_credits")
    assert error["details"] == {"holder": "platform", "batch_id": desk.batch_id, "kind": "available",
                                "requested_g": QUANTITY + 1, "balance_g": QUANTITY}
    error = refused(desk.transfer("org:2", 1, "from-nobody", frm="org:1"), 409, "insufficient_credits")
    assert error["details"]["holder"] == "org:1" and error["details"]["balance_g"] == 0

    desk.done(desk.reserve("user:1", QUANTITY - 10, "almost-all"))
    error = refused(desk.retire("platform", 11, "retire-11"), 409, "insufficient_credits")
    assert error["details"]["balance_g"] == 10 and error["details"]["requested_g"] == 11
    assert desk.balances() == {("platform", "available"): 10, ("platform", "reserved"): QUANTITY - 10}


# --- who holds a serial --------------------------------------------------------------------------------------------

def test_the_public_serial_lookup_shows_the_masked_beneficiary_only(desk, client):
    desk.done(desk.transfer("user:7", 2 * TONNE, "to-user-7"))
    retirement = desk.done(desk.retire("user:7", TONNE, "retire-7", name="张三丰"))
    code = desk.batch["code"]

    response = client.get(f"/api/v1/batches/{code}/serials/123456")
    assert response.status_code == 200, response.get_json()
    found = response.get_json()
    assert found["batch_code"] == code and found["serial"] == 123456
    assert found["kind"] == "retired" and found["range"] == [1, TONNE]
    assert found["retirement"]["beneficiary_masked"] == "张**"
    assert found["retirement"]["id"] == retirement["id"] and found["retirement"]["ranges"] == [[1, TONNE]]
    text = response.get_data(as_text=True)
    assert "张三丰" not in text and "三丰" not in text and "user:7" not in text
    assert "holder" not in found and "beneficiary_name" not in found["retirement"]

    admin = desk.op.ok(desk.op.get(f"/batches/{desk.batch_id}/serials/123456"))
    assert admin["holder"] == "user:7" and admin["kind"] == "retired"
    assert admin["retirement"]["beneficiary_name"] == "张三丰" and admin["retirement"]["holder"] == "user:7"

    # Serials still in someone's hands show the kind only, publicly.
    held = client.get(f"/api/v1/batches/{code}/serials/{TONNE + 1}").get_json()
    assert held["kind"] == "available" and "holder" not in held and "retirement" not in held
    assert desk.op.ok(desk.op.get(f"/batches/{desk.batch_id}/serials/{TONNE + 1}"))["holder"] == "user:7"
    assert desk.op.ok(desk.op.get(f"/batches/{desk.batch_id}/serials/{QUANTITY}"))["holder"] == "platform"


def test_an_organisation_beneficiary_is_masked_too(desk, client):
    desk.done(desk.retire("platform", 500, "org-retire", name="四川某某林业开发有限公司", purpose="event",
                          ref="2026成都马拉松"))
    found = client.get(f"/api/v1/batches/{desk.batch['code']}/serials/1").get_json()
    assert found["retirement"]["beneficiary_masked"] == "某某有限公司"
    assert "林业开发" not in json.dumps(found, ensure_ascii=False)


def test_serials_outside_the_batch_or_of_unknown_batches_are_404(desk, client):
    code = desk.batch["code"]
    for serial in (0, QUANTITY + 1):
        refused(client.get(f"/api/v1/batches/{code}/serials/{serial}"), 404, "not_found")
        refused(desk.op.get(f"/batches/{desk.batch_id}/serials/{serial}"), 404, "not_found")
    refused(client.get(f"/api/v1/batches/{code}/serials/-1"), 404)
    refused(client.get("/api/v1/batches/SC-FOR-000000-0000-2023-01/serials/1"), 404, "not_found")
    refused(desk.op.get("/batches/999/serials/1"), 404, "not_found")


@pytest.mark.parametrize("huge", [2**63, 10**20])
def test_a_serial_too_large_for_any_batch_is_404_not_500(desk, client, huge):
    refused(client.get(f"/api/v1/batches/{desk.batch['code']}/serials/{huge}"), 404)
    refused(desk.op.get(f"/batches/{desk.batch_id}/serials/{huge}"), 404)


def test_the_ledger_api_needs_the_operator_token(desk, client):
    body = {"batch_id": desk.batch_id, "from_holder": "platform", "to_holder": "org:1", "amount_g": 1}
    refused(client.post("/api/admin/v1/ledger/transfers", json=body, headers={"Idempotency-Key": "x"}), 401,
            "unauthorized")
    refused(client.get("/api/admin/v1/ledger/transfers"), 401, "unauthorized")
    refused(client.get("/api/admin/v1/ledger/check", headers={"Authorization": "Bearer nope"}), 401)
    assert len(desk.transfers()) == 1


def test_a_nul_character_is_a_400_naming_the_field_on_every_store(desk, client):
    """PostgreSQL text cannot hold U+0000: refused at the edge as bad input, the same on SQLite."""
    refused(desk.retire("platform", 10, "nul-1", name="张\u0000三"), 400, field="beneficiary_name")
    refused(desk.cancel(10, "nul-2", reason="重复\u0000计算"), 400, field="reason")
    assert client.get(f"/api/v1/batches/{desk.batch['code']}%00/serials/1").status_code == 404
    assert client.get("/api/v1/batches/%00/serials/1").status_code == 404
    assert desk.balances() == {("platform", "available"): QUANTITY}


def test_credits_go_only_to_organisations_that_exist(desk):
    """A typo in a holder must not mint an orphan account: the receiving organisation has to be registered."""
    refused(desk.transfer("org:77", 10, "typo-1"), 400, field="to_holder")
    refused(desk.reserve("org:77", 10, "typo-2"), 400, field="to_holder")
    assert desk.balances() == {("platform", "available"): QUANTITY}
    desk.done(desk.transfer("org:5", 10, "fine"))


def test_a_suspended_projects_credits_are_frozen_until_it_is_reinstated(desk):
    """Suspension stops sales, gifts and claims; what was already reserved can still be settled or released."""
    held = desk.done(desk.reserve("org:2", 5, "before-suspension"))
    project_id = desk.batch["project_id"]
    desk.op.ok(desk.op.post(f"/projects/{project_id}/suspend", {"reason": "核查监测数据 (data under review)"}))
    refused(desk.reserve("org:2", 5, "during-1"), 409, "project_not_registered")
    refused(desk.transfer("org:2", 5, "during-2"), 409, "project_not_registered")
    refused(desk.retire("platform", 5, "during-3"), 409, "project_not_registered")
    desk.done(desk.post(f"/reservations/{held['id']}/void", {}, key="release"))
    desk.done(desk.cancel(5, "withdrawn"))
    desk.op.ok(desk.op.post(f"/projects/{project_id}/reinstate", {"reason": "核查通过 (review passed)"}))
    desk.done(desk.retire("platform", 5, "after"))


def test_posting_all_of_a_reservation_is_one_request_however_it_is_spelled(desk):
    """A retry that names the full amount instead of leaving it out is the same request, not a conflict."""
    held = desk.done(desk.reserve("org:2", 40, "to-post"))
    first = desk.done(desk.post(f"/reservations/{held['id']}/post", {}, key="pay-1"))
    again = desk.done(desk.post(f"/reservations/{held['id']}/post", {"amount_g": 40}, key="pay-1"))
    assert again["id"] == first["id"]

"""The README's walk-through over real HTTP: the app served on 127.0.0.1, the fake WeChat on another port, its
notification POSTed across the socket by the fake itself, exactly as with ``flask --app backend serve`` and curl."""

from __future__ import annotations

import threading

import pytest
import requests
from werkzeug.serving import make_server


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["WECHATPAY_NOTIFY_URL"] = base + "/api/pay/wechat/notify"  # before the WeChat clients are built
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


def test_login_quote_order_pay_certificate_with_nothing_but_http(served, operator, shop):
    code = requests.post(f"{served}/api/dev/wx-login", json={"person": "demo-user"}, timeout=10).json()["code"]
    token = requests.post(f"{served}/api/mp/v1/auth/login", json={"code": code}, timeout=10).json()["token"]
    again = requests.post(f"{served}/api/mp/v1/auth/login", json={"code": code}, timeout=10)
    assert again.status_code == 400 and again.json()["error"]["code"] == "login_refused"  # a code works once
    me = {"Authorization": f"Bearer {token}"}
    listing = requests.get(f"{served}/api/mp/v1/listings", timeout=10).json()["items"][0]
    quote = requests.post(f"{served}/api/mp/v1/quotes", json={"listing_id": listing["id"], "quantity_g": 1_000_000},
                          timeout=10).json()
    assert quote["amount_fen"] == 8_000
    order = requests.post(f"{served}/api/mp/v1/orders", headers={**me, "Idempotency-Key": "walk-1"}, timeout=10,
                          json={"listing_id": listing["id"], "quantity_g": 1_000_000, "purpose": "personal"}).json()
    paid = requests.post(f"{served}/api/dev/pay/{order['order_no']}", timeout=10).json()
    assert paid["notification_status"] == 200  # the fake's own HTTP POST reached our notify URL
    done = requests.get(f"{served}/api/mp/v1/orders/{order['order_no']}", headers=me, timeout=10).json()
    assert done["status"] == "fulfilled"
    certificate = requests.get(f"{served}/api/v1/certificates/{done['certificate_no']}", timeout=10).json()
    assert certificate["record_check"]["genuine"] is True and certificate["payload"]["quantity_g"] == 1_000_000
    again = requests.post(f"{served}/api/dev/pay/{order['order_no']}", timeout=10)
    assert again.status_code == 409 and again.json()["error"]["code"] == "fake_pay_refused"

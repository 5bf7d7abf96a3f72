"""Fixtures for the mini-program: the fake WeChat (delivering its notifications into the test client), a shop with
one listing, and citizens who log in and buy."""

from __future__ import annotations

import itertools
from urllib.parse import urlsplit

import pytest

from backend import wechat

PRICE_FEN_PER_T = 8_000  # 80 yuan a tonne
_serial = itertools.count(1)  # people and idempotency keys, unique within a run


@pytest.fixture
def fake_wechat(app, client):
    """The app's fake WeChat. Its notifications are POSTed into the test client, as WeChat would POST them.

    Afterwards no request may have crashed the fake: a 500 from it is a bug in the fake, never WeChat refusing.
    """
    with app.app_context():
        fake = wechat.fake_server()

    def deliver(notification) -> int:
        response = client.post(urlsplit(notification.url).path, data=notification.body, headers=notification.headers)
        return response.status_code

    fake.sender = deliver
    yield fake
    assert fake.crashes == [], fake.crashes


def wx_login(client, person: str) -> str:
    """What wx.login() gives ``person``'s phone: a fresh code from (the fake) WeChat, good once for 5 minutes."""
    with client.application.app_context():
        return wechat.fake_server().login_code(person)


class Citizen:
    """Someone with the mini-program: logs in with a fresh wx.login code, then calls /api/mp/v1 with the token.
    The same ``person`` is the same WeChat user (one openid) however often they log in."""

    def __init__(self, client, person: str | None = None) -> None:
        self.client = client
        self.person = person or f"citizen-{next(_serial)}"
        response = client.post("/api/mp/v1/auth/login", json={"code": wx_login(client, self.person)})
        assert response.status_code == 200, response.get_json()
        self.login = response.get_json()
        self.token = self.login["token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw):
        return self.client.get(f"/api/mp/v1{path}", headers=self.headers, **kw)

    def post(self, path: str, json=None, *, key: str | None = None, **kw):
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(f"/api/mp/v1{path}", json=json if json is not None else {}, headers=headers, **kw)

    def order(self, listing_id: int, quantity_g: int, *, purpose: str = "personal", key: str | None = None,
              **extra) -> dict:
        response = self.post("/orders", {"listing_id": listing_id, "quantity_g": quantity_g, "purpose": purpose,
                                         **extra}, key=key or f"order-{next(_serial)}")
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def shop(operator):
    """A registered project whose 1 t batch is on sale at 80 yuan a tonne."""
    made = operator.registered_project(quantity_g=1_000_000)
    listing = operator.ok(operator.post("/listings", {"batch_id": made["batch"]["id"],
                                                      "price_fen_per_t": PRICE_FEN_PER_T, "title": "测试林场碳汇"}))
    return {**made, "listing": listing}


@pytest.fixture
def citizen(client, fake_wechat):
    return Citizen(client)


@pytest.fixture
def paid_order(shop, citizen, fake_wechat):
    """An order the citizen has paid at WeChat, whose notification has not been delivered yet."""
    order = citizen.order(shop["listing"]["id"], 250_000)
    genuine = fake_wechat.pay(order["order_no"], deliver=False)
    return {**order, "genuine": genuine, "resource": fake_wechat.transaction(order["order_no"])}

"""Logging in with WeChat: a wx.login code becomes an opaque session token; WeChat's session_key is dropped.

Every login takes a fresh code from the phone's wx.login (``wx_login``): WeChat takes each code once, within five
minutes, and the fake WeChat holds the app to that as WeChat would.
"""

from __future__ import annotations

import json

from backend.cache import get_redis
from backend.wechat.miniapp import MiniApp
from tests.envelope import refused
from tests.miniprogram.conftest import Citizen, wx_login


def login(client, code):
    return client.post("/api/mp/v1/auth/login", json={"code": code})


def test_a_good_code_logs_in_and_the_same_person_is_the_same_user(client, fake_wechat):
    first = login(client, wx_login(client, "alice"))
    assert first.status_code == 200
    body = first.get_json()
    assert set(body) == {"token", "expires_in", "user"} and body["expires_in"] == 7 * 86400
    assert "session_key" not in json.dumps(body) and "openid" not in json.dumps(body)
    again = login(client, wx_login(client, "alice")).get_json()  # her tablet: another code, the same openid
    assert again["user"]["id"] == body["user"]["id"] and again["token"] != body["token"]
    assert login(client, wx_login(client, "bob")).get_json()["user"]["id"] != body["user"]["id"]
    me = client.get("/api/mp/v1/me", headers={"Authorization": f"Bearer {body['token']}"}).get_json()
    # A new mini-program is bound to no open-platform account, so WeChat sends no unionid and none is invented.
    assert me["holder"] == f"user:{body['user']['id']}" and me["has_unionid"] is False


def test_the_unionid_is_kept_once_the_app_is_bound_to_an_open_platform_account(client, fake_wechat):
    token = login(client, wx_login(client, "alice")).get_json()["token"]
    fake_wechat.bound_to_open_platform = True
    again = login(client, wx_login(client, "alice")).get_json()["token"]
    for session in (token, again):
        assert client.get("/api/mp/v1/me", headers={"Authorization": f"Bearer {session}"}).get_json()[
            "has_unionid"] is True


def test_a_code_is_good_for_one_login_only(client, fake_wechat):
    code = wx_login(client, "alice")
    assert login(client, code).status_code == 200
    # A retry with the same code (the mini-program resending the request) is WeChat's 40163: the user's 400.
    error = refused(login(client, code), 400, "login_refused", field="code")
    assert "code already used" in error["message"]


def test_a_code_older_than_five_minutes_is_refused(client, clock, fake_wechat):
    code = wx_login(client, "alice")
    clock.advance(minutes=5, seconds=1)
    error = refused(login(client, code), 400, "login_refused", field="code")
    assert "invalid code" in error["message"]
    assert login(client, wx_login(client, "alice")).status_code == 200  # wx.login again, and all is well


def test_a_code_wx_login_never_issued_is_refused(client, fake_wechat):
    refused(login(client, "made-up-code"), 400, "login_refused", field="code")


def test_the_token_is_kept_only_as_a_hash_and_the_session_key_not_at_all(app, client, fake_wechat, monkeypatch):
    """WeChat's session_key decrypts the user's signed data; nothing here needs it, so nothing keeps it."""
    seen = []
    exchange = MiniApp.code_to_session
    monkeypatch.setattr(MiniApp, "code_to_session", lambda self, code: seen.append(exchange(self, code)) or seen[-1])
    token = login(client, wx_login(client, "carol")).get_json()["token"]
    with app.app_context():
        redis = get_redis()
        stored = [(name, redis.get(name)) for name in redis.scan_iter(match=app.config["REDIS_KEY_PREFIX"] + "*")
                  if redis.type(name) == "string"]
    assert seen and stored
    assert not any(token in f"{name} {value}" for name, value in stored)
    assert not any(seen[0].session_key in f"{name} {value}" for name, value in stored)


def test_a_code_wechat_refuses_is_a_400_naming_the_code(client, fake_wechat):
    for errcode in (40029, 40163, 40226):
        fake_wechat.fail_next("/sns/jscode2session", errcode, "refused")
        response = login(client, "looks-fine")
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert (error["code"], error["details"][0]["field"]) == ("login_refused", "code")
    for malformed in ("has space", "x" * 65, "", "路"):
        response = login(client, malformed)
        assert response.status_code == 400 and response.get_json()["error"]["details"][0]["field"] == "code"
    assert login(client, 40029).get_json()["error"]["details"][0]["field"] == "code"


def test_wechat_being_down_is_a_503_not_a_500(client, fake_wechat):
    fake_wechat.fail_next("/sns/jscode2session", -1, "system error")
    response = login(client, "dave")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "wechat_unavailable"


def test_logins_are_rate_limited_per_client(app, client, fake_wechat):
    app.config["MP_LOGIN_RATE_LIMIT_PER_MINUTE"] = 3
    assert [login(client, wx_login(client, f"u{n}")).status_code for n in range(4)] == [200, 200, 200, 429]
    app.config["CLOCK"].advance(minutes=1)
    assert login(client, wx_login(client, "u5")).status_code == 200


def test_logout_ends_the_session_and_refresh_swaps_the_token(client, fake_wechat):
    citizen = Citizen(client, "erin")
    old = citizen.token
    refreshed = citizen.post("/auth/refresh").get_json()
    assert refreshed["token"] != old
    assert citizen.get("/me").status_code == 401  # the old token stopped working at once
    citizen.token = refreshed["token"]
    assert citizen.get("/me").status_code == 200
    assert citizen.post("/auth/logout").status_code == 200
    response = citizen.get("/me")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "session_expired"


def test_no_token_or_a_made_up_token_is_a_401(client):
    assert client.get("/api/mp/v1/me").status_code == 401
    assert client.get("/api/mp/v1/me", headers={"Authorization": "Bearer made-up"}).status_code == 401
    assert client.get("/api/mp/v1/me", headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_profile_text_passes_the_content_check_and_the_real_name_is_shown_masked(client, fake_wechat):
    citizen = Citizen(client, "frank")
    response = client.patch("/api/mp/v1/me", headers=citizen.headers, json={
        "nickname": "绿色小林", "real_name": "林小绿", "region": "510104",
        "avatar_url": "https://thirdwx.qlogo.cn/mmopen/abc/132"})
    assert response.status_code == 200, response.get_json()
    shown = response.get_json()
    assert (shown["nickname"], shown["real_name_masked"], shown["region"]) == ("绿色小林", "林**", "510104")
    assert "林小绿" not in json.dumps(shown, ensure_ascii=False)
    refused = client.patch("/api/mp/v1/me", headers=citizen.headers, json={"nickname": "赌博专家"})
    assert refused.status_code == 400
    assert (refused.get_json()["error"]["code"], refused.get_json()["error"]["details"][0]["field"]) == (
        "content_refused", "nickname")
    for body, field in (({"region": "999999"}, "region"), ({"avatar_url": "http://x.cn/a.png"}, "avatar_url"),
                        ({"nickname": None}, "nickname"), ({}, "body"), ({"openid": "o123"}, "openid"),
                        ({"nickname": "x" * 33}, "nickname")):
        response = client.patch("/api/mp/v1/me", headers=citizen.headers, json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["details"][0]["field"] == field, (body, response.get_json())
    assert client.get("/api/mp/v1/me", headers=citizen.headers).get_json()["nickname"] == "绿色小林"

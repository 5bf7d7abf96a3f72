"""WeChat: the mini-program server APIs (wechatpy) and WeChat Pay APIv3 (wechatpayv3), real or faked.

With ``WECHAT_MODE=fake`` (the embedded default and the tests) the first use starts the local fake WeChat
(``backend.wechat.fake``) on 127.0.0.1 inside this process and builds both clients against it, with the fake's
freshly made keys; ``live`` builds the same clients from the WECHAT_* / WECHATPAY_* settings. Nothing else in the
code knows which it is talking to.

Only one process per database may run the fake (``fake_lock``): a second one is refused with a 503 that says
where the fake runs, rather than starting a fake of its own whose keys and orders disagree with the first.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from backend.cache import get_redis
from backend.wechat.fake_lock import FakeWeChatElsewhere, FakeWeChatLock
from backend.wechat.miniapp import MiniApp
from backend.wechat.pay import Pay, PayCredentials


class WeChat:
    """One app's WeChat clients, built on first use (starting the fake takes a moment and most requests never
    need it)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.fake = None
        self._miniapp: MiniApp | None = None
        self._pay: Pay | None = None
        self._lock = threading.Lock()
        self._fake_lock: FakeWeChatLock | None = None

    def _build(self, redis_client) -> None:
        config = self.config
        if config["WECHAT_MODE"] == "fake":
            from backend.wechat.fake import FakeWeChat

            # The app names its own notify URL, http on loopback in development and tests (settings refuse that in
            # production): WeChat would never accept it, this fake may, because it can reach 127.0.0.1.
            fake = FakeWeChat(clock=config["CLOCK"], allow_loopback_http_notify=True).start()
            lock = FakeWeChatLock(config["DATABASE_URL"])
            try:
                lock.acquire(f"fake WeChat at {fake.url}")
            except FakeWeChatElsewhere:
                fake.close()
                raise
            self._fake_lock = lock
            fake.auto_settle_refunds = config["APP_ENV"] == "development"
            appid, secret, api_base = fake.appid, fake.secret, fake.url
            credentials = PayCredentials(
                appid=fake.appid, mchid=fake.mchid, private_key_pem=fake.merchant_private_key_pem,
                cert_serial_no=fake.merchant_serial_no, apiv3_key=fake.apiv3_key,
                public_key_pem=fake.platform_public_key_pem, public_key_id=fake.public_key_id, gateway=fake.url,
                notify_url=config["WECHATPAY_NOTIFY_URL"])
            self.fake = fake
        else:
            appid, secret, api_base = config["WECHAT_APPID"], config["WECHAT_APP_SECRET"], config["WECHAT_API_BASE"]
            credentials = PayCredentials(
                appid=appid, mchid=config["WECHATPAY_MCHID"],
                private_key_pem=Path(config["WECHATPAY_PRIVATE_KEY_FILE"]).read_text(),
                cert_serial_no=config["WECHATPAY_CERT_SERIAL_NO"], apiv3_key=config["WECHATPAY_APIV3_KEY"],
                public_key_pem=Path(config["WECHATPAY_PUBLIC_KEY_FILE"]).read_text(),
                public_key_id=config["WECHATPAY_PUBLIC_KEY_ID"], gateway=config["WECHATPAY_GATEWAY"],
                notify_url=config["WECHATPAY_NOTIFY_URL"])
        self._miniapp = MiniApp(appid, secret, base_url=api_base, redis_client=redis_client,
                                key_prefix=config["REDIS_KEY_PREFIX"])
        self._pay = Pay(credentials)

    def ready(self) -> WeChat:
        if self._pay is None:
            with self._lock:
                if self._pay is None:
                    self._build(get_redis())
        return self

    def close(self) -> None:
        if self.fake is not None:
            self.fake.close()
        if self._fake_lock is not None:
            self._fake_lock.release()


def init_app(app: Flask) -> None:
    app.extensions["wechat"] = WeChat(app.config)


def _wechat() -> WeChat:
    return current_app.extensions["wechat"].ready()


def miniapp() -> MiniApp:
    return _wechat()._miniapp


def code_response(scene: str, page: str):
    """A 小程序码 opening ``page`` with ``scene``, as WeChat made it (JPEG, or PNG), for an organisation's people to
    print: private, not cached by shared caches. The caller has checked the record it opens is theirs."""
    from flask import make_response

    image, mimetype = miniapp().mini_program_code(scene, page=page)
    response = make_response(image)
    response.mimetype = mimetype
    response.cache_control.private = True
    return response


def pay() -> Pay:
    return _wechat()._pay


def fake_server():
    """The in-process fake WeChat (``WECHAT_MODE=fake`` only), or None."""
    return _wechat().fake

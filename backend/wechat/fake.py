"""A local WeChat: the mini-program server APIs and WeChat Pay APIv3, served over real HTTP on 127.0.0.1.

The embedded development mode and the tests point the unmodified ``wechatpy`` and ``wechatpayv3`` clients at
``FakeWeChat.url``. The fake behaves like the platform where the app can tell: it checks access tokens and the
merchant's request signatures, signs every APIv3 response with a platform key (so wechatpayv3's verification runs
for real), and pays and refunds by POSTing encrypted, signed notifications like WeChat does.

It refuses what WeChat refuses, so that tests catch what live would (each rule cites where WeChat says so):
a ``wx.login`` code is issued by ``login_code`` (the phone's side), works once and lapses after five minutes;
``unionid`` comes only when the app is bound to an open-platform account; a 小程序码 is a JPEG unless
``is_hyaline``; prepay and refund refuse a notify_url that is not https (loopback http only when the app that runs
the fake says so: WeChat could never reach it, the fake can); the query answers every documented trade state.
Prepay comes in two kinds: JSAPI (the mini-program; the order names its payer's openid, the answer is a prepay_id)
and Native (a QR code on a PC screen; no payer until someone scans it, the answer is a code_url that lapses after
two hours).

Every moment the fake states or compares (success_time, create_time, time_expire, Wechatpay-Timestamp) comes from
the injected clock, so a test's FakeClock governs it. The one exception is the merchant's Authorization timestamp:
wechatpayv3 signs with time.time(), so the fake does not judge its freshness.

Only stdlib, cryptography, qrcode and requests: this module must not pull in Flask or the rest of the backend.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import logging
import re
import secrets
import string
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import qrcode
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

BEIJING = timezone(timedelta(hours=8))
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
ALPHANUMERIC = string.ascii_letters + string.digits
# The mini-program APIs answer with this (sic: "encoding", not "charset"), as api.weixin.qq.com does.
MINI_CONTENT_TYPE = "application/json; encoding=utf-8"
PAY_CONTENT_TYPE = "application/json; charset=utf-8"
DEFAULT_QR_PAGE = "pages/index/index"
NOTIFICATION_TIMEOUT_SECONDS = 10
AUTO_SETTLE_DELAY_SECONDS = 0.2
SHUTDOWN_POLL_SECONDS = 0.02

# Mini-program error codes and the messages the platform sends with them.
INVALID_CREDENTIAL = (40001, "invalid credential, access_token is invalid or not latest")
INVALID_GRANT_TYPE = (40002, "invalid grant_type")
INVALID_OPENID = (40003, "invalid openid")
INVALID_APPID = (40013, "invalid appid")
INVALID_CODE = (40029, "invalid code")
CODE_USED = (40163, "code been used")
INVALID_APPSECRET = (40125, "invalid appsecret")
INVALID_SCENE = (40169, "invalid length for scene, or the data is not json string")
INVALID_ENV_VERSION = (40097, "invalid args")
MISSING_CODE = (41008, "missing code")
USER_REFUSED = (43101, "user refuse to accept the msg")
DATA_FORMAT_ERROR = (47001, "data format error")
ARGUMENT_INVALID = (47003, "argument invalid! data is invalid")

CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# wx.login: "用户登录凭证（有效期五分钟）" (https://developers.weixin.qq.com/miniprogram/dev/api/open-api/login/wx.login.html),
# and one use only — a second jscode2session answers 40163 "code been used", a lapsed or unknown code 40029
# "invalid code" (code2Session's error table lists 40029 "code 无效"; 40163 is in WeChat's global return codes, see
# https://developers.weixin.qq.com/community/develop/doc/000262c8de4e78e7141ce6aa056c00).
LOGIN_CODE_LIFETIME = timedelta(minutes=5)
# Native: "code_url有效期为2小时，过期后扫码不能再发起支付" (Native调起支付, https://pay.weixin.qq.com/wiki/doc/apiv3/apis/
# chapter7_3_10.shtml). Real ones are weixin://wxpay/bizpayurl?pr= and 7 characters (pr=XIKYjUK, pr=eFP3Tyz).
CODE_URL_LIFETIME = timedelta(hours=2)
CODE_URL_PREFIX = "weixin://wxpay/bizpayurl?pr="
NATIVE_PAYER = "native-payer"
SCENE_PATTERN = re.compile(r"[A-Za-z0-9!#$&'()*+,/:;=?@\-._~]{1,32}")
OUT_TRADE_NO_PATTERN = re.compile(r"[A-Za-z0-9_*|-]{6,32}")
OUT_REFUND_NO_PATTERN = re.compile(r"[A-Za-z0-9_*|@-]{1,64}")
# notify_url "有效性：1. HTTPS；2. 不允许携带查询串" (the JSAPI prepay model generated from WeChat Pay's API definition,
# wechatpay-apiv3/wechatpay-go services/payments/jsapi/models.go; the doc text: "公网域名必须为https").
NOTIFY_URL_PATTERN = re.compile(r"https://[^\s?#]{1,248}")
LOOPBACK_NOTIFY_URL_PATTERN = re.compile(r"http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?/[^\s?#]{0,220}")
RFC3339_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}:\d{2}|Z)")
AUTHORIZATION_PATTERN = re.compile(SIGNATURE_TYPE + r" (.+)")
AUTHORIZATION_FIELD_PATTERN = re.compile(r'(\w+)="([^"]*)"')
ENV_VERSIONS = {"release", "trial", "develop"}

# Every trade_state the query documents (https://pay.weixin.qq.com/docs/merchant/apis/query-order/direct-jsons/
# query-by-out-trade-no.html): REVOKED, USERPAYING and PAYERROR are documented for 付款码 payments only, but an app
# that meets one must still not take it for paid; ``set_trade_state`` puts an order in one.
TRADE_STATE_DESCRIPTIONS = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "订单发生过退款",
    "USERPAYING": "用户支付中，需要输入密码",
    "PAYERROR": "支付失败，请重新下单支付",
    "REVOKED": "订单已撤销",
}
PAID_STATES = {"SUCCESS", "REFUND"}
SETTABLE_STATES = {"NOTPAY", "USERPAYING", "PAYERROR", "REVOKED"}  # what the payer's side can make of an unpaid order


class FakeWeChatError(ValueError):
    """The caller asked the fake platform for something the real one would not do (pay a closed order ...)."""


@dataclass(frozen=True)
class Notification:
    """One payment or refund notification exactly as WeChat POSTs it: ``body`` holds the very bytes signed."""

    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """What the HTTP handler writes back: status, extra headers and the body bytes."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class LoginCode:
    """A code ``wx.login`` issued: whose it is, when, and whether jscode2session has already taken it."""

    person: str
    issued_at: datetime
    used: bool = False


# ---------------------------------------------------------------------------------------------------- helpers


@functools.cache
def rsa_key(role: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per role per process: generating one takes up to a second and tests build many fakes."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def public_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def as_private_key(key: rsa.RSAPrivateKey | str | bytes) -> rsa.RSAPrivateKey:
    """Accept a key object or its PEM, so tests can forge notifications with whatever they have at hand."""
    if isinstance(key, str):
        key = key.encode("ascii")
    if isinstance(key, bytes):
        return serialization.load_pem_private_key(key, password=None)
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    """Base64 of RSA PKCS#1 v1.5 over SHA-256, the one signature scheme of APIv3."""
    return base64.b64encode(key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def rsa_verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message.encode("utf-8"), padding.PKCS1v15(),
                   hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def random_alphanumeric(length: int) -> str:
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(length))


def random_digits(length: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(length))


def json_text(payload: Any) -> str:
    """Compact and unescaped, as WeChat writes JSON; whatever is signed is this exact text."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def beijing_iso(moment: datetime) -> str:
    """WeChat's spelling of a moment: 2026-03-12T17:00:00+08:00."""
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def parse_rfc3339(text: Any) -> datetime | None:
    """A moment with an explicit offset, or None if WeChat would refuse the spelling."""
    if not isinstance(text, str) or not RFC3339_PATTERN.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def derived_id(prefix: str, *parts: str) -> str:
    """28 characters like a real openid, the same for the same inputs so one login code always means one user."""
    digest = hashlib.sha256(":".join(parts).encode("utf-8")).digest()
    return prefix + base64.urlsafe_b64encode(digest).decode("ascii")[:27]


def json_object(body: bytes) -> dict | None:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def first_param(query: dict[str, list[str]], name: str) -> str:
    return query.get(name, [""])[0]


def is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def is_nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def fits_bytes(value: Any, limit: int) -> bool:
    """WeChat Pay measures text fields in UTF-8 bytes: 127 bytes of description are 42 Chinese characters."""
    return isinstance(value, str) and 1 <= len(value.encode("utf-8")) <= limit


def matches(pattern: re.Pattern, value: Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def mini_reply(payload: dict) -> Reply:
    return Reply(200, json_text(payload).encode("utf-8"), (("Content-Type", MINI_CONTENT_TYPE),))


def mini_error(error: tuple[int, str]) -> Reply:
    """Mini-program APIs fail with HTTP 200 and an errcode: wechatpy raises on anything else without the code."""
    errcode, errmsg = error
    return mini_reply({"errcode": errcode, "errmsg": errmsg})


def qr_image(text: str, width: int, *, transparent: bool) -> bytes:
    """A real, scannable code: a JPEG, or with ``transparent`` a PNG whose background is see-through.

    ``width`` picks the module size so the image comes out roughly that wide.
    """
    code = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    code.box_size = max(1, round(width / (code.modules_count + 2 * code.border)))
    buffer = io.BytesIO()
    if transparent:
        code.make_image(back_color="transparent").save(buffer, format="PNG")
    else:
        code.make_image().convert("L").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def post_notification(notification: Notification) -> int:
    """Deliver as WeChat does: one POST of the signed bytes; the answer's status says whether it was taken."""
    response = requests.post(notification.url, data=notification.body, headers=notification.headers,
                             timeout=NOTIFICATION_TIMEOUT_SECONDS)
    return response.status_code


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------------- HTTP


class FakeWeChatServer(ThreadingHTTPServer):
    """The listening socket; each request is answered on its own daemon thread by ``fake.answer``."""

    daemon_threads = True

    def __init__(self, fake: FakeWeChat) -> None:
        super().__init__(("127.0.0.1", 0), RequestHandler)
        self.fake = fake


class RequestHandler(BaseHTTPRequestHandler):
    server: FakeWeChatServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self.respond()

    def do_POST(self) -> None:  # noqa: N802
        self.respond()

    def respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake.answer(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.status != 204:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature http.server calls
        log.debug("fake wechat: " + format, *args)


# ---------------------------------------------------------------------------------------------------- the fake


class FakeWeChat:
    """WeChat on 127.0.0.1: ``start()``, configure the clients with the credentials below and ``url``, ``close()``.

    ``transactions`` and ``refunds`` are the platform's own records (plain dicts, keyed by the merchant's numbers);
    ``calls``, ``subscribe_messages`` and ``notifications`` record what happened, and ``crashes`` every request the
    fake itself failed on (answered 500), so that a test never takes the fake's bug for WeChat's refusal. All state
    is guarded by one lock.

    ``bound_to_open_platform``: jscode2session answers a ``unionid`` only when the mini-program is bound to an open
    platform account ("若当前小程序已绑定到微信开放平台帐号下会返回", code2Session); off by default, as for a new app.
    ``allow_loopback_http_notify``: WeChat Pay requires an https notify_url and so does this fake, except that the
    app running the fake for development and tests may name its own loopback address over http — WeChat could not
    reach 127.0.0.1 at all, the fake can, and there is no certificate to present there.
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None, appid: str = "wxfake0000000001",
                 mchid: str = "1900000001", bound_to_open_platform: bool = False,
                 allow_loopback_http_notify: bool = False) -> None:
        self.clock = clock or utc_now
        self.appid = appid
        self.secret = secrets.token_hex(16)
        self.mchid = mchid
        self.merchant_private_key = rsa_key("merchant")
        self.merchant_private_key_pem = private_key_pem(self.merchant_private_key)
        self.merchant_serial_no = secrets.token_hex(20).upper()
        self.apiv3_key = random_alphanumeric(32)
        self.platform_private_key = rsa_key("platform")
        self.platform_public_key_pem = public_key_pem(self.platform_private_key)
        self.public_key_id = "PUB_KEY_ID_" + random_digits(22)
        self.url = ""
        self.calls: list[tuple[str, str]] = []
        self.risky_words: set[str] = {"违禁", "赌博"}
        self.subscribe_messages: list[dict] = []
        self.refuse_subscribe = False
        self.transactions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.notifications: list[Notification] = []
        self.sender: Callable[[Notification], int] = post_notification
        self.auto_settle_refunds = False
        self.bound_to_open_platform = bound_to_open_platform
        self.allow_loopback_http_notify = allow_loopback_http_notify
        self.crashes: list[str] = []
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, str]] = {}
        self._access_tokens: set[str] = set()
        self._login_codes: dict[str, LoginCode] = {}
        self._server: FakeWeChatServer | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> FakeWeChat:
        if self._server is None:
            self._server = FakeWeChatServer(self)
            self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
            # a short poll so close() returns at once (shutdown waits for the loop to look); idle cost is negligible
            threading.Thread(target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="fake-wechat",
                             daemon=True).start()
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ knobs

    def fail_next(self, path: str, errcode: int, errmsg: str = "") -> None:
        """The next call to this mini-program API path (not /v3) answers with this errcode instead of its work.

        wechatpy answers 40001/40014/42001 itself by fetching a new token and retrying, so those never reach it.
        """
        with self._lock:
            self._failures[path] = (errcode, errmsg or f"simulated failure {errcode}")

    def login_code(self, person: str) -> str:
        """What ``wx.login()`` hands ``person``'s phone: a fresh code, good once within five minutes.

        ``person`` stands for the WeChat user: the same person has the same openid in this app every time.
        """
        code = random_alphanumeric(32)  # real ones look like 0a3KGG000BGdOT1rrL1000IW500KGG0L
        with self._lock:
            self._login_codes[code] = LoginCode(person=person, issued_at=self.clock())
        return code

    def set_trade_state(self, out_trade_no: str, state: str) -> None:
        """The payer's side moves an unpaid order: USERPAYING (entering the password), PAYERROR (the bank said no),
        REVOKED, or back to NOTPAY. Paying is ``pay``; closing is the merchant's close API."""
        if state not in SETTABLE_STATES:
            raise FakeWeChatError(f"trade state {state!r} is not one the payer's side sets ({sorted(SETTABLE_STATES)})")
        with self._lock:
            record = self.transactions.get(out_trade_no)
            if record is None or record["trade_state"] not in ("NOTPAY", "USERPAYING"):
                raise FakeWeChatError(f"order {out_trade_no!r} is not awaiting payment")
            record["trade_state"] = state

    # ------------------------------------------------------------------------------------------ dispatch

    def answer(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one HTTP request; an unexpected error becomes a 500 here rather than a dropped connection."""
        parts = urlsplit(raw_path)
        with self._lock:
            self.calls.append((method, parts.path))
        try:
            if parts.path.startswith("/v3/"):
                return self._answer_pay(method, raw_path, parts.path, parse_qs(parts.query), headers, body)
            return self._answer_mini(method, parts.path, parse_qs(parts.query), body)
        except Exception as error:
            log.exception("fake wechat failed on %s %s", method, raw_path)
            with self._lock:
                self.crashes.append(f"{method} {parts.path}: {error.__class__.__name__}: {error}")
            return Reply(500, json_text({"code": "SYSTEM_ERROR", "message": "系统错误"}).encode("utf-8"),
                         (("Content-Type", PAY_CONTENT_TYPE),))

    # ------------------------------------------------------------------------------------------ mini-program

    def _answer_mini(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        route = MINI_ROUTES.get((method, path))
        if route is None:
            return Reply(404, json_text({"code": "NOT_FOUND"}).encode("utf-8"), (("Content-Type", MINI_CONTENT_TYPE),))
        with self._lock:
            failure = self._failures.pop(path, None)
            token_known = first_param(query, "access_token") in self._access_tokens
        if failure is not None:
            return mini_error(failure)
        # jscode2session authenticates by appid + secret; wechatpy sends an access_token there too, ignored.
        if path not in TOKENLESS_PATHS and not token_known:
            return mini_error(INVALID_CREDENTIAL)
        return route(self, query, body)

    def _app_credentials_error(self, query: dict[str, list[str]]) -> tuple[int, str] | None:
        if first_param(query, "appid") != self.appid:
            return INVALID_APPID
        if first_param(query, "secret") != self.secret:
            return INVALID_APPSECRET
        return None

    def _issue_token(self, query: dict[str, list[str]], body: bytes) -> Reply:
        if first_param(query, "grant_type") != "client_credential":
            return mini_error(INVALID_GRANT_TYPE)
        error = self._app_credentials_error(query)
        if error is not None:
            return mini_error(error)
        token = secrets.token_urlsafe(96)
        with self._lock:
            self._access_tokens.add(token)
        return mini_reply({"access_token": token, "expires_in": 7200})

    def _code_to_session(self, query: dict[str, list[str]], body: bytes) -> Reply:
        error = self._app_credentials_error(query)
        if error is not None:
            return mini_error(error)
        if first_param(query, "grant_type") != "authorization_code":
            return mini_error(INVALID_GRANT_TYPE)
        code = first_param(query, "js_code")
        if not code:
            return mini_error(MISSING_CODE)
        with self._lock:
            issued = self._login_codes.get(code) if CODE_PATTERN.fullmatch(code) else None
            if issued is not None and issued.used:
                return mini_error(CODE_USED)
            if issued is None or self.clock() - issued.issued_at > LOGIN_CODE_LIFETIME:
                return mini_error(INVALID_CODE)
            issued.used = True
        answer = {"session_key": base64.b64encode(secrets.token_bytes(16)).decode("ascii"),
                  "openid": derived_id("o", self.appid, issued.person)}
        if self.bound_to_open_platform:  # one unionid per person across every app of the open-platform account
            answer["unionid"] = derived_id("u", "union", issued.person)
        return mini_reply(answer)

    def _wxa_code(self, query: dict[str, list[str]], body: bytes) -> Reply:
        """getwxacodeunlimit answers the image itself: a JPEG, or a PNG with is_hyaline (transparent background).

        The docs say only "返回的图片 Buffer"; what comes is a JPEG (JFIF bytes in hpyer/node-easywechat#92, "目前这个
        接口是返回jpg的" in binarywang/WxJava#3117), and with is_hyaline a PNG still labelled image/jpeg
        (https://developers.weixin.qq.com/community/develop/doc/00066ef8a18af825407a282cd5ac00). So the fake sends
        image/jpeg either way: only the bytes say which it is.
        """
        request = json_object(body)
        if request is None or not matches(SCENE_PATTERN, request.get("scene")):
            return mini_error(INVALID_SCENE)
        if request.get("env_version", "release") not in ENV_VERSIONS:
            return mini_error(INVALID_ENV_VERSION)
        width = request.get("width", 430)
        width = min(max(width, 280), 1280) if is_positive_int(width) else 430
        page = request.get("page") or DEFAULT_QR_PAGE
        image = qr_image(f"{page}?scene={request['scene']}", width, transparent=request.get("is_hyaline") is True)
        return Reply(200, image, (("Content-Type", "image/jpeg"),))

    def _msg_sec_check(self, query: dict[str, list[str]], body: bytes) -> Reply:
        request = json_object(body)
        if request is None or request.get("version") != 2 or request.get("scene") not in (1, 2, 3, 4) \
                or not isinstance(request.get("content"), str) or not isinstance(request.get("openid"), str):
            return mini_error(DATA_FORMAT_ERROR)
        if request["openid"] == "":
            return mini_error(INVALID_OPENID)
        risky = any(word in request["content"] for word in set(self.risky_words))
        verdict = {"suggest": "risky", "label": 20006} if risky else {"suggest": "pass", "label": 100}
        return mini_reply({
            "errcode": 0, "errmsg": "ok", "result": verdict,
            "detail": [{"strategy": "content_model", "errcode": 0, **verdict, "prob": 90}],
            "trace_id": f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(8)}",
        })

    def _send_subscribe(self, query: dict[str, list[str]], body: bytes) -> Reply:
        request = json_object(body)
        if request is None or not all(request.get(field) for field in ("touser", "template_id", "data")):
            return mini_error(DATA_FORMAT_ERROR)
        if not isinstance(request["data"], dict) or not all(
                isinstance(item, dict) and "value" in item for item in request["data"].values()):
            return mini_error(ARGUMENT_INVALID)
        if self.refuse_subscribe:
            return mini_error(USER_REFUSED)
        with self._lock:
            self.subscribe_messages.append(request)
        return mini_reply({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(2**62)})

    # ------------------------------------------------------------------------------------------ pay: HTTP

    def _answer_pay(self, method: str, raw_path: str, path: str, query: dict[str, list[str]],
                    headers: dict[str, str], body: bytes) -> Reply:
        if not self._merchant_signed(method, raw_path, headers, body):
            return self._signed_reply(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        request = json_object(body) if method == "POST" else {}
        if request is None:
            return self._signed_reply(400, {"code": "PARAM_ERROR", "message": "请求体不是合法的JSON对象"})
        for route_method, pattern, route in PAY_ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                status, payload = route(self, unquote(match.group(1)), query, request)
                return self._signed_reply(status, payload)
        return self._signed_reply(404, {"code": "NOT_FOUND", "message": "接口不存在"})

    def _merchant_signed(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> bool:
        """The merchant's Authorization: right mchid and serial, RSA over method, path?query, time, nonce, body."""
        authorization = next((value for name, value in headers.items() if name.lower() == "authorization"), "")
        match = AUTHORIZATION_PATTERN.fullmatch(authorization.strip())
        if match is None:
            return False
        fields = dict(AUTHORIZATION_FIELD_PATTERN.findall(match.group(1)))
        if fields.get("mchid") != self.mchid or fields.get("serial_no", "").upper() != self.merchant_serial_no:
            return False
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        message = f"{method}\n{raw_path}\n{fields.get('timestamp', '')}\n{fields.get('nonce_str', '')}\n{text}\n"
        return rsa_verify(self.merchant_private_key.public_key(), message, fields.get("signature", ""))

    def _signed_reply(self, status: int, payload: dict | None) -> Reply:
        """Every APIv3 answer, errors and the empty 204 included, is signed by the platform key."""
        text = "" if payload is None else json_text(payload)
        timestamp = str(int(self.clock().timestamp()))
        nonce = random_alphanumeric(32)
        headers = [
            ("Request-ID", secrets.token_hex(20).upper()),
            ("Wechatpay-Timestamp", timestamp),
            ("Wechatpay-Nonce", nonce),
            ("Wechatpay-Serial", self.public_key_id),
            ("Wechatpay-Signature-Type", SIGNATURE_TYPE),
            ("Wechatpay-Signature", rsa_sign(self.platform_private_key, f"{timestamp}\n{nonce}\n{text}\n")),
        ]
        if payload is not None:
            headers.append(("Content-Type", PAY_CONTENT_TYPE))
        return Reply(status, text.encode("utf-8"), tuple(headers))

    # ------------------------------------------------------------------------------------------ pay: orders

    def _notify_url_acceptable(self, url: Any) -> bool:
        return matches(NOTIFY_URL_PATTERN, url) or (
            self.allow_loopback_http_notify and matches(LOOPBACK_NOTIFY_URL_PATTERN, url))

    def _prepay_problem(self, order: dict, trade_type: str) -> str | None:
        """The first field WeChat would refuse, named at the start of the message; None if the order is well formed.

        JSAPI and Native check the same fields, except that only JSAPI names its payer: a Native order is paid by
        whoever scans its code. Native accepts any appid bound to the merchant ("可以填写这三种类型中的任意一种APPID",
        Native下单); this fake knows one, the mini-program's.
        """
        amount = order.get("amount")
        payer = order.get("payer")
        if order.get("appid") != self.appid or order.get("mchid") != self.mchid:
            return "appid和mch_id不匹配，请检查后再试"
        if not matches(OUT_TRADE_NO_PATTERN, order.get("out_trade_no")):
            return "out_trade_no: 应为6-32位数字、大小写字母或_-|*"
        if not fits_bytes(order.get("description"), 127):
            return "description: 长度应为1-127字节"
        if not isinstance(amount, dict) or not is_positive_int(amount.get("total")):
            return "amount.total: 应为不小于1的整数（单位分）"
        if amount.get("currency", "CNY") != "CNY":
            return "amount.currency: 仅支持CNY"
        if not self._notify_url_acceptable(order.get("notify_url")):
            return "notify_url: 应为https地址，且不能携带查询参数"
        if trade_type == "JSAPI" and (not isinstance(payer, dict) or not is_nonempty_str(payer.get("openid"))):
            return "payer.openid: 不能为空"
        if "time_expire" in order and parse_rfc3339(order["time_expire"]) is None:
            return "time_expire: 应为RFC3339格式，如2026-03-12T17:15:00+08:00"
        if "attach" in order and not fits_bytes(order["attach"], 128):
            return "attach: 长度应为1-128字节"
        return None

    def _create_jsapi(self, _: str, query: dict, order: dict) -> tuple[int, dict]:
        return self._create_order(order, "JSAPI")

    def _create_native(self, _: str, query: dict, order: dict) -> tuple[int, dict]:
        """POST /v3/pay/transactions/native: ``{"code_url": …}``, for the merchant to show as a QR code."""
        return self._create_order(order, "NATIVE")

    def _create_order(self, order: dict, trade_type: str) -> tuple[int, dict]:
        problem = self._prepay_problem(order, trade_type)
        if problem is not None:
            return 400, {"code": "PARAM_ERROR", "message": problem}
        with self._lock:  # out_trade_no is unique per merchant, whichever kind of order took it first
            existing = self.transactions.get(order["out_trade_no"])
            if existing is not None:
                return self._repeated_order(existing, order, trade_type)
            record = self._new_transaction(order, trade_type)
            self.transactions[record["out_trade_no"]] = record
        return 200, self._prepay_answer(record)

    @staticmethod
    def _prepay_answer(record: dict) -> dict:
        if record["trade_type"] == "NATIVE":
            return {"code_url": record["code_url"]}
        return {"prepay_id": record["prepay_id"]}

    @classmethod
    def _repeated_order(cls, existing: dict, order: dict, trade_type: str) -> tuple[int, dict]:
        """Placing an order again is idempotent while unpaid and identical; WeChat refuses any other repeat."""
        if existing["trade_state"] in PAID_STATES:
            return 400, {"code": "ORDERPAID", "message": "该订单已支付"}
        if existing["trade_state"] in ("CLOSED", "REVOKED", "PAYERROR"):  # PAYERROR: "请重新下单支付", a new order
            return 400, {"code": "ORDER_CLOSED", "message": "订单已关闭"}
        openid = order["payer"]["openid"] if trade_type == "JSAPI" else None
        same = (existing["trade_type"], existing["total"], existing["openid"], existing["description"]) == (
            trade_type, order["amount"]["total"], openid, order["description"])
        if not same:
            return 400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"}
        return 200, cls._prepay_answer(existing)

    @staticmethod
    def _code_url() -> str:
        return CODE_URL_PREFIX + random_alphanumeric(7)

    def _new_transaction(self, order: dict, trade_type: str) -> dict:
        native = trade_type == "NATIVE"
        return {
            "trade_type": trade_type,
            "appid": order["appid"],
            "mchid": order["mchid"],
            "out_trade_no": order["out_trade_no"],
            "description": order["description"],
            "notify_url": order["notify_url"],
            "attach": order.get("attach", ""),
            "time_expire": order.get("time_expire"),
            "total": order["amount"]["total"],
            "openid": None if native else order["payer"]["openid"],  # a Native payer is known once they scan
            "prepay_id": None if native else "wx" + secrets.token_hex(16),
            "code_url": self._code_url() if native else None,
            "create_time": beijing_iso(self.clock()),
            "trade_state": "NOTPAY",
            "transaction_id": None,
            "success_time": None,
        }

    @staticmethod
    def _transaction_view(record: dict) -> dict:
        """The transaction as the query API (and the payment notification) shows it."""
        paid = record["transaction_id"] is not None
        view: dict[str, Any] = {"appid": record["appid"], "mchid": record["mchid"],
                                "out_trade_no": record["out_trade_no"]}
        if paid:
            view["transaction_id"] = record["transaction_id"]
        view.update({"trade_type": record["trade_type"], "trade_state": record["trade_state"],
                     "trade_state_desc": TRADE_STATE_DESCRIPTIONS[record["trade_state"]]})
        if paid:
            view["bank_type"] = "OTHERS"
        view["attach"] = record["attach"]
        if paid:
            view["success_time"] = record["success_time"]
        if record["openid"] is not None:  # a Native order unpaid has no payer yet
            view["payer"] = {"openid": record["openid"]}
        amount: dict[str, Any] = {"total": record["total"]}
        if paid:
            amount["payer_total"] = record["total"]
        view["amount"] = {**amount, "currency": "CNY", "payer_currency": "CNY"}
        return view

    def _query_transaction(self, out_trade_no: str, query: dict, _: dict) -> tuple[int, dict]:
        if first_param(query, "mchid") != self.mchid:
            return 400, {"code": "PARAM_ERROR", "message": "mchid: 与请求商户号不一致"}
        with self._lock:
            record = self.transactions.get(out_trade_no)
            view = None if record is None else self._transaction_view(record)
        if view is None:
            return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
        return 200, view

    def _query_transaction_by_id(self, transaction_id: str, query: dict, request: dict) -> tuple[int, dict]:
        with self._lock:
            record = self._transaction_by_id(transaction_id)
        out_trade_no = "" if record is None else record["out_trade_no"]
        return self._query_transaction(out_trade_no, query, request)

    def _transaction_by_id(self, transaction_id: str) -> dict | None:
        return next((record for record in self.transactions.values()
                     if transaction_id and record["transaction_id"] == transaction_id), None)

    def _close_transaction(self, out_trade_no: str, query: dict, request: dict) -> tuple[int, dict | None]:
        """Close an unpaid order: 204 with no body, also for one already closed.

        What closing a *paid* order answers in APIv3 is not documented: ORDERPAID is the v2 closeorder code ("订单已
        支付,不能发起关单,请当作已支付的正常交易"), and the v3 close page lists no such code — only 202 USER_PAYING,
        400 ORDER_CLOSED, 403 TRADE_ERROR/RULE_LIMIT …, 429 FREQUENCY_LIMITED (https://pay.weixin.qq.com/doc/v3/
        merchant/4012556398). The fake answers the documented 403 TRADE_ERROR, not v2's spelling, so an app that
        reads "paid" from a close error fails here as it might live: ask the query API instead ("调用关单或撤销接口
        API之前,需确认支付状态", the query page).
        """
        if request.get("mchid") != self.mchid:
            return 400, {"code": "PARAM_ERROR", "message": "mchid: 与请求商户号不一致"}
        with self._lock:
            record = self.transactions.get(out_trade_no)
            if record is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            if record["trade_state"] in PAID_STATES:
                return 403, {"code": "TRADE_ERROR", "message": "订单已支付，不能关单"}
            if record["trade_state"] == "USERPAYING":  # the payer is typing the password: a 2xx that closed nothing
                return 202, {"code": "USER_PAYING", "message": "用户支付中，需要输入密码"}
            if record["trade_state"] != "REVOKED":
                record["trade_state"] = "CLOSED"
        return 204, None

    # ------------------------------------------------------------------------------------------ pay: refunds

    def _refund_problem(self, request: dict) -> str | None:
        amount = request.get("amount")
        if not matches(OUT_REFUND_NO_PATTERN, request.get("out_refund_no")):
            return "out_refund_no: 应为1-64位数字、大小写字母或_-|*@"
        if not is_nonempty_str(request.get("out_trade_no")) and not is_nonempty_str(request.get("transaction_id")):
            return "out_trade_no: out_trade_no与transaction_id必填其一"
        if not isinstance(amount, dict) or not is_positive_int(amount.get("refund")):
            return "amount.refund: 应为不小于1的整数（单位分）"
        if not is_positive_int(amount.get("total")):
            return "amount.total: 应为不小于1的整数（单位分）"
        if amount.get("currency") != "CNY":
            return "amount.currency: 应为CNY"
        if "reason" in request and not (isinstance(request["reason"], str) and len(request["reason"]) <= 80):
            return "reason: 最多80个字符"
        if "notify_url" in request and not self._notify_url_acceptable(request["notify_url"]):
            return "notify_url: 应为https地址，且不能携带查询参数"
        return None

    def _create_refund(self, _: str, query: dict, request: dict) -> tuple[int, dict]:
        problem = self._refund_problem(request)
        if problem is not None:
            return 400, {"code": "PARAM_ERROR", "message": problem}
        with self._lock:
            status, payload = self._accept_refund(request)
        if status == 200 and payload["status"] == "PROCESSING" and self.auto_settle_refunds:
            self._settle_later(payload["out_refund_no"])
        return status, payload

    def _accept_refund(self, request: dict) -> tuple[int, dict]:
        """Under the lock: find the order, check what may still be refunded, record the refund or find it again."""
        order = self.transactions.get(request.get("out_trade_no") or "") \
            or self._transaction_by_id(request.get("transaction_id") or "")
        if order is None:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
        existing = self.refunds.get(request["out_refund_no"])
        if existing is not None:
            if (existing["out_trade_no"], existing["refund"]) != (order["out_trade_no"], request["amount"]["refund"]):
                return 400, {"code": "INVALID_REQUEST", "message": "退款单号已存在，但退款参数与之前不一致"}
            return 200, self._refund_view(existing)
        if order["trade_state"] not in PAID_STATES:
            return 400, {"code": "INVALID_REQUEST", "message": "订单未支付"}
        if request["amount"]["total"] != order["total"]:
            return 400, {"code": "INVALID_REQUEST", "message": "amount.total: 与订单金额不一致"}
        if self._refunded(order["out_trade_no"]) + request["amount"]["refund"] > order["total"]:
            return 400, {"code": "INVALID_REQUEST", "message": "申请退款金额超过订单可退金额"}
        record = self._new_refund(order, request)
        self.refunds[record["out_refund_no"]] = record
        return 200, self._refund_view(record)

    def _refunded(self, out_trade_no: str, statuses: tuple[str, ...] = ("PROCESSING", "SUCCESS")) -> int:
        return sum(refund["refund"] for refund in self.refunds.values()
                   if refund["out_trade_no"] == out_trade_no and refund["status"] in statuses)

    def _new_refund(self, order: dict, request: dict) -> dict:
        return {
            "refund_id": "50" + random_digits(28),
            "out_refund_no": request["out_refund_no"],
            "transaction_id": order["transaction_id"],
            "out_trade_no": order["out_trade_no"],
            "reason": request.get("reason", ""),
            "notify_url": request.get("notify_url") or order["notify_url"],
            "refund": request["amount"]["refund"],
            "total": order["total"],
            "status": "PROCESSING",
            "create_time": beijing_iso(self.clock()),
            "success_time": None,
        }

    @staticmethod
    def _refund_view(record: dict) -> dict:
        view: dict[str, Any] = {
            "refund_id": record["refund_id"], "out_refund_no": record["out_refund_no"],
            "transaction_id": record["transaction_id"], "out_trade_no": record["out_trade_no"],
            "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
        }
        if record["success_time"] is not None:
            view["success_time"] = record["success_time"]
        view.update({
            "create_time": record["create_time"], "status": record["status"], "funds_account": "AVAILABLE",
            "amount": {"total": record["total"], "refund": record["refund"], "payer_total": record["total"],
                       "payer_refund": record["refund"], "settlement_refund": record["refund"],
                       "settlement_total": record["total"], "discount_refund": 0, "currency": "CNY",
                       "refund_fee": 0},
            "promotion_detail": [],
        })
        return view

    def _query_refund(self, out_refund_no: str, query: dict, _: dict) -> tuple[int, dict]:
        with self._lock:
            record = self.refunds.get(out_refund_no)
            view = None if record is None else self._refund_view(record)
        if view is None:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
        return 200, view

    # ------------------------------------------------------------------------------------------ the payer's side

    def pay(self, out_trade_no: str, *, deliver: bool = True, scanned_by: str | None = None) -> Notification:
        """The payer pays: NOTPAY (or USERPAYING) becomes SUCCESS and WeChat notifies the order's notify_url.

        A JSAPI order is paid by the openid it names; a Native order by whoever scans its code (``scanned_by``, a
        person as in ``login_code``: one person, one openid in this app), who becomes its payer.
        """
        with self._lock:
            record = self._payable(out_trade_no)
            if scanned_by is not None and record["trade_type"] != "NATIVE":
                raise FakeWeChatError(f"order {out_trade_no!r} is a JSAPI order: its payer is the openid it names")
            if record["trade_type"] == "NATIVE" and record["openid"] is None:
                record["openid"] = derived_id("o", self.appid, scanned_by or NATIVE_PAYER)
            now = self.clock()
            record.update(trade_state="SUCCESS", success_time=beijing_iso(now),
                          transaction_id="4200" + random_digits(6) + now.astimezone(BEIJING).strftime("%Y%m%d")
                          + random_digits(10))
            resource = self._transaction_view(record)
        notification = self.notification(url=record["notify_url"], event_type="TRANSACTION.SUCCESS",
                                         original_type="transaction", resource=resource, summary="支付成功")
        return self._send(notification, deliver)

    def transaction(self, out_trade_no: str) -> dict:
        """The transaction as the query API and the payment notification show it (what tests forge from)."""
        with self._lock:
            return self._transaction_view(self.transactions[out_trade_no])

    def _payable(self, out_trade_no: str) -> dict:
        record = self.transactions.get(out_trade_no)
        if record is None:
            raise FakeWeChatError(f"no order {out_trade_no!r} was placed with the fake WeChat Pay")
        if record["trade_state"] == "USERPAYING":  # begun before the deadline: the password completes it
            return record
        if record["trade_state"] != "NOTPAY":
            raise FakeWeChatError(f"order {out_trade_no!r} cannot be paid: it is {record['trade_state']}")
        expires = parse_rfc3339(record["time_expire"])
        if expires is not None and self.clock() >= expires:
            raise FakeWeChatError(f"order {out_trade_no!r} cannot be paid: it expired at {record['time_expire']}")
        lapses = parse_rfc3339(record["create_time"]) + CODE_URL_LIFETIME
        if record["trade_type"] == "NATIVE" and self.clock() >= lapses:
            raise FakeWeChatError(f"order {out_trade_no!r} cannot be paid: its code_url lapsed two hours after "
                                  f"{record['create_time']}")
        return record

    def settle_refund(self, out_refund_no: str, *, deliver: bool = True) -> Notification:
        """The refund reaches the payer: PROCESSING becomes SUCCESS and WeChat notifies the refund's notify_url."""
        with self._lock:
            record = self.refunds.get(out_refund_no)
            if record is None:
                raise FakeWeChatError(f"no refund {out_refund_no!r} was requested from the fake WeChat Pay")
            if record["status"] != "PROCESSING":
                raise FakeWeChatError(f"refund {out_refund_no!r} cannot be settled: it is {record['status']}")
            record.update(status="SUCCESS", success_time=beijing_iso(self.clock()))
            order = self.transactions[record["out_trade_no"]]
            if self._refunded(order["out_trade_no"], ("SUCCESS",)) == order["total"]:
                order["trade_state"] = "REFUND"
            resource = self._refund_resource(record, order)
        notification = self.notification(url=record["notify_url"], event_type="REFUND.SUCCESS",
                                         original_type="refund", resource=resource, summary="退款成功")
        return self._send(notification, deliver)

    @staticmethod
    def _refund_resource(record: dict, order: dict) -> dict:
        return {
            "mchid": order["mchid"], "out_trade_no": record["out_trade_no"],
            "transaction_id": record["transaction_id"], "out_refund_no": record["out_refund_no"],
            "refund_id": record["refund_id"], "refund_status": "SUCCESS", "success_time": record["success_time"],
            "user_received_account": "支付用户零钱",
            "amount": {"total": record["total"], "refund": record["refund"], "payer_total": record["total"],
                       "payer_refund": record["refund"]},
        }

    def _settle_later(self, out_refund_no: str) -> None:
        """The embedded demo's refunds complete on their own shortly after the request, as they do at WeChat."""
        timer = threading.Timer(AUTO_SETTLE_DELAY_SECONDS, self._settle_in_background, args=(out_refund_no,))
        timer.daemon = True
        timer.start()

    def _settle_in_background(self, out_refund_no: str) -> None:
        try:
            self.settle_refund(out_refund_no)
        except Exception:  # a background thread has nobody to raise to: say what went wrong in the log
            log.exception("fake wechat could not settle refund %s", out_refund_no)

    def _send(self, notification: Notification, deliver: bool) -> Notification:
        """Deliver outside the lock: the receiving app may well call back into the fake while handling it."""
        with self._lock:
            self.notifications.append(notification)
        if deliver:
            status = self.sender(notification)
            if not 200 <= status < 300:
                log.warning("fake wechat: %s answered %s to a notification (WeChat would retry)", notification.url,
                            status)
        return notification

    # ------------------------------------------------------------------------------------------ notifications

    def notification(self, *, url: str, event_type: str, original_type: str, resource: dict, summary: str,
                     notification_id: str | None = None, timestamp: int | None = None, nonce: str | None = None,
                     serial: str | None = None, signing_key: rsa.RSAPrivateKey | str | bytes | None = None,
                     apiv3_key: str | None = None) -> Notification:
        """Build a notification as WeChat sends it; the keyword arguments let tests forge every kind of wrong one."""
        gcm_nonce = random_alphanumeric(12)  # the 12 ASCII characters themselves are the GCM nonce
        ciphertext = AESGCM((apiv3_key or self.apiv3_key).encode("utf-8")).encrypt(
            gcm_nonce.encode("ascii"), json_text(resource).encode("utf-8"), original_type.encode("utf-8"))
        envelope = {
            "id": notification_id or str(uuid.uuid4()),
            "create_time": beijing_iso(self.clock()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
                         "associated_data": original_type, "nonce": gcm_nonce},
        }
        text = json_text(envelope)
        signed_at = str(int(self.clock().timestamp()) if timestamp is None else timestamp)
        header_nonce = nonce or random_alphanumeric(32)
        key = self.platform_private_key if signing_key is None else as_private_key(signing_key)
        headers = {
            "Wechatpay-Timestamp": signed_at,
            "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Serial": serial or self.public_key_id,
            "Wechatpay-Signature": rsa_sign(key, f"{signed_at}\n{header_nonce}\n{text}\n"),
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
            "Content-Type": "application/json",
        }
        return Notification(url=url, headers=headers, body=text.encode("utf-8"))


MINI_ROUTES: dict[tuple[str, str], Callable[[FakeWeChat, dict[str, list[str]], bytes], Reply]] = {
    ("GET", "/cgi-bin/token"): FakeWeChat._issue_token,
    ("GET", "/sns/jscode2session"): FakeWeChat._code_to_session,
    ("POST", "/wxa/getwxacodeunlimit"): FakeWeChat._wxa_code,
    ("POST", "/wxa/msg_sec_check"): FakeWeChat._msg_sec_check,
    ("POST", "/cgi-bin/message/subscribe/send"): FakeWeChat._send_subscribe,
}
TOKENLESS_PATHS = {"/cgi-bin/token", "/sns/jscode2session"}

PayRoute = Callable[[FakeWeChat, str, dict[str, list[str]], dict], tuple[int, dict | None]]
PAY_ROUTES: tuple[tuple[str, re.Pattern, PayRoute], ...] = (
    # every pattern captures one group, the path's key (or the endpoint's name where it has none)
    ("POST", re.compile(r"/v3/pay/transactions/(jsapi)"), FakeWeChat._create_jsapi),
    ("POST", re.compile(r"/v3/pay/transactions/(native)"), FakeWeChat._create_native),
    ("GET", re.compile(r"/v3/pay/transactions/out-trade-no/([^/]+)"), FakeWeChat._query_transaction),
    ("GET", re.compile(r"/v3/pay/transactions/id/([^/]+)"), FakeWeChat._query_transaction_by_id),
    ("POST", re.compile(r"/v3/pay/transactions/out-trade-no/([^/]+)/close"), FakeWeChat._close_transaction),
    ("POST", re.compile(r"/v3/refund/domestic/(refunds)"), FakeWeChat._create_refund),
    ("GET", re.compile(r"/v3/refund/domestic/refunds/([^/]+)"), FakeWeChat._query_refund),
)

"""The mini-program's server APIs through wechatpy: login, content check, mini-program codes, subscribe messages.

wechatpy hard-codes the token URL and keeps per-API base URLs, so ``MiniAppClient`` points all three at
``WECHAT_API_BASE``: the real https://api.weixin.qq.com in production, the local fake in development and tests.
The access token lives in Redis (wechatpy's RedisStorage), shared by every app process.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import redis
import requests
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from backend.errors import InvalidInput
from backend.wechat.errors import WeChatUnavailable

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 5
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# jscode2session errors that mean "this code is no good" (the user's fault), not "WeChat is down".
REFUSED_CODES = {40029: "登录凭证无效 (invalid code)", 40163: "登录凭证已使用 (code already used)",
                 40226: "该微信账号存在风险，暂不能登录 (WeChat flagged this account as high risk)"}
# subscribeMessage.send errors that no retry can mend: the user's consent is missing or spent (43101), the openid,
# template, data or page is wrong. Anything else (-1 system busy, quotas, the network) may pass later.
REFUSED_FOR_GOOD = {43101, 40003, 40037, 47003, 41030}
SCENE_PROFILE = 1  # msgSecCheck v2 scenes: 1 资料, 2 评论, 3 论坛, 4 社交日志


# getwxacodeunlimit answers a JPEG, or a PNG with is_hyaline, and labels both image/jpeg (see the fake's _wxa_code
# for the sources); on failure a JSON errcode body, which wechatpy raises as WeChatClientException. Only the first
# bytes are trustworthy, so they decide.
IMAGE_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def image_type(content: bytes) -> str | None:
    """The MIME type the bytes themselves announce (JPEG or PNG), or None for anything else."""
    return next((mimetype for signature, mimetype in IMAGE_SIGNATURES if content.startswith(signature)), None)


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    session_key: str


class MiniAppClient(WeChatClient):
    """wechatpy's client with every URL under one base, so the same code talks to WeChat or to the fake."""

    def __init__(self, appid: str, secret: str, *, base_url: str, storage: RedisStorage) -> None:
        super().__init__(appid, secret, session=storage, timeout=TIMEOUT_SECONDS)
        self.base_url = base_url
        self.API_BASE_URL = base_url + "/cgi-bin/"
        self.wxa.API_BASE_URL = base_url + "/"

    def fetch_access_token(self):
        return self._fetch_access_token(url=self.base_url + "/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


class MiniApp:
    """The calls the product makes, with WeChat's failures turned into our errors."""

    def __init__(self, appid: str, secret: str, *, base_url: str, redis_client: redis.Redis, key_prefix: str) -> None:
        self.appid = appid
        self.client = MiniAppClient(appid, secret, base_url=base_url,
                                    storage=RedisStorage(redis_client, prefix=key_prefix + "wx"))

    @staticmethod
    def _unavailable(what: str, error: Exception) -> WeChatUnavailable:
        if isinstance(error, WeChatClientException):
            log.warning("WeChat %s failed: errcode %s %s", what, error.errcode, error.errmsg)
            return WeChatUnavailable(f"微信接口暂不可用，请稍后再试 (WeChat {what} failed: {error.errcode})",
                                     details={"errcode": error.errcode})
        # Only the class: a requests error's text holds the URL, and jscode2session's URL holds the app secret.
        log.warning("WeChat %s unreachable: %s", what, error.__class__.__name__)
        return WeChatUnavailable(f"微信接口暂不可用，请稍后再试 (WeChat {what} unreachable)")

    def _call(self, what: str, call):
        try:
            return call()
        except (WeChatClientException, requests.RequestException, redis.RedisError, ValueError) as error:
            raise self._unavailable(what, error) from None

    def code_to_session(self, code: str) -> WeChatSession:
        """Exchange a ``wx.login`` code; a code WeChat refuses is the caller's 400 on field ``code``."""
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            raise InvalidInput("code", "应为 1–64 位字母、数字、- 或 _ (1–64 letters, digits, - or _)")
        try:
            answer = self.client.wxa.code_to_session(code)
        except WeChatClientException as error:
            if error.errcode in REFUSED_CODES:
                raise InvalidInput("code", REFUSED_CODES[error.errcode], code="login_refused") from None
            raise self._unavailable("jscode2session", error) from None
        except (requests.RequestException, redis.RedisError, ValueError) as error:  # Redis: wechatpy's token store
            raise self._unavailable("jscode2session", error) from None
        if not answer.get("openid") or not answer.get("session_key"):
            raise WeChatUnavailable("微信登录接口返回异常 (jscode2session answered without an openid)")
        return WeChatSession(openid=answer["openid"], unionid=answer.get("unionid") or None,
                             session_key=answer["session_key"])

    def text_is_acceptable(self, openid: str, content: str, scene: int = SCENE_PROFILE) -> bool:
        """msgSecCheck v2: True when WeChat suggests ``pass``; ``risky`` and ``review`` are refused."""
        answer = self._call("msg_sec_check", lambda: self.client.post(
            "wxa/msg_sec_check", api_base_url=self.client.base_url + "/",
            data={"content": content, "openid": openid, "scene": scene, "version": 2}))
        suggest = (answer.get("result") or {}).get("suggest")
        if suggest not in ("pass", "risky", "review"):
            raise WeChatUnavailable("内容安全接口返回异常 (msg_sec_check answered without a suggestion)")
        return suggest == "pass"

    def mini_program_code(self, scene: str, page: str | None = None, width: int = 430) -> tuple[bytes, str]:
        """A 小程序码 that opens ``page`` with ``scene``: the image as WeChat sends it and its MIME type, image/jpeg
        (or image/png). Anything that is neither — a JSON answer, an error page — is WeChatUnavailable."""
        response = self._call("getwxacodeunlimit", lambda: self.client.wxa.get_wxa_code_unlimited(
            scene, width=width, page=page))
        content = getattr(response, "content", b"")  # a dict when WeChat answered JSON without an errcode
        mimetype = image_type(content) if isinstance(content, bytes) else None
        if mimetype is None:
            raise WeChatUnavailable("小程序码接口返回异常 (getwxacodeunlimit answered no JPEG or PNG image)")
        return content, mimetype

    def send_subscribe_message(self, openid: str, template_id: str, data: dict, page: str | None = None) -> bool:
        """False (logged) when WeChat refuses this message for good — the user has not subscribed (43101), or the
        openid, template, data or page is wrong; WeChatUnavailable when trying again later may succeed."""
        try:
            self.client.wxa.send_subscribe_message(openid, template_id, data, page=page)
        except WeChatClientException as error:
            if error.errcode in REFUSED_FOR_GOOD:
                log.info("subscribe message to %s not sent: errcode %s %s", openid, error.errcode, error.errmsg)
                return False
            raise self._unavailable("subscribeMessage.send", error) from None
        except (requests.RequestException, redis.RedisError, ValueError) as error:
            raise self._unavailable("subscribeMessage.send", error) from None
        return True

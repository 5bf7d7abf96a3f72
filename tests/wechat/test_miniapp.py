"""The mini-program adapter against the fake: a 小程序码 is whatever image WeChat sends — its bytes say which —
and anything that is not an image is WeChat being unavailable, never a broken picture served to the buyer."""

from __future__ import annotations

import fakeredis
import pytest

from backend.wechat import fake as fake_module
from backend.wechat.errors import WeChatUnavailable
from backend.wechat.fake import FakeWeChat, Reply, mini_reply
from backend.wechat.miniapp import MiniApp, image_type
from tests.conftest import FakeClock


@pytest.fixture
def fake():
    wechat = FakeWeChat(clock=FakeClock()).start()
    yield wechat
    wechat.close()
    assert wechat.crashes == [], wechat.crashes


@pytest.fixture
def miniapp(fake) -> MiniApp:
    return MiniApp(fake.appid, fake.secret, base_url=fake.url, redis_client=fakeredis.FakeRedis(),
                   key_prefix="test:")


def answer_codes_with(monkeypatch, reply: Reply) -> None:
    monkeypatch.setitem(fake_module.MINI_ROUTES, ("POST", "/wxa/getwxacodeunlimit"), lambda self, query, body: reply)


def test_a_mini_program_code_comes_back_as_the_jpeg_wechat_makes(miniapp):
    image, mimetype = miniapp.mini_program_code("TH2026-00000001", page="pages/certificate/detail")
    assert (mimetype, image[:3]) == ("image/jpeg", b"\xff\xd8\xff")


def test_a_png_is_taken_as_a_png_whatever_the_header_says(miniapp, monkeypatch):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    answer_codes_with(monkeypatch, Reply(200, png, (("Content-Type", "image/jpeg"),)))
    assert miniapp.mini_program_code("TH2026-00000001") == (png, "image/png")


@pytest.mark.parametrize("reply", [
    mini_reply({"errcode": 0, "errmsg": "ok"}),                            # JSON, but no image
    Reply(200, b"<html>502 Bad Gateway</html>", (("Content-Type", "text/html"),)),
    Reply(200, b"GIF89a" + b"\x00" * 16, (("Content-Type", "image/gif"),)),
])
def test_anything_but_a_jpeg_or_png_is_wechat_unavailable(miniapp, monkeypatch, reply):
    answer_codes_with(monkeypatch, reply)
    with pytest.raises(WeChatUnavailable, match="no JPEG or PNG"):
        miniapp.mini_program_code("TH2026-00000001")


def test_an_errcode_is_wechat_unavailable_with_the_code(miniapp, fake):
    fake.fail_next("/wxa/getwxacodeunlimit", 45009, "reach max api daily quota limit")
    with pytest.raises(WeChatUnavailable) as unavailable:
        miniapp.mini_program_code("TH2026-00000001")
    assert unavailable.value.details == {"errcode": 45009}


def test_image_type_reads_the_signature_only():
    assert image_type(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert image_type(b"\x89PNG\r\n\x1a\n") == "image/png"
    assert image_type(b'{"errcode":40001}') is None and image_type(b"") is None

"""A certificate's QR opened on a phone, in WeChat's in-app browser: the verify page as headless Chromium draws it.

The HTML tests (test_verify.py) say the right words are in the page; these say a person sees them: the verdict,
number and quantity are displayed, drawn with a real Chinese font, in the first screenful of a 390 px wide phone
that never scrolls sideways. Each case leaves a screenshot in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By

from tests.certificates.test_certificates import retire

pytest_plugins = ("tests.browser",)

GREEN, RED = "rgba(26, 127, 55, 1)", "rgba(198, 40, 40, 1)"  # verify.html's --ok and --bad


@pytest.fixture
def batch(operator):
    return operator.registered_project(quantity_g=100_000_000)["batch"]


@pytest.fixture
def certificate(client, operator, batch):
    number = retire(operator, batch, "browser-1")["certificate_no"]  # 350 000 g for 张三丰
    return client.get(f"/api/v1/certificates/{number}").get_json()


@pytest.fixture
def other(client, operator, batch):
    number = retire(operator, batch, "browser-2", amount_g=1_500_000, beneficiary_name="李四")["certificate_no"]
    return client.get(f"/api/v1/certificates/{number}").get_json()


def scan(phone, live_server, number: str, jws: str) -> dict:
    """Open the URL a certificate's QR holds, as the phone would after scanning it; return the page's parts."""
    phone.driver.get(f"{live_server.url}/v/{number}?{urlencode({'jws': jws})}")
    return {part: phone.driver.find_element(By.ID, part) for part in ("verdict", "number", "quantity", "status")}


def assert_fits_a_phone(phone, *first_screenful) -> None:
    width, scroll_width, scroll_y = phone.driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth, window.scrollY]")
    # A phone lays a page out wider than its screen, then zooms out, when content overflows or the viewport meta
    # is missing; both make the text tiny, so both fail here.
    assert width == phone.width, f"a {phone.width} px phone lays the page out {width} px wide (zoomed out)"
    assert scroll_width <= phone.width, f"the page scrolls sideways on a phone: {scroll_width} px > {phone.width}"
    assert scroll_y == 0
    for element in first_screenful:  # above the fold: seen without scrolling
        bottom = element.rect["y"] + element.rect["height"]
        assert bottom <= phone.height, f"#{element.get_attribute('id')} ends at {bottom} px, below the first screen"


def assert_drawn_in_chinese(phone, css_selector: str) -> None:
    # Without a CJK font Chromium draws boxes (tofu) and the words are still "in the page"; only this tells.
    fonts = phone.rendered_fonts(css_selector)
    assert any("CJK" in family and glyphs > 0 for family, glyphs in fonts.items()), \
        f"{css_selector} was not drawn with a Chinese font: {fonts}"


def test_a_phone_shows_a_genuine_certificate_at_a_glance(phone, live_server, stores, certificate):
    page = scan(phone, live_server, certificate["number"], certificate["jws"])
    shot = phone.screenshot(f"verify-page-genuine-{stores.kind}")  # kept before the checks: a failure has one too

    assert all(element.is_displayed() for element in page.values()), \
        {part: element.is_displayed() for part, element in page.items()}
    assert "✓ 真实有效" in page["verdict"].text and "验证失败" not in page["verdict"].text
    assert page["number"].text == certificate["number"]
    assert page["quantity"].text == "350 千克"
    assert page["status"].text.startswith("有效")
    assert page["verdict"].value_of_css_property("background-color") == GREEN
    assert_fits_a_phone(phone, page["verdict"], page["number"], page["quantity"])
    assert_drawn_in_chinese(phone, "#verdict .mark")
    assert shot.stat().st_size > 10_000  # a blank 390×844 PNG is ~3 kB; this one has a page on it


def test_a_phone_shows_a_borrowed_qr_as_not_genuine(phone, live_server, stores, certificate, other):
    # Another real certificate's QR (its JWS) on this number's URL: a genuine signature over the wrong record.
    page = scan(phone, live_server, certificate["number"], other["jws"])
    phone.screenshot(f"verify-page-forged-{stores.kind}")

    assert page["verdict"].is_displayed()
    assert "✗ 验证失败" in page["verdict"].text and "真实有效" not in page["verdict"].text
    assert "二维码属于另一张证书" in page["verdict"].text  # and says why, for the person holding the phone
    assert page["verdict"].value_of_css_property("background-color") == RED
    assert_fits_a_phone(phone, page["verdict"])
    assert_drawn_in_chinese(phone, "#verdict .mark")


def test_a_phone_shows_a_witness_certificate_and_its_retirements(phone, live_server, stores, app, client, operator,
                                                                 batch):
    """A document: its title and facts read on a phone, its list of retirements never pushes the page sideways."""
    from tests.certificates.test_documents import CASE, TITLE, issue_witness, item_of

    numbers = [retire(operator, batch, f"witness-{i}", purpose="judicial", purpose_ref=CASE)["certificate_no"]
               for i in range(2)]
    listed = [client.get(f"/api/v1/certificates/{each}").get_json() for each in numbers]
    number = issue_witness(app, [item_of(certificate) for certificate in listed])
    witness = client.get(f"/api/v1/certificates/{number}").get_json()
    page = scan(phone, live_server, number, witness["jws"])
    title = phone.driver.find_element(By.ID, "title")
    phone.screenshot(f"verify-page-document-{stores.kind}")

    assert "✓ 真实有效" in page["verdict"].text and page["number"].text == number
    assert page["quantity"].text == "700 千克" and title.text.startswith(TITLE)
    links = phone.driver.find_elements(By.CSS_SELECTOR, "#items a")
    assert [link.text for link in links] == [certificate["number"] for certificate in listed]
    assert_fits_a_phone(phone, page["verdict"], page["number"], page["quantity"])
    assert_drawn_in_chinese(phone, "#title")

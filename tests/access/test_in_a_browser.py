"""The sign-in pages as a newcomer uses them, in headless Chromium against the served app with the demo loaded:
the demo operator signs in at /admin/ and sees their roles; the demo court's clerk signs in at /org/, sees theirs,
opens the members page and invites a second clerk; the second clerk opens the link in their own browser, makes an
account and lands in the portal as the court's clerk. Every asset the pages use comes from the app itself.
Screenshots land in test-artifacts/.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from admin import verifications
from backend import jobs
from backend.demo import DEMO_PASSWORD

pytest_plugins = ("tests.browser",)


@pytest.fixture
def demo_site(app, runner, live_server):
    with app.app_context():
        loaded = runner.invoke(args=["demo"])
    assert loaded.exit_code == 0, loaded.output
    app.config["PUBLIC_BASE_URL"] = live_server.url  # invitation links point at the served app
    return live_server


@pytest.fixture
def browser(phone):
    phone.driver.delete_all_cookies()  # each test is a different person on a fresh browser
    yield phone
    phone.driver.delete_all_cookies()


def submit(browser, form) -> None:
    """Press the form's button and wait for the next page (the old one's form goes stale)."""
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # Chromium may answer "node does not belong to the document" while the old page is torn down: that is the
    # page going, so it is waited through like staleness itself.
    WebDriverWait(browser.driver, 10, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.staleness_of(form))


def sign_in(browser, site, area: str, username: str, password: str = DEMO_PASSWORD) -> None:
    browser.driver.get(f"{site.url}/{area}/login")
    form = browser.driver.find_element(By.ID, "sign-in")
    form.find_element(By.NAME, "username").send_keys(username)
    form.find_element(By.NAME, "password").send_keys(password)
    submit(browser, form)


def text_of(browser, element_id: str) -> str:
    return browser.driver.find_element(By.ID, element_id).text


def assert_everything_comes_from_the_app(browser, site) -> None:
    origin = urlsplit(site.url).netloc
    sources = browser.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat([...document.styleSheets].map(s => s.href).filter(Boolean))")
    assert sources, "the page should load its stylesheet from the app"
    assert all(urlsplit(source).netloc in ("", origin) for source in sources if not source.startswith("data:")), \
        sources


def test_the_demo_operator_signs_in_and_sees_their_roles(browser, demo_site):
    sign_in(browser, demo_site, "admin", "admin")
    assert browser.driver.current_url == f"{demo_site.url}/admin/"
    assert "平台管理员（演示）" in text_of(browser, "who")
    assert "平台 · 平台管理员 (admin)" in text_of(browser, "roles")
    assert_everything_comes_from_the_app(browser, demo_site)
    browser.screenshot("admin-home")


def test_the_operators_dashboard_draws_its_charts_beside_the_tables(app, browser, demo_site):
    with app.app_context():  # the verifiers' hourly pass, as the job workers would run it
        for kind in verifications.KINDS:
            verifications.ask_by_hand(kind, "schedule")
    jobs.drain(app)
    with browser.desktop(height=1100):
        sign_in(browser, demo_site, "admin", "admin")
        for chart in ("retired-chart", "inventory-chart"):  # drawn by the app's own ECharts (a canvas each)
            WebDriverWait(browser.driver, 10).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, f"#{chart} canvas")))
        assert "个人自愿" in text_of(browser, "retired-by-purpose")
        assert "SC-FOR-510129-0001-2023-01" in text_of(browser, "inventory")
        assert all("通过" in text_of(browser, f"verifier-{kind}") for kind in verifications.KINDS)
        assert_everything_comes_from_the_app(browser, demo_site)
        browser.driver.execute_script("document.getElementById('dashboard').scrollIntoView()")
        browser.screenshot("admin-dashboard")


def test_a_wrong_password_keeps_the_person_on_the_form_with_a_reason(browser, demo_site):
    sign_in(browser, demo_site, "admin", "admin", password="not-the-password")
    assert browser.driver.current_url == f"{demo_site.url}/admin/login"
    assert "用户名或密码不正确" in text_of(browser, "error")


def test_the_court_clerk_invites_a_second_clerk_who_joins_from_the_link(browser, demo_site):
    sign_in(browser, demo_site, "org", "court-clerk")
    assert browser.driver.current_url == f"{demo_site.url}/org/"
    assert "大邑县人民法院（演示） · 机构管理员 (org_admin)" in text_of(browser, "roles")
    browser.screenshot("org-home-court-clerk")

    members_link = browser.driver.find_element(By.LINK_TEXT, "成员")
    members_link.click()
    WebDriverWait(browser.driver, 10, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.staleness_of(members_link))
    assert "court-clerk" in text_of(browser, "members")
    invite = browser.driver.find_element(By.ID, "invite")
    Select(invite.find_element(By.NAME, "role")).select_by_value("clerk")
    invite.find_element(By.NAME, "note").send_keys("新来的书记员")
    submit(browser, invite)
    link = browser.driver.find_element(By.CSS_SELECTOR, "#invitation-link .mono").text
    assert link.startswith(f"{demo_site.url}/org/invite/thi_")
    assert "新来的书记员" in text_of(browser, "pending")
    browser.screenshot("org-members-invited")

    browser.driver.delete_all_cookies()  # the second clerk, on their own phone
    browser.driver.get(link)
    assert "大邑县人民法院（演示）" in text_of(browser, "invitation")
    form = browser.driver.find_element(By.ID, "create-account")
    for name, value in (("username", "clerk.zhou"), ("display_name", "周书记员"), ("password", "zhou-clerk-2026"),
                        ("password_again", "zhou-clerk-2026")):
        form.find_element(By.NAME, name).send_keys(value)
    submit(browser, form)
    assert browser.driver.current_url == f"{demo_site.url}/org/"
    assert "周书记员" in text_of(browser, "who")
    assert "大邑县人民法院（演示） · 经办人 (clerk)" in text_of(browser, "roles")
    browser.screenshot("org-home-second-clerk")

    browser.driver.get(link)  # the link worked once
    assert "邀请链接无效、已使用或已过期" in text_of(browser, "problem")

"""The event pages as people see them on a phone, in headless Chromium against the served app: the public page of
the neutral Chengdu forum runs no script at all and still shows its progress bar; the organiser's event page
draws its two charts with the ECharts copy the app serves, under the pages' Content-Security-Policy
(``script-src 'self'``, ``style-src 'self'``) and without one violation of it. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.scenarios.events.test_pages import neutralised
from tests.staff.conftest import PASSWORD, People

pytest_plugins = ("tests.browser",)

# Runs before any of the page's own scripts, in the page's world: every CSP violation the page causes is kept.
WATCH_CSP = ("window.cspViolations = [];"
             "document.addEventListener('securitypolicyviolation', function (e) {"
             "  window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI); });")


@pytest.fixture
def browser(phone):
    phone.driver.delete_all_cookies()
    phone.driver.execute_cdp_cmd("Page.enable", {})
    watcher = phone.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_CSP})
    yield phone
    phone.driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": watcher["identifier"]})
    phone.driver.delete_all_cookies()


def loaded_from(browser) -> set[str]:
    return {urlsplit(name).netloc for name in browser.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")}


def test_the_public_page_runs_no_script_and_the_organisers_page_draws_both_charts(
        app, client, clock, forum_organiser, finance, listing, fake_wechat, password_hash, live_server,
        browser):
    shown = neutralised(app, client, clock, forum_organiser, finance, listing, fake_wechat)
    site = live_server.url
    origin = urlsplit(site).netloc

    browser.driver.get(f"{site}/e/{shown['id']}")
    assert browser.driver.find_element(By.ID, "name").text == shown["name"]
    assert browser.driver.execute_script("return document.scripts.length") == 0
    bar = browser.driver.find_element(By.CSS_SELECTOR, ".bar span")
    assert bar.size["width"] > 0.95 * bar.find_element(By.XPATH, "..").size["width"]  # 100%, drawn by CSS alone
    assert browser.driver.execute_script("return document.documentElement.scrollWidth") <= browser.width
    assert browser.driver.execute_script("return window.cspViolations") == []
    browser.screenshot("event-public-page")

    People(app, password_hash).make("clerk.wang", "clerk", organisation_id=forum_organiser.id)
    browser.driver.get(f"{site}/org/login?next=/org/events/{shown['id']}")
    form = browser.driver.find_element(By.ID, "sign-in")
    form.find_element(By.NAME, "username").send_keys("clerk.wang")
    form.find_element(By.NAME, "password").send_keys(PASSWORD)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser.driver, 10, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.staleness_of(form))
    assert browser.driver.current_url == f"{site}/org/events/{shown['id']}"

    for chart in ("plan-chart", "final-chart"):
        WebDriverWait(browser.driver, 10).until(
            lambda driver, chart=chart: driver.find_elements(By.CSS_SELECTOR, f"#{chart} canvas"))
        canvas = browser.driver.find_element(By.CSS_SELECTOR, f"#{chart} canvas")
        assert canvas.size["width"] > 200 and canvas.size["height"] >= 200, (chart, canvas.size)
    assert browser.driver.execute_script("return window.cspViolations") == []
    assert loaded_from(browser) <= {origin}  # ECharts and everything else from the app itself
    with browser.desktop():  # at a desk the two charts sit side by side, each drawn within its own half
        browser.driver.refresh()
        plan, final = browser.chart_boxes("plan-chart", "final-chart")
        assert plan["canvas"][2] == plan["figure"][2] < plan["row"] / 2 + 1, (plan, final)
        assert final["canvas"][2] == final["figure"][2] and final["figure"][0] >= plan["figure"][0] + plan["figure"][2]
    browser.driver.execute_script("document.getElementById('breakdown-section').scrollIntoView()")
    browser.screenshot("event-organiser-charts")

"""Looking at pages as a person on a phone would: headless Chromium driven by selenium against the real app.

Loaded as a pytest plugin by the tests that need it (``pytest_plugins = ("tests.browser",)``), so no other test
pays for a browser. Fixtures:

- ``chromium`` (session): Debian's ``chromium`` and ``chromium-driver``, installed with apt-get when missing, and
  a fontconfig file that adds the Noto Sans CJK font the app already ships with (the ``noto-cjk-sans-otc`` wheel)
  so Chinese renders as glyphs without the large fonts-noto-cjk package. A failed install FAILS the tests: CI must
  not go green because a tool was missing.
- ``phone`` (module): one headless Chromium sized and labelled like WeChat's in-app browser on a phone.
- ``live_server`` (test): the test's own ``app`` served over HTTP, so the store parametrisation and the
  invariant checks after each test apply as everywhere else.

Screenshots go to ``test-artifacts/`` at the repository root, or ``$TEST_ARTIFACTS_DIR``.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from werkzeug.serving import make_server

from backend.certificates.fonts import packaged_font_path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ("chromium", "chromium-driver")
APT_TIMEOUT_SECONDS = 900  # a cold install downloads ~130 MB; a stuck mirror must not hang CI for 90 minutes

PHONE_WIDTH, PHONE_HEIGHT = 390, 844  # an iPhone 12–15 sized viewport, in CSS pixels
# WeChat's in-app browser on Android (XWEB): pages may sniff "MicroMessenger" to adapt, so the test says it.
WECHAT_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.120 Mobile Safari/537.36 XWEB/1220099 "
                     "MMWEBSDK/20240301 MMWEBID/6167 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin "
                     "NetType/WIFI Language/zh_CN ABI/arm64")

REPO_ROOT = Path(__file__).resolve().parent.parent


def artifacts_dir() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR") or REPO_ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- installing the browser ---------------------------------------------------------------------------------------

def _browser_installed() -> bool:
    return all(os.access(path, os.X_OK) for path in (CHROMIUM, CHROMEDRIVER))


def _apt(*args: str) -> subprocess.CompletedProcess:
    # Root here and in CI; a developer's own machine may need sudo, never a password prompt (-n) in a test run.
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run([*prefix, "apt-get", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=APT_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as error:
        return subprocess.CompletedProcess([*prefix, "apt-get", *args], 1, "", str(error))


def _apt_failure(step: str, result: subprocess.CompletedProcess) -> str:
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
    return (f"could not install the test browser ({' '.join(APT_PACKAGES)}): `{' '.join(result.args)}` "
            f"exited {result.returncode} during {step}:\n{tail}")


def ensure_chromium() -> float:
    """Install Debian's Chromium and its driver unless present; return the seconds spent installing (0 if none)."""
    if _browser_installed():
        return 0.0
    started = time.monotonic()
    install = ("install", "-y", "--no-install-recommends", *APT_PACKAGES)
    result = _apt(*install)
    if result.returncode != 0:
        # A fresh machine has no package lists yet ("Unable to locate package"): fetch them once and retry.
        update = _apt("update")
        if update.returncode != 0:
            pytest.fail(_apt_failure("apt-get update", update), pytrace=False)
        result = _apt(*install)
    if result.returncode != 0:
        pytest.fail(_apt_failure("apt-get install", result), pytrace=False)
    if not _browser_installed():
        pytest.fail(f"apt-get installed {APT_PACKAGES} but {CHROMIUM} or {CHROMEDRIVER} is still missing",
                    pytrace=False)
    return time.monotonic() - started


# --- fonts ---------------------------------------------------------------------------------------------------------

def write_fontconfig(workdir: Path) -> Path:
    """A fontconfig file: the system's usual configuration plus the directory of the app's packaged CJK font.

    Chromium on Linux finds fonts through fontconfig only; pointing FONTCONFIG_FILE at this file adds Noto Sans
    CJK without installing it system-wide. The cache goes to the test's own directory, not the user's home.
    """
    try:
        font_dir = Path(packaged_font_path()).parent
    except FileNotFoundError as error:
        pytest.fail(f"no CJK font for the browser: {error}", pytrace=False)
    config = workdir / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{escape(str(font_dir))}</dir>\n"
        f"  <cachedir>{escape(str(workdir / 'fontconfig-cache'))}</cachedir>\n"
        "</fontconfig>\n", encoding="utf-8")
    return config


@dataclass(frozen=True)
class Chromium:
    browser: Path
    driver: Path
    fontconfig: Path
    install_seconds: float


@pytest.fixture(scope="session")
def chromium(tmp_path_factory) -> Chromium:
    install_seconds = ensure_chromium()
    fontconfig = write_fontconfig(tmp_path_factory.mktemp("fontconfig"))
    return Chromium(CHROMIUM, CHROMEDRIVER, fontconfig, install_seconds)


# --- the browser ---------------------------------------------------------------------------------------------------

def start_phone_browser(chromium: Chromium):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    # Both paths given: selenium then skips Selenium Manager, which would try to download a browser.
    options.binary_location = str(chromium.browser)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={PHONE_WIDTH},{PHONE_HEIGHT}", "--hide-scrollbars", "--lang=zh-CN",
                     f"--user-agent={WECHAT_USER_AGENT}"):
        options.add_argument(argument)
    # chromedriver passes its environment on to Chromium, and with it the font configuration.
    service = Service(str(chromium.driver), env={**os.environ, "FONTCONFIG_FILE": str(chromium.fontconfig)})
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except Exception as error:
        pytest.fail(f"headless Chromium did not start: {error}", pytrace=False)
    # --window-size sets the window, not the page: make the page itself phone-sized, whatever the platform adds.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": PHONE_WIDTH, "height": PHONE_HEIGHT, "deviceScaleFactor": 1, "mobile": True})
    driver.set_page_load_timeout(30)
    return driver




# --- the app over HTTP ---------------------------------------------------------------------------------------------

class LiveServer:
    """The test's app on a free loopback port, served from a thread until the test ends."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server


# --- looking at the page -------------------------------------------------------------------------------------------

class Phone:
    """A phone's browser: the selenium ``driver`` plus what the tests ask of a page beyond WebDriver.

    Tests reach these helpers through the fixture rather than importing this module, so that pytest loads it
    once, as the plugin it is.
    """

    width, height = PHONE_WIDTH, PHONE_HEIGHT

    def __init__(self, driver) -> None:
        self.driver = driver

    def rendered_fonts(self, css_selector: str) -> dict[str, int]:
        """The fonts Chromium really drew an element's own text with, as {family: glyph count} (DevTools'
        "Rendered Fonts"): a CSS font-family list only says what was asked for, and a missing CJK font draws boxes."""
        cdp = self.driver.execute_cdp_cmd
        cdp("DOM.enable", {})
        cdp("CSS.enable", {})
        root = cdp("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp("DOM.querySelector", {"nodeId": root, "selector": css_selector})["nodeId"]
        if not node:
            raise LookupError(f"no element matches {css_selector!r}")
        return {font["familyName"]: font["glyphCount"]
                for font in cdp("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]}

    @contextmanager
    def desktop(self, width: int = 1280, height: int = 1600):
        """The page as a desktop browser lays it out (staff at their desks), then the phone again."""
        metrics = self.driver.execute_cdp_cmd
        metrics("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                       "mobile": False})
        try:
            yield self
        finally:
            metrics("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                           "deviceScaleFactor": 1, "mobile": True})

    def chart_boxes(self, *element_ids: str) -> list[dict[str, Any]]:
        """Where each chart's figure and the canvas ECharts drew in it lie on the page ([left, top, width, height];
        canvas None: not drawn), with the width of the row the figure sits in."""
        return self.driver.execute_script("""
            return arguments[0].map(function (id) {
              var figure = document.getElementById(id), canvas = figure.querySelector("canvas");
              var box = function (e) { var r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
              return {id: id, figure: box(figure), canvas: canvas && box(canvas),
                      row: figure.parentElement.getBoundingClientRect().width};
            });""", list(element_ids))

    def screenshot(self, name: str) -> Path:
        """What the first screenful looks like, kept as a test artifact: ``<artifacts>/<name>.png``."""
        path = artifacts_dir() / f"{name}.png"
        if not self.driver.save_screenshot(str(path)):
            raise OSError(f"the browser did not save the screenshot {path}")
        return path


@pytest.fixture(scope="module")
def phone(chromium):
    # One browser per module: starting Chromium costs about a second, a page load a few milliseconds.
    driver = start_phone_browser(chromium)
    yield Phone(driver)
    driver.quit()

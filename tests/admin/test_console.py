"""The console's frame: the sections across the top name real pages, and each reader sees the ones they may open."""

from __future__ import annotations

import base64

import pytest

from admin import SECTIONS
from tests.staff.conftest import Browser, People


def test_every_section_is_a_page_of_the_console(app):
    pages = {(rule.rule, rule.endpoint) for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    assert all((path, endpoint) in pages for path, endpoint in ((p, e) for p, _, e in SECTIONS)), SECTIONS


@pytest.mark.parametrize("role, hidden", [("admin", set()), ("reviewer", {"审计", "员工账号"}),
                                          ("finance", {"审计", "员工账号"}), ("auditor", set())])
def test_each_reader_sees_the_sections_they_may_open(app, password_hash, role, hidden):
    People(app, password_hash).make("someone", role)
    browser = Browser(app)
    browser.sign_in("someone")
    shown = browser.open("/admin/").text("sections").split()
    assert shown == [label for _, label, _ in SECTIONS if label not in hidden]
    for path, label, _ in SECTIONS:
        assert (browser.get(path).status_code == 200) == (label not in hidden), (role, path)


@pytest.mark.parametrize("forged", ['["\\u0000", 1]', '["\\ud800", 1]', "[100000000000000000000000000000, 1]",
                                    "[" * 900 + "]" * 900, '[true, 1]', '{"dt": "yesterday"}'])
def test_a_forged_cursor_is_a_400_naming_after_on_any_list(app, password_hash, forged):
    People(app, password_hash).make("someone", "auditor")
    browser = Browser(app)
    browser.sign_in("someone")
    cursor = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
    for path in ("/admin/orders?sort=id", "/admin/organisations?sort=name", "/admin/certificates?sort=number",
                 "/admin/audit"):
        page = browser.open(f"{path}&after={cursor}" if "?" in path else f"{path}?after={cursor}")
        assert page.status == 400 and "after" in page.text("problem"), (path, forged)

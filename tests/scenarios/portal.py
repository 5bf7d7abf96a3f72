"""Reading the organisation portal's pages in tests: who signs in, the message beside a field, what was typed."""

from __future__ import annotations

import re

import pytest

from tests.staff.conftest import PASSWORD, Browser, Page, People

_INVALID = re.compile(r'<(label|div) class="field invalid"[^>]*>(.*?)</\1>', re.S)


def beside(page: Page, name: str) -> str | None:
    """The message a page shows beside the field ``name``, or None."""
    for _, block in _INVALID.findall(page.html):
        if f'name="{name}"' in block:
            found = re.search(r'<em class="why">(.*?)</em>', block, re.S)
            return found.group(1) if found else None
    return None


def typed(page: Page, form_id: str, name: str) -> str:
    return page.form(form_id).field(name).get("value", "")


@pytest.fixture
def people(app, password_hash):
    return People(app, password_hash)


def sign_in(app, username: str) -> Browser:
    """A fresh browser signed in at /org/login (a sign-in lasts hours: after days, one signs in again)."""
    browser = Browser(app)
    response = browser.sign_in(username, PASSWORD, area="org")
    assert response.status_code == 302 and response.location == "/org/", response.location
    return browser


def signed_in(app, people, username: str, role: str, organisation_id: int) -> Browser:
    people.make(username, role, organisation_id=organisation_id)
    return sign_in(app, username)

"""How long a mini-program session lives: 7 days unless refreshed, 30 days from its login however often it is
refreshed, and never past "sign out everywhere" (issue 12).

Lifetimes are judged by the app's clock, which these tests move by hand; Redis's own expiry only clears away what
is already over.
"""

from __future__ import annotations

import threading

import pytest

from tests.envelope import refused
from tests.miniprogram.conftest import Citizen

DAY = 86400


def refresh(citizen: Citizen) -> dict:
    response = citizen.post("/auth/refresh")
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    citizen.token = answer["token"]
    return answer


def test_a_session_not_refreshed_within_its_seven_days_is_refused(client, clock, fake_wechat):
    citizen = Citizen(client, "weekly")
    assert citizen.login["expires_in"] == 7 * DAY
    clock.advance(days=7, seconds=-1)
    assert citizen.get("/me").status_code == 200

    clock.advance(seconds=1)
    refused(citizen.get("/me"), 401, "session_expired")
    refused(citizen.post("/auth/refresh"), 401, "session_expired")  # too late to refresh it, too
    # WeChat logs her in again at once.
    assert Citizen(client, "weekly").get("/me").status_code == 200


def test_refreshing_cannot_keep_a_session_past_thirty_days_from_its_login(client, clock, fake_wechat):
    citizen = Citizen(client, "keeps-refreshing")
    # Every six days her mini-program swaps the token for a fresh one, good for another seven days...
    for _ in range(3):
        clock.advance(days=6)
        assert refresh(citizen)["expires_in"] == 7 * DAY
    # ...until the fourth swap, on day 24, which is good only until day 30 of the login.
    clock.advance(days=6)
    assert refresh(citizen)["expires_in"] == 6 * DAY

    clock.advance(days=6, seconds=-1)
    assert citizen.get("/me").status_code == 200
    # Day 30: refreshed only six days ago, yet over.
    clock.advance(seconds=1)
    refused(citizen.get("/me"), 401, "session_expired")
    refused(citizen.post("/auth/refresh"), 401, "session_expired")


def test_signing_out_everywhere_ends_every_session_of_hers_and_no_one_elses(client, fake_wechat):
    phone, tablet = Citizen(client, "alice"), Citizen(client, "alice")  # one person, two devices
    assert phone.login["user"]["id"] == tablet.login["user"]["id"]
    bob = Citizen(client, "bob")
    refresh(tablet)  # a refreshed token is one of hers too

    # She lost her tablet: from her phone, she signs out everywhere.
    answer = phone.post("/auth/logout-all")
    assert answer.status_code == 200 and answer.get_json() == {"logged_out": True, "sessions_ended": 2}
    for device in (phone, tablet):
        refused(device.get("/me"), 401, "session_expired")
        refused(device.post("/auth/refresh"), 401, "session_expired")
    # Bob is not signed out.
    assert bob.get("/me").status_code == 200
    # She signs in again on her phone; the lost tablet stays signed out.
    assert Citizen(client, "alice").get("/me").status_code == 200
    refused(tablet.get("/me"), 401, "session_expired")
    # Signing out everywhere needs a live session, like everything that is someone's own.
    refused(tablet.post("/auth/logout-all"), 401, "session_expired")


@pytest.mark.services_only
def test_a_stolen_token_refreshed_again_and_again_does_not_outlive_signing_out_everywhere(app, fake_wechat):
    """Refreshing deletes the old token and writes a new one; a sign-out everywhere landing in between must not
    miss the new one. The thief refreshes in a tight loop on one connection while the owner signs out on another."""
    owner, thief = Citizen(app.test_client(), "victim"), Citizen(app.test_client(), "victim")
    refreshed, stop = threading.Semaphore(0), threading.Event()

    def keep_refreshing() -> None:
        while not stop.is_set():
            response = thief.post("/auth/refresh")
            if response.status_code != 200:
                return
            thief.token = response.get_json()["token"]
            refreshed.release()

    thread = threading.Thread(target=keep_refreshing)
    thread.start()
    try:
        for _ in range(20):  # the loop is well under way
            assert refreshed.acquire(timeout=10)
        assert owner.post("/auth/logout-all").status_code == 200
    finally:
        stop.set()
        thread.join(10)
    refused(thief.get("/me"), 401, "session_expired")
    refused(owner.get("/me"), 401, "session_expired")

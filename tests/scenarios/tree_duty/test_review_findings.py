"""What a hostile review of the tree-duty scenario found, each as the story that shows it.

- A voucher already issued decides the year: a reviewer raising a threshold afterwards, or a citizen correcting
  their birth year afterwards, must not make the year look undischarged and take money that earns nothing.
- A reviewer's change that blanks a required field of a rule is a 400 naming it, not a 500.
- Jobs queued "after commit" wait for the transaction itself: not for a savepoint inside it, and not lost
  because another savepoint rolled back.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session

from backend import jobs
from backend.db import get_engine
from tests.scenarios.tree_duty.conftest import HUNAN, SICHUAN
from tests.test_jobs import handler  # noqa: F401  (the fixture: test handlers, forgotten after the test)


def pay(fake_wechat, citizen, order: dict) -> dict:
    fake_wechat.pay(order["order_no"])
    return citizen.status_of(order["order_no"])


def revise(client, operator, key: str, **changes):
    return client.patch(f"/api/admin/v1/tree-duty/rules/{key}", json={"reason": "审核员修改", **changes},
                        headers=operator.headers)


# --- a voucher, once issued, stands ----------------------------------------------------------------------------------

def test_sichuan_publishing_60_yuan_after_zhang_paid_the_assumed_45_leaves_his_year_discharged(
        client, operator, person, listing, fake_wechat):
    """张 pays Sichuan's assumed 45 yuan in March and gets his duty voucher. In April the provincial committee
    publishes 60 yuan and a reviewer revises the rule. His year is still discharged (a year is judged under the
    version it began with, and the voucher names it): the page says so, offers no 15-yuan "top-up" to the duty, and
    an order for the duty is refused — before the fix it took 15 yuan, retired the credits and issued nothing."""
    zhang = person(real_name="张川", birth_year=1988, sex="male", region=SICHUAN)
    pay(fake_wechat, zhang, zhang.duty_order(listing, year=2026, region=SICHUAN))
    assert zhang.year(2026)["status"] == "duty_done"

    revised = revise(client, operator, "sichuan", duty_fen=6000, status="official")
    assert revised.status_code == 200 and revised.get_json()["version"] == 2

    year = zhang.year(2026)
    assert (year["status"], year["trees"], year["paid_fen"]) == ("duty_done", 3, 4500)
    assert year["rule"]["version"] == 1 and year["due_fen"]["duty"] is None  # judged under the version it began with
    assert year["due_fen"]["honour"] == 4500  # the honour threshold is still 90: 45 more
    [voucher] = year["vouchers"]
    assert voucher["tier"] == "duty" and voucher["rule"]["version"] == 1

    again = zhang.post("/orders", {"listing_id": listing, "purpose": "tree_duty",
                                   "tree_duty": {"year": 2026, "region": SICHUAN}}, key="duty-after-revision")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "tree_duty_done"


def test_a_girl_whose_honour_voucher_came_before_her_birth_year_was_corrected_pays_nothing_more_for_nothing(
        person, listing, fake_wechat):
    """小雨's father first types 2016 as her birth year: at 10 she owes nothing, so her 45 yuan in Hunan earns the
    honour voucher. He corrects it to 2000 (26, of duty age). Her year already has its honour voucher — the top
    voucher there is — so a further order is refused; before the fix the page offered 45 yuan "to honour", and
    paying it retired 0.75 t with no voucher at all."""
    yu = person(real_name="陈小雨", birth_year=2016, sex="female", region=HUNAN)
    pay(fake_wechat, yu, yu.duty_order(listing, year=2026, region=HUNAN))
    assert [v["tier"] for v in yu.year(2026)["vouchers"]] == ["honour"]

    yu.profile(birth_year=2000)
    year = yu.year(2026)
    assert year["person"]["of_duty_age"] is True
    assert (year["status"], year["trees"]) == ("honour", 3)
    assert year["due_fen"] == {"duty": None, "honour": None}

    more = yu.post("/orders", {"listing_id": listing, "purpose": "tree_duty",
                               "tree_duty": {"year": 2026, "region": HUNAN, "tier": "honour"}}, key="honour-again")
    assert more.status_code == 409 and more.get_json()["error"]["code"] == "tree_duty_honoured"


# --- a reviewer's change ----------------------------------------------------------------------------------------------

def test_a_reviewer_blanking_a_required_field_of_hunans_rule_is_told_which_and_nothing_changes(client, operator):
    """A reviewer's form sends null for the fields left empty. Each null for a field every rule has (the name, the
    duty threshold and trees, whether payments add up, the ages, the start, the status, the source) is a 400 naming
    that field — before the fix each was a 500 from the database or a comparison with None — and the rule stays at
    version 1. Null is a value only where a rule may have none: effective_to, the honour pair, the note."""
    for field in ("name", "effective_from", "duty_fen", "duty_trees", "accumulates", "min_age", "max_age_male",
                  "max_age_female", "status", "source"):
        response = revise(client, operator, "hunan", **{field: None})
        assert response.status_code == 400, (field, response.get_json())
        assert [d["field"] for d in response.get_json()["error"]["details"]] == [field]
    history = client.get("/api/v1/tree-duty/rules/hunan").get_json()["items"]
    assert [rule["version"] for rule in history] == [1]

    no_honour = revise(client, operator, "hunan", honour_fen=None, honour_trees=None, note=None)
    assert no_honour.status_code == 200
    assert (no_honour.get_json()["version"], no_honour.get_json()["honour_fen"]) == (2, None)


# --- jobs that follow a commit ----------------------------------------------------------------------------------------

def test_a_staff_lists_voucher_job_is_queued_when_its_payment_commits_and_only_then(app, handler):
    """A paid staff list's vouchers are issued by a job queued from inside the order's savepoint (``_fulfil`` runs
    the retirement in ``begin_nested``). Before the fix, releasing that savepoint already pushed the job to Redis:
    a worker could take it before the payment was committed (and find the list unpaid), and a payment whose
    transaction then failed left its job queued anyway. And a savepoint rolled back later in the same transaction
    (another order whose credits were gone) threw away the jobs the transaction had queued before it."""
    ran = []
    handler("test.issue_vouchers", lambda roster_id: ran.append(roster_id))

    def queued() -> int:
        with app.app_context():
            return jobs.status()["queued"]

    with app.app_context():
        with Session(get_engine()) as session:
            session.execute(text("SELECT 1"))
            jobs.enqueue_after_commit(session, ("test.issue_vouchers", {"roster_id": 1}))  # the list paid first
            with session.begin_nested():  # the next list's payment: retired, its job queued, savepoint released
                jobs.enqueue_after_commit(session, ("test.issue_vouchers", {"roster_id": 2}))
            assert queued() == 0  # nothing is committed yet: no worker may start on it
            with pytest.raises(LookupError), session.begin_nested():  # a third payment, its credits gone: rolled back
                jobs.enqueue_after_commit(session, ("test.issue_vouchers", {"roster_id": 3}))
                raise LookupError("credits gone")
            assert queued() == 0
            session.commit()
        assert queued() == 2
        jobs.drain(app)
        assert sorted(ran) == [1, 2]

        with Session(get_engine()) as session:  # a payment whose transaction fails as a whole queues nothing
            session.execute(text("SELECT 1"))
            with session.begin_nested():
                jobs.enqueue_after_commit(session, ("test.issue_vouchers", {"roster_id": 4}))
            session.rollback()
        with Session(get_engine()) as session:  # nor one whose session is closed without a commit
            session.execute(text("SELECT 1"))
            jobs.enqueue_after_commit(session, ("test.issue_vouchers", {"roster_id": 5}))
        assert queued() == 0


# --- someone else's family -------------------------------------------------------------------------------------------

def test_looking_at_a_family_member_who_is_someone_elses_is_a_documented_404(person):
    """李 added her mother; 王 asks for the year of 李's mother by her id. He is told no such member (404) — a
    status /openapi.json now lists for the route (before, the answer was one the document did not declare)."""
    li = person(real_name="李湘", region=HUNAN)
    mother = li.post("/tree-duty/members", {"name": "李母", "birth_year": 1975, "sex": "female"}).get_json()
    assert li.year(2026, member_id=mother["id"])["person"]["relation"] == "family"

    wang = person(real_name="王小林")
    response = wang.get("/tree-duty", query_string={"year": 2026, "member_id": mother["id"]})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"

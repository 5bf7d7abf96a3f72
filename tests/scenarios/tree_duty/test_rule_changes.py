"""A reviewer changes a region's rule by writing its next version, with a reason: vouchers keep the version they
were issued under, a year begun under a version is finished under it, and new years take the new version. Only a
reviewer (or an admin) may; periods of one region never overlap; a bad field is a 400 naming it."""

from __future__ import annotations

import pytest

from tests.conftest import staff_member
from tests.envelope import refused
from tests.scenarios.tree_duty.conftest import BEIJING, voucher_of

RULE = "/api/admin/v1/tree-duty/rules"
RAISED = {"reason": "北京市绿化委员会通知：购买碳汇满90元计3株（示例）", "duty_fen": 9000}
NEW_PERIOD = {"key": "beijing-2027", "region": BEIJING, "name": "北京市", "effective_from": "2027-01-01",
              "duty_fen": 9000, "duty_trees": 3, "accumulates": True, "status": "official",
              "source": "北京市绿化委员会 2027 年通知（示例）"}


def patch(client, member, key: str, body: dict):
    return client.patch(f"{RULE}/{key}", json=body, headers=member.headers)


def test_a_reviewer_raises_beijings_threshold_and_old_vouchers_keep_version_1(client, person, listing, fake_wechat,
                                                                              reviewer):
    wang = person(real_name="王小林", region=BEIJING)
    old = wang.paid(fake_wechat, listing, year=2026, region=BEIJING)["certificate_no"]

    changed = patch(client, reviewer, "beijing-2010", RAISED)
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["version"], changed.get_json()["duty_fen"], changed.get_json()["current"]) == (
        2, 9000, True)
    versions = client.get("/api/v1/tree-duty/rules/beijing-2010").get_json()["items"]
    assert [(v["version"], v["duty_fen"], v["current"]) for v in versions] == [(1, 6000, False), (2, 9000, True)]
    assert patch(client, reviewer, "beijing-2010", RAISED).get_json()["version"] == 2  # no change, no version

    # 王小林's voucher was issued under version 1 and says so still; his year stays done under it.
    assert voucher_of(client, old)["payload"]["record"]["rule"]["version"] == 1
    year = wang.year()
    assert (year["status"], year["trees"], year["rule"]["version"]) == ("duty_done", 3, 1)
    refused(wang.try_order(listing, year=2026, region=BEIJING), 409, "tree_duty_done")

    # 李明 starts his year now: version 2's 90 yuan, and his voucher names version 2.
    li = person(real_name="李明", region=BEIJING)
    assert li.year()["due_fen"]["duty"] == 9000
    new = li.paid(fake_wechat, listing, year=2026, region=BEIJING)
    assert (new["amount_fen"], new["quantity_g"]) == (9000, 1_500_000)
    record = voucher_of(client, new["certificate_no"])["payload"]["record"]
    assert (record["rule"]["version"], record["rule"]["duty_fen"], record["amount_fen"]) == (2, 9000, 9000)
    assert li.year()["vouchers"][0]["rule"] == {"key": "beijing-2010", "version": 2}


def test_a_year_begun_under_a_rule_is_finished_under_it(person, listing, fake_wechat, reviewer, client):
    """湖南's 李湘 has paid 30 of the 45 yuan; the reviewer raises the duty to 60 yuan. Her year is judged under the
    version she began it with: 15 yuan more discharges it, not 30."""
    li = person(real_name="李湘", region="430000")
    li.paid(fake_wechat, listing, year=2026, region="430000", amount_fen=3000)
    assert patch(client, reviewer, "hunan", {"reason": "湖南调整尽责门槛（示例）", "duty_fen": 6000}).status_code == 200
    assert li.year()["due_fen"]["duty"] == 1500
    assert li.paid(fake_wechat, listing, year=2026, region="430000")["amount_fen"] == 1500
    year = li.year()
    assert (year["status"], year["rule"]["version"], year["paid_fen"]) == ("duty_done", 1, 4500)


def test_paying_in_a_second_region_does_not_discharge_the_year_twice(person, listing, fake_wechat):
    """One duty a person a year, wherever they pay it: a Hunan resident who paid there cannot buy Beijing's."""
    li = person(real_name="李湘", region="430000")
    li.paid(fake_wechat, listing, year=2026, region="430000")
    refused(li.try_order(listing, year=2026, region=BEIJING), 409, "tree_duty_done")


@pytest.mark.parametrize("role", ["finance", "auditor"])
def test_finance_and_auditors_may_not_change_a_rule(app, client, role):
    member = staff_member(app, f"duty-{role}", role)
    refused(patch(client, member, "beijing-2010", RAISED), 403)
    refused(client.post(RULE, json=NEW_PERIOD, headers=member.headers), 403)
    assert client.get("/api/v1/tree-duty/rules/beijing-2010").get_json()["items"][-1]["version"] == 1


def test_a_new_period_must_not_overlap_the_regions_current_rule(client, reviewer):
    client.get("/api/v1/tree-duty/rules")  # the shipped rules load on first look
    error = refused(client.post(RULE, json=NEW_PERIOD, headers=reviewer.headers), 409, "rule_period_overlap")
    assert error["details"] == {"key": "beijing-2010", "version": 1}
    closed = patch(client, reviewer, "beijing-2010", {"reason": "2027 年起由新规则代替", "effective_to": "2026-12-31"})
    assert closed.status_code == 200 and closed.get_json()["version"] == 2
    made = client.post(RULE, json=NEW_PERIOD, headers=reviewer.headers)
    assert made.status_code == 201 and (made.get_json()["key"], made.get_json()["version"]) == ("beijing-2027", 1)
    refused(client.post(RULE, json=NEW_PERIOD, headers=reviewer.headers), 409, "rule_exists")
    refused(patch(client, reviewer, "beijing-2010", {"reason": "重新打开", "effective_to": "2027-06-30"}), 409,
            "rule_period_overlap")


@pytest.mark.parametrize("body, field", [
    ({"duty_fen": 9000}, "reason"),
    ({"reason": "x", "duty_fen": 9000}, "reason"),
    ({"reason": "调整", "duty_fen": 0}, "duty_fen"),
    ({"reason": "调整", "duty_fen": "60"}, "duty_fen"),
    ({"reason": "调整", "honour_fen": 12000}, "honour_trees"),
    ({"reason": "调整", "honour_fen": 5000, "honour_trees": 6}, "honour_fen"),
    ({"reason": "调整", "effective_to": "2009-12-31"}, "effective_to"),
    ({"reason": "调整", "effective_from": "1970-01-01"}, "effective_from"),
    ({"reason": "调整", "status": "rumoured"}, "status"),
    ({"reason": "调整", "min_age": 70}, "min_age"),
    ({"reason": "调整", "region": "430000"}, "region"),  # a rule's region is what it is: a new key for another
])
def test_a_bad_rule_change_is_a_400_naming_the_field(client, reviewer, body, field):
    client.get("/api/v1/tree-duty/rules")
    refused(patch(client, reviewer, "beijing-2010", body), 400, field=field)


def test_an_unknown_rule_is_a_404_and_a_bad_new_rule_a_400(client, reviewer):
    refused(patch(client, reviewer, "guangdong", RAISED), 404)
    refused(client.post(RULE, json={**NEW_PERIOD, "key": "nowhere", "region": "999999"}, headers=reviewer.headers),
            400, field="region")
    refused(client.post(RULE, json={**NEW_PERIOD, "key": "Bad Key"}, headers=reviewer.headers), 400, field="key")


@pytest.mark.services_only
def test_two_reviewers_changing_one_rule_at_once_write_versions_2_and_3(app, client, reviewer):
    """Two reviewers save a change to Sichuan's rule at the same instant. The second waits for the first, then
    writes the next version on top of it: versions 2 and 3, one current, nothing lost and no 404. Five rounds."""
    from tests.miniprogram.test_concurrency import all_at_once

    second = staff_member(app, "reviewer-2", "reviewer")
    client.get("/api/v1/tree-duty/rules")  # the shipped rules loaded before the race
    for round_ in range(5):
        bodies = [(reviewer, {"reason": f"第 {round_} 轮 甲", "note": f"甲 {round_}"}),
                  (second, {"reason": f"第 {round_} 轮 乙", "note": f"乙 {round_}"})]
        answers = all_at_once(lambda item: patch(app.test_client(), item[0], "sichuan", item[1]), bodies)
        assert sorted(a.status_code for a in answers) == [200, 200], [a.get_json() for a in answers]
        assert sorted(a.get_json()["version"] for a in answers) == [2 + 2 * round_, 3 + 2 * round_]
    versions = client.get("/api/v1/tree-duty/rules/sichuan").get_json()["items"]
    assert [v["version"] for v in versions] == list(range(1, 12))
    assert [v["current"] for v in versions].count(True) == 1

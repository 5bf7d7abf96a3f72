"""A citizen discharges the duty for a family member (name, birth year and sex; never an ID number): one voucher
per member and year, and nobody else can use that member. The voucher needs the real name, birth year and sex, and
the profile takes them in the contract's shape."""

from __future__ import annotations

import pytest

from tests.envelope import refused
from tests.scenarios.tree_duty.conftest import BEIJING, HUNAN, DutyCitizen, voucher_of


def test_the_profile_takes_real_name_birth_year_sex_and_region(client, fake_wechat):
    citizen = DutyCitizen(client)
    shown = citizen.profile(real_name="王小林", birth_year=1990, sex="male", region=BEIJING)
    assert (shown["real_name_masked"], shown["birth_year"], shown["sex"], shown["region"]) == (
        "王**", 1990, "male", BEIJING)
    assert citizen.get("/me").get_json()["birth_year"] == 1990


@pytest.mark.parametrize("fields, field", [
    ({"sex": "other"}, "sex"),
    ({"birth_year": 1800}, "birth_year"),
    ({"birth_year": 2090}, "birth_year"),  # after this year: nobody is born yet
    ({"birth_year": "1990"}, "birth_year"),
    ({"region": "999999"}, "region"),
    ({"real_name": ""}, "real_name"),
    ({"id_number": "110101199003071234"}, "id_number"),  # never asked, never kept
])
def test_a_bad_profile_field_is_a_400_naming_it(client, fake_wechat, fields, field):
    citizen = DutyCitizen(client)
    refused(client.patch("/api/mp/v1/me", json=fields, headers=citizen.headers), 400, field=field)


def test_an_incomplete_profile_is_told_what_the_voucher_needs(client, fake_wechat, listing):
    citizen = DutyCitizen(client)
    citizen.profile(region=BEIJING)
    assert citizen.year()["person"] == {"relation": "self", "member_id": None, "of_duty_age": None,
                                        "missing": ["real_name", "birth_year", "sex"]}
    for given, missing in (({}, "real_name"), ({"real_name": "钱多多"}, "birth_year"),
                           ({"birth_year": 1995}, "sex")):
        if given:
            citizen.profile(**given)
        refused(citizen.try_order(listing, year=2026, region=BEIJING), 400, "profile_incomplete", field=missing)
    citizen.profile(sex="female")
    assert citizen.try_order(listing, year=2026, region=BEIJING).status_code == 201


def test_a_family_member_gets_one_voucher_a_year_and_is_nobody_elses(client, person, listing, fake_wechat):
    li = person(real_name="李湘", birth_year=1985, sex="female", region=HUNAN)
    made = li.post("/tree-duty/members", {"name": "李建国", "birth_year": 1975, "sex": "male"})
    assert made.status_code == 201 and made.get_json() == {"id": made.get_json()["id"], "name": "李建国",
                                                           "birth_year": 1975, "sex": "male"}
    husband = made.get_json()["id"]
    assert li.get("/tree-duty/members").get_json()["items"] == [made.get_json()]

    done = li.paid(fake_wechat, listing, year=2026, region=HUNAN, member_id=husband)
    assert done["amount_fen"] == 4500
    his = li.year(member_id=husband)
    assert (his["status"], his["trees"], his["person"]["relation"]) == ("duty_done", 3, "family")
    payload = voucher_of(client, done["certificate_no"])["payload"]
    assert payload["beneficiary"]["masked"] == "李**" and payload["record"]["relation"] == "family"

    refused(li.try_order(listing, year=2026, region=HUNAN, member_id=husband), 409, "tree_duty_done")
    assert li.year()["status"] == "none"  # her own year is untouched: vouchers are per person
    assert li.paid(fake_wechat, listing, year=2026, region=HUNAN)["status"] == "fulfilled"
    assert li.year()["status"] == "duty_done" and len(li.year(member_id=husband)["vouchers"]) == 1

    # Someone else cannot pay for, look at or remove her husband: to them he does not exist.
    stranger = person(real_name="张三", region=HUNAN)
    refused(stranger.try_order(listing, year=2026, region=HUNAN, member_id=husband), 404)
    refused(stranger.get("/tree-duty", query_string={"year": 2026, "member_id": husband}), 404)
    refused(client.delete(f"/api/mp/v1/tree-duty/members/{husband}", headers=stranger.headers), 404)
    assert stranger.get("/tree-duty/members").get_json()["items"] == []
    # She cannot remove him either, now that a voucher names him.
    refused(client.delete(f"/api/mp/v1/tree-duty/members/{husband}", headers=li.headers), 409,
            "member_has_payments")


def test_a_member_without_payments_can_be_removed(client, person):
    li = person(region=HUNAN)
    member = li.post("/tree-duty/members", {"name": "李小", "birth_year": 2010, "sex": "male"}).get_json()
    gone = client.delete(f"/api/mp/v1/tree-duty/members/{member['id']}", headers=li.headers)
    assert gone.status_code == 200 and gone.get_json() == {"removed": True}
    assert li.get("/tree-duty/members").get_json()["items"] == []


@pytest.mark.parametrize("body, field", [
    ({"name": "", "birth_year": 2000, "sex": "male"}, "name"),
    ({"name": "某", "birth_year": 2090, "sex": "male"}, "birth_year"),
    ({"name": "某", "birth_year": 2000, "sex": "x"}, "sex"),
    ({"name": "某", "birth_year": 2000}, "sex"),
    ({"name": "某", "birth_year": 2000, "sex": "male", "id_number": "1"}, "id_number"),
])
def test_a_bad_family_member_is_a_400_naming_the_field(person, body, field):
    refused(person().post("/tree-duty/members", body), 400, field=field)

"""Who owes the duty: men from 11 to 60, women from 11 to 55, by the age reached in the duty year (国发〔1982〕36号
Art. 3). Someone outside that age who pays the duty threshold owes nothing: they get the honour voucher."""

from __future__ import annotations

import pytest

from tests.scenarios.tree_duty.conftest import BEIJING, voucher_of


def test_a_man_turning_61_this_year_pays_the_duty_threshold_and_is_honoured(client, person, listing, fake_wechat):
    lao_wang = person(real_name="王老汉", birth_year=1965, sex="male", region=BEIJING)  # 61 in 2026
    before = lao_wang.year()
    assert before["person"]["of_duty_age"] is False and before["due_fen"]["duty"] == 6000

    done = lao_wang.paid(fake_wechat, listing, year=2026, region=BEIJING)
    assert done["amount_fen"] == 6000  # the duty threshold: Beijing names no honour threshold of its own
    year = lao_wang.year()
    assert (year["status"], year["trees"], year["paid_fen"]) == ("honour", 3, 6000)
    [voucher] = year["vouchers"]
    assert voucher["tier"] == "honour" and voucher["certificate_no"] == done["certificate_no"]
    payload = voucher_of(client, done["certificate_no"])["payload"]
    assert payload["title"] == "国土绿化荣誉凭证（购买碳汇）"
    assert (payload["record"]["tier"], payload["record"]["of_duty_age"], payload["record"]["trees"]) == (
        "honour", False, 3)


def test_a_man_turning_60_this_year_still_owes_the_duty(client, person, listing, fake_wechat):
    li = person(real_name="李六十", birth_year=1966, sex="male", region=BEIJING)  # 60 in 2026
    assert li.year()["person"]["of_duty_age"] is True
    done = li.paid(fake_wechat, listing, year=2026, region=BEIJING)
    year = li.year()
    assert (year["status"], year["trees"]) == ("duty_done", 3)
    payload = voucher_of(client, done["certificate_no"])["payload"]
    assert payload["title"] == "全民义务植树尽责凭证（购买碳汇）" and payload["record"]["of_duty_age"] is True


def test_a_girl_of_10_in_the_family_gets_an_honour_voucher(client, person, listing, fake_wechat):
    mother = person(real_name="周丽", birth_year=1986, sex="female", region=BEIJING)
    daughter = mother.post("/tree-duty/members", {"name": "周小雨", "birth_year": 2016, "sex": "female"})
    assert daughter.status_code == 201, daughter.get_json()
    member_id = daughter.get_json()["id"]
    assert mother.year(member_id=member_id)["person"]["of_duty_age"] is False

    done = mother.paid(fake_wechat, listing, year=2026, region=BEIJING, member_id=member_id)
    year = mother.year(member_id=member_id)
    assert (year["status"], year["trees"]) == ("honour", 3)
    payload = voucher_of(client, done["certificate_no"])["payload"]
    assert payload["beneficiary"]["masked"] == "周**"
    assert (payload["record"]["tier"], payload["record"]["relation"], payload["record"]["of_duty_age"]) == (
        "honour", "family", False)
    assert mother.year()["status"] == "none"  # the mother's own year is her own


@pytest.mark.parametrize("birth_year, sex, owes", [
    (2015, "female", True),   # 11 this year: the duty starts
    (2016, "male", False),    # 10
    (1971, "female", True),   # 55: a woman's last year
    (1970, "female", False),  # 56
    (1966, "male", True),     # 60: a man's last year
    (1965, "male", False),    # 61
])
def test_duty_age_is_the_age_reached_in_the_duty_year(person, birth_year, sex, owes):
    family = person(region=BEIJING)
    member = family.post("/tree-duty/members", {"name": "成员", "birth_year": birth_year, "sex": sex}).get_json()
    assert family.year(member_id=member["id"])["person"]["of_duty_age"] is owes

"""For the greening committee (绿委办): the year's vouchers of a region as a CSV — name, duty year, trees, amount,
voucher number, verify URL — and the operator's mark that the committee recognised them. A citizen who deletes
their account takes the full names with them (theirs and their family's); the vouchers still verify."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from backend.db import read
from scenarios.tree_duty.models import DutyMember, DutyVoucher
from tests.envelope import refused
from tests.scenarios.tree_duty.conftest import BEIJING, HUNAN, voucher_of

EXPORT = "/api/admin/v1/tree-duty/vouchers.csv"
RECOGNISE = "/api/admin/v1/tree-duty/vouchers/recognise"


def export(client, member, **query) -> list[dict]:
    response = client.get(EXPORT, query_string=query, headers=member.headers)
    assert response.status_code == 200 and response.mimetype == "text/csv", response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def recognise(client, member, numbers: list[str]):
    return client.post(RECOGNISE, json={"certificate_nos": numbers, "note": "京绿委办〔2026〕3号（示例）"},
                       headers=member.headers)


def test_the_committee_gets_beijings_vouchers_and_they_are_marked_recognised(app, client, person, listing,
                                                                            fake_wechat, reviewer, operator):
    wang = person(real_name="王小林", region=BEIJING)
    wang_no = wang.paid(fake_wechat, listing, year=2026, region=BEIJING)["certificate_no"]
    mother = person(real_name="周丽", region=BEIJING)
    girl = mother.post("/tree-duty/members", {"name": "周小雨", "birth_year": 2016, "sex": "female"}).get_json()
    girl_no = mother.paid(fake_wechat, listing, year=2026, region=BEIJING, member_id=girl["id"])["certificate_no"]
    hunan = person(real_name="李湘", region=HUNAN)
    part = hunan.paid(fake_wechat, listing, year=2026, region=HUNAN, amount_fen=3000)["certificate_no"]
    hunan_no = hunan.paid(fake_wechat, listing, year=2026, region=HUNAN)["certificate_no"]

    rows = export(client, reviewer, year=2026, region=BEIJING)
    base = app.config["PUBLIC_BASE_URL"]
    assert [(r["姓名 name"], r["尽责年度 year"], r["凭证类别 tier"], r["折合株数 trees"], r["金额(元) amount_yuan"],
             r["凭证编号 voucher_no"], r["核验地址 verify_url"], r["已认定 recognised"]) for r in rows] == [
        ("王小林", "2026", "尽责", "3", "60.00", wang_no, f"{base}/v/{wang_no}", ""),
        ("周小雨", "2026", "荣誉", "3", "60.00", girl_no, f"{base}/v/{girl_no}", ""),
    ]  # full names: the committee recognises people, not masks; Hunan's voucher is Hunan's committee's
    assert [r["凭证编号 voucher_no"] for r in export(client, reviewer, year=2026)] == [wang_no, girl_no, hunan_no]
    assert export(client, reviewer, year=2025, region=BEIJING) == []

    first = recognise(client, reviewer, [wang_no, girl_no])
    assert first.status_code == 200 and first.get_json() == {"recognised": 2, "already": 0}
    again = recognise(client, operator.member, [wang_no, girl_no])
    assert again.get_json() == {"recognised": 0, "already": 2}  # idempotent: the first date stands
    assert {r["已认定 recognised"] for r in export(client, reviewer, year=2026, region=BEIJING)} == {"2026-03-12"}
    assert export(client, reviewer, year=2026, recognised="false")[0]["凭证编号 voucher_no"] == hunan_no
    assert wang.year()["vouchers"][0]["recognised"] is True
    with app.app_context():
        [marked_by] = set(read(lambda s: s.execute(select(DutyVoucher.recognised_by)
                                                   .where(DutyVoucher.recognised_at.is_not(None))).scalars().all()))
    assert marked_by == reviewer.actor

    # A committee's list is taken whole: one number that is not a voucher (a part payment's own retirement
    # certificate) or that does not exist refuses it all, naming the number.
    error = refused(recognise(client, reviewer, [hunan_no, part, "TH2026-99999999"]), 404)
    assert error["details"] == {"certificate_nos": sorted([part, "TH2026-99999999"])}
    assert export(client, reviewer, year=2026, region=HUNAN)[0]["已认定 recognised"] == ""
    refused(recognise(client, reviewer, ["not-a-number"]), 400, field="certificate_nos.0")
    refused(client.get(EXPORT, query_string={"region": BEIJING}, headers=reviewer.headers), 400, field="year")


def test_who_may_export_and_who_may_mark(app, client):
    from tests.conftest import staff_member

    finance = staff_member(app, "duty-finance", "finance")
    assert client.get(EXPORT, query_string={"year": 2026}, headers=finance.headers).status_code == 200
    refused(recognise(client, finance, ["TH2026-00000001"]), 403)
    refused(client.get(EXPORT, query_string={"year": 2026}), 401)


def test_erasing_an_account_blanks_the_family_and_voucher_names_and_the_vouchers_still_verify(
        app, client, person, listing, fake_wechat, reviewer):
    zhou = person(real_name="周丽", region=BEIJING)
    girl = zhou.post("/tree-duty/members", {"name": "周小雨", "birth_year": 2016, "sex": "female"}).get_json()
    own = zhou.paid(fake_wechat, listing, year=2026, region=BEIJING)["certificate_no"]
    hers = zhou.paid(fake_wechat, listing, year=2026, region=BEIJING, member_id=girl["id"])["certificate_no"]
    before = {number: voucher_of(client, number)["payload"]["beneficiary"] for number in (own, hers)}

    erased = client.delete("/api/mp/v1/me", headers=zhou.headers)
    assert erased.status_code == 200, erased.get_json()
    assert (erased.get_json()["family_members"], erased.get_json()["voucher_names"]) == (1, 2)

    with app.app_context():
        members = read(lambda s: s.execute(select(DutyMember.name)).scalars().all())
        names = read(lambda s: s.execute(select(DutyVoucher.full_name, DutyVoucher.name_salt)).all())
    assert members == [None] and set(names) == {(None, None)}
    assert [r["姓名 name"] for r in export(client, reviewer, year=2026, region=BEIJING)] == ["（已删除）"] * 2
    for number in (own, hers):
        shown = voucher_of(client, number)
        assert shown["record_check"]["genuine"] and shown["status"] == "valid"
        assert shown["payload"]["beneficiary"] == before[number]  # the masked name and commitment it always had
        assert client.get(f"/v/{number}").status_code == 200

"""The contract of issue 16, as a citizen's year goes: the year's shape, one duty a year (409 tree_duty_done), an
unpaid order blocking a second, a payment heard of after the year was done refunded, and the voucher verifying like
any certificate — JSON, the public page, the PDF, and offline with only the published keys."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from backend.orders.service import NOTIFICATION_GRACE_SECONDS
from tests.certificates.test_render import pdf_text
from tests.envelope import refused
from tests.scenarios.tree_duty.conftest import BEIJING, voucher_of


def test_the_year_answers_status_trees_paid_and_vouchers(person, listing, fake_wechat):
    wang = person(real_name="王小林", birth_year=1990, sex="male", region=BEIJING)
    done = wang.paid(fake_wechat, listing, year=2026, region=BEIJING)
    assert done["status"] == "fulfilled" and done["purpose"] == "tree_duty"

    year = wang.get("/tree-duty", query_string={"year": 2026}).get_json()
    assert {"status", "trees", "paid_fen", "vouchers"} <= set(year)
    assert (year["status"], year["trees"], year["paid_fen"]) == ("duty_done", 3, 6000)
    [voucher] = year["vouchers"]
    assert voucher["certificate_no"] == done["certificate_no"]
    assert (voucher["tier"], voucher["year"], voucher["trees"], voucher["amount_fen"]) == ("duty", 2026, 3, 6000)
    assert voucher["rule"] == {"key": "beijing-2010", "version": 1}
    assert voucher["verify_url"] == f"/v/{done['certificate_no']}" and voucher["recognised"] is False
    assert wang.get("/tree-duty").get_json()["year"] == 2026  # no year: this year, Beijing time

    refused(wang.try_order(listing, year=2026, region=BEIJING), 409, "tree_duty_done")
    refused(wang.get("/tree-duty", query_string={"year": 1999}), 400, field="year")


def test_an_unpaid_duty_order_blocks_a_second_until_it_is_paid_or_expires(person, listing, clock):
    wang = person(region=BEIJING)
    first = wang.duty_order(listing, year=2026, region=BEIJING)
    error = refused(wang.try_order(listing, year=2026, region=BEIJING), 409, "tree_duty_order_pending")
    assert error["details"] == {"order_no": first["order_no"]}
    clock.advance(minutes=16)  # 15 minutes to pay: the first holds nothing now
    assert wang.try_order(listing, year=2026, region=BEIJING).status_code == 201


def test_a_payment_heard_of_after_the_year_was_done_is_refunded(app, client, runner, clock, person, listing,
                                                                fake_wechat):
    """王小林 pays his first order at WeChat a minute before its deadline, but the notification is held up; his
    order runs out, he orders again and pays, and the year is done. Then WeChat's retry of the first payment
    arrives: nothing more is retired for him — the first order is refunded as no longer owed."""
    wang = person(region=BEIJING)
    late = wang.duty_order(listing, year=2026, region=BEIJING)
    clock.advance(minutes=14)
    held = fake_wechat.pay(late["order_no"], deliver=False)
    clock.advance(minutes=1, seconds=NOTIFICATION_GRACE_SECONDS + 1)

    again = wang.paid(fake_wechat, listing, year=2026, region=BEIJING)
    assert again["status"] == "fulfilled"

    retry = fake_wechat.notification(url=held.url, event_type="TRANSACTION.SUCCESS", original_type="transaction",
                                     resource=fake_wechat.transaction(late["order_no"]), summary="支付成功")
    assert client.post(urlsplit(retry.url).path, data=retry.body, headers=retry.headers).status_code == 200
    refunding = wang.status_of(late["order_no"])
    assert (refunding["status"], refunding["refund_reason"], refunding["certificate_no"]) == (
        "refunding", "no_longer_owed", None)
    year = wang.year()
    assert (year["status"], year["paid_fen"], len(year["vouchers"])) == ("duty_done", 6000, 1)

    assert "1 refunds sent" in runner.invoke(args=["orders", "sweep"]).output
    [(refund_no, refund)] = [(n, r) for n, r in fake_wechat.refunds.items() if r["out_trade_no"] == late["order_no"]]
    assert refund["refund"] == 6000
    fake_wechat.settle_refund(refund_no)
    assert wang.status_of(late["order_no"])["status"] == "refunded"


def test_the_voucher_verifies_online_on_its_page_in_its_pdf_and_offline(client, runner, tmp_path, person, listing,
                                                                         fake_wechat):
    wang = person(real_name="王小林", birth_year=1990, sex="male", region=BEIJING)
    number = wang.paid(fake_wechat, listing, year=2026, region=BEIJING)["certificate_no"]

    shown = voucher_of(client, number)
    payload = shown["payload"]
    assert (payload["purpose"], payload["record"]["year"], payload["record"]["trees"]) == ("tree_duty", 2026, 3)
    assert payload["record"]["rule"]["key"] == "beijing-2010" and payload["record"]["rule"]["version"] == 1
    assert shown["status"] == "valid" and shown["record_check"]["genuine"] and shown["log_proof"]["verified"]
    checked = client.get(f"/api/v1/certificates/{number}", query_string={"jws": shown["jws"]}).get_json()
    assert checked["jws_check"]["genuine"] is True

    page = client.get(f"/v/{number}", query_string={"jws": shown["jws"]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "真实有效" in html and "王小林" not in html and "王**" in html
    assert "全民义务植树尽责凭证" in html

    pdf = client.get(f"/api/v1/certificates/{number}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    printed = pdf_text(pdf.data)
    assert "全民义务植树尽责凭证" in printed and number in printed and "2026" in printed

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    offline = runner.invoke(args=["cert", "verify", f"https://example.org/v/{number}?jws={shown['jws']}",
                                  "--jwks", str(jwks)])
    assert offline.exit_code == 0 and offline.output.startswith("VALID") and number in offline.output, offline.output


def test_my_own_copy_of_my_voucher_and_my_daughters_prints_the_full_names_and_nobody_elses_does(
        client, person, listing, fake_wechat):
    """The public voucher shows 王** and a commitment; the citizen's own copy of its PDF (the mini-program's
    /certificates/<no>/certificate.pdf) prints the full name and the salt that opens it — for the vouchers made out
    to them and to their family members, and for no one else."""
    wang = person(real_name="王小林", birth_year=1990, sex="male", region=BEIJING)
    fake_wechat.pay(wang.duty_order(listing, year=2026, region=BEIJING)["order_no"])
    daughter = wang.post("/tree-duty/members", {"name": "王小雨", "birth_year": 2012, "sex": "female"}).get_json()
    fake_wechat.pay(wang.duty_order(listing, year=2026, region=BEIJING, member_id=daughter["id"])["order_no"])
    mine, hers = (wang.year(2026, **query)["vouchers"][0] for query in ({}, {"member_id": daughter["id"]}))

    for voucher, name in ((mine, "王小林"), (hers, "王小雨")):
        own = wang.get(f"/certificates/{voucher['certificate_no']}/certificate.pdf")
        assert own.status_code == 200 and own.headers["Cache-Control"] == "private, no-store"
        printed = pdf_text(own.data)
        assert name in printed and voucher["name_proof"]["salt"] in printed
        public = pdf_text(client.get(f"/api/v1/certificates/{voucher['certificate_no']}/certificate.pdf").data)
        assert name not in public and voucher["name_masked"] in public

    stranger = person(real_name="李四", birth_year=1980, sex="male", region=BEIJING)
    assert stranger.get(f"/certificates/{mine['certificate_no']}/certificate.pdf").status_code == 404

"""An organisation pays the year's tree-planting duty for its staff: a staff list uploaded and checked line by line,
quoted, paid (by bank transfer that finance records, or refused a second time), and a voucher issued for every
person it pays for by a background job — downloadable as a CSV and as a ZIP of PDFs."""

from __future__ import annotations

import csv
import io
import time
import zipfile

import pytest

from backend import jobs
from backend.certificates.verifier import verify_token
from backend.db import read
from scenarios.tree_duty import issuing
from scenarios.tree_duty.models import DutyRoster
from tests.conftest import staff_member
from tests.scenarios.judicial.conftest import StaffApi, key
from tests.scenarios.tree_duty.conftest import BEIJING_CHAOYANG, DUTY_FEN, xlsx

def upload(client, member, data: bytes, filename: str, **fields):
    return client.post("/api/org/v1/tree-duty/rosters", headers=member.headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), filename), **fields})


def staff_list_of_200() -> list[list]:
    """200 lines (lines 2–201 of the sheet): 3 bad, 1 listed twice, 2 outside duty age, 194 paid for."""
    rows = [[f"职工{n:03d}", 1975 + n % 30, "男" if n % 2 else "女", f"A{n:04d}"] for n in range(200)]
    rows[9][0] = None  # line 11: no name
    rows[49][1] = "一九八〇"  # line 51: the birth year in words
    rows[99][2] = "未知"  # line 101: no sex we know
    rows[120][3] = "A0010"  # line 122: the staff number of line 12 again
    rows[150] = ["李小妹", 2016, "女", "A0150"]  # line 152: a girl of 10
    rows[151] = ["张大伯", 1965, "male", "A0151"]  # line 153: a man turning 61 this year
    return rows


def test_a_200_person_staff_list_is_checked_quoted_paid_and_each_person_gets_a_voucher(
        app, client, agency, finance, big_listing):
    clerk = StaffApi(client, agency["clerk"])
    response = upload(client, agency["clerk"], xlsx(staff_list_of_200()), "2026职工名单.xlsx")
    assert response.status_code == 201, response.get_json()
    roster = response.get_json()
    report = roster["report"]
    assert (report["rows"], report["accepted"], report["persons"]) == (200, 196, 194)
    assert [(p["line"], p["field"]) for p in report["problems"]] == [(11, "name"), (51, "birth_year"), (101, "sex")]
    assert report["duplicates"] == [{"line": 122, "staff_no": "A0010", "first_line": 12}]
    assert report["outside_age"] == [{"line": 152, "name": "李**", "age": 10}, {"line": 153, "name": "张**", "age": 61}]
    assert (roster["status"], roster["region"], roster["persons"]) == ("checked", BEIJING_CHAOYANG, 194)
    assert roster["amount_fen"] == 194 * DUTY_FEN and roster["rule"]["key"] == "beijing-2010"

    # The quote from a listing: 60 yuan a person at 60 yuan a tonne, 1 t each.
    quoted = clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}", query_string={"listing_id": big_listing})
    assert quoted.status_code == 200, quoted.get_json()
    quote = quoted.get_json()["quote"]
    assert (quote["amount_fen"], quote["grams"], quote["grams_per_person"], quote["persons"]) == (
        194 * DUTY_FEN, 194_000_000, 1_000_000, 194)

    # A viewer reads but does not pay.
    viewer = StaffApi(client, agency["viewer"])
    refused = viewer.post(f"/api/org/v1/tree-duty/rosters/{roster['id']}/orders",
                          {"listing_id": big_listing, "payment": "offline"}, key=key("duty"))
    assert refused.status_code == 403

    # The clerk orders, paying by bank transfer; finance records the transfer, which retires the credits.
    placed = clerk.post(f"/api/org/v1/tree-duty/rosters/{roster['id']}/orders",
                        {"listing_id": big_listing, "payment": "offline"}, key=key("duty"))
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert (order["amount_fen"], order["quantity_g"], order["code_url"]) == (194 * DUTY_FEN, 194_000_000, None)
    paid = finance.post(f"/api/admin/v1/orders/{order['order_no']}/offline-payment",
                        {"reference": "BJCY-2026-0312-01", "amount_fen": order["amount_fen"]})
    assert paid.status_code == 200 and paid.get_json()["status"] == "fulfilled", paid.get_json()
    shown = clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}").get_json()
    assert shown["status"] == "paid" and shown["progress"] == {"issued": 0, "persons": 194}

    # A second order for the paid list is refused.
    again = clerk.post(f"/api/org/v1/tree-duty/rosters/{roster['id']}/orders",
                       {"listing_id": big_listing, "payment": "offline"}, key=key("duty"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "roster_paid"

    # The job the payment queued issues a voucher for each of the 194.
    jobs.drain(app)
    issued = clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}").get_json()
    assert issued["status"] == "issued" and issued["progress"] == {"issued": 194, "persons": 194}

    listed = clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}/vouchers.csv")
    assert listed.status_code == 200 and listed.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(listed.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:2] == ["姓名 name", "工号 staff_no"] and len(rows) == 1 + 194
    assert rows[1][:6] == ["职工000", "A0000", "2026", "尽责", "3", "60.00"]
    assert "李小妹" not in {row[0] for row in rows}  # outside duty age, not included: not paid for

    # Each voucher verifies like any certificate, for its 1 t share of the list's retirement.
    number = rows[1][6]
    record = client.get(f"/api/v1/certificates/{number}").get_json()
    payload = record["payload"]
    assert payload["kind"] == "tree_duty_voucher" and payload["quantity_g"] == 1_000_000
    assert payload["record"]["roster_id"] == roster["id"] and payload["record"]["relation"] == "staff"
    assert payload["beneficiary"]["masked"] == "职****"
    assert verify_token(record["jws"], client.get("/.well-known/jwks.json").get_json(), record=record).genuine

    # The ZIP of PDFs is built by a job, not in the request (the next test drains one).
    too_soon = clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}/vouchers.zip")
    assert too_soon.status_code == 409 and too_soon.get_json()["error"]["code"] == "archive_not_ready"
    asked = clerk.post(f"/api/org/v1/tree-duty/rosters/{roster['id']}/vouchers.zip")
    assert asked.status_code == 202 and asked.get_json()["archive"] == {
        "status": "requested", "done": 0, "total": 194, "ready_at": None}


def test_the_zip_of_pdfs_is_built_by_a_job_with_progress(app, client, agency, finance, big_listing, caplog):
    """The job cuts the Chinese font to what the 12 PDFs draw (a face parsed per PDF costs 0.4 s, the cut one a few
    ms); none of them misses a glyph."""
    people = [[f"职工{n:02d}", 1980 + n, "男" if n % 2 else "女", f"Z{n:02d}"] for n in range(12)]
    roster = upload(client, agency["clerk"], xlsx(people), "twelve.xlsx").get_json()
    clerk = StaffApi(client, agency["clerk"])
    too_early = clerk.post(f"/api/org/v1/tree-duty/rosters/{roster['id']}/vouchers.zip")
    assert too_early.status_code == 409 and too_early.get_json()["error"]["code"] == "roster_not_issued"
    order = clerk.post(f"/api/org/v1/tree-duty/rosters/{roster['id']}/orders",
                       {"listing_id": big_listing, "payment": "offline"}, key=key("zip")).get_json()
    finance.post(f"/api/admin/v1/orders/{order['order_no']}/offline-payment",
                 {"reference": "BJCY-2026-ZIP", "amount_fen": order["amount_fen"]})
    jobs.drain(app)
    asked = clerk.post(f"/api/org/v1/tree-duty/rosters/{roster['id']}/vouchers.zip")
    assert asked.status_code == 202 and asked.get_json()["archive"]["status"] == "requested"
    with caplog.at_level("WARNING", logger="fpdf"):
        jobs.drain(app)
    assert "missing the following glyphs" not in caplog.text
    shown = clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}").get_json()
    assert shown["archive"]["status"] == "ready" and shown["archive"]["done"] == 12
    archive = clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}/vouchers.zip")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as opened:
        pdfs = [name for name in opened.namelist() if name.endswith(".pdf")]
        assert len(pdfs) == 12 and "vouchers.csv" in opened.namelist()
        assert pdfs[0].startswith("00002_Z00_TH2026-") and opened.read(pdfs[0]).startswith(b"%PDF")


def test_a_second_list_names_people_already_paid_for_and_a_list_of_nobody_cannot_be_ordered(
        app, client, agency, big_listing):
    clerk = StaffApi(client, agency["clerk"])
    first = upload(client, agency["clerk"], "name,birth_year,sex,staff_no\n王一,1980,male,B1\n李二,1990,female,B2\n"
                   .encode("utf-8-sig"), "first.csv").get_json()
    # Excel on a Chinese Windows saves CSV as GB18030: read as such.
    second = upload(client, agency["clerk"], "姓名,出生年份,性别,工号\n王一,1980,男,B1\n赵三,1950,男,B3\n"
                    .encode("gb18030"), "second.csv")
    assert second.status_code == 201, second.get_json()
    report = second.get_json()["report"]
    assert report["duplicates"] == [{"line": 2, "staff_no": "B1", "roster_id": first["id"]}]
    assert report["outside_age"] == [{"line": 3, "name": "赵*", "age": 76}] and report["persons"] == 0
    nobody = clerk.post(f"/api/org/v1/tree-duty/rosters/{second.get_json()['id']}/orders",
                        {"listing_id": big_listing, "payment": "offline"}, key=key("duty"))
    assert nobody.status_code == 409 and nobody.get_json()["error"]["code"] == "roster_empty"


@pytest.mark.parametrize("data, filename, message", [
    (b"", "empty.csv", "为空"),
    (b"name,birth_year\nx,1990\n", "short.csv", "表头缺少列"),
    (b"PK\x03\x04not really a workbook", "broken.xlsx", "XLSX"),
    (b"\xff\xfe\xfa\xfb" * 10, "binary.csv", "编码"),
])
def test_a_file_that_is_no_staff_list_is_a_400_naming_file(client, agency, data, filename, message):
    response = upload(client, agency["clerk"], data, filename)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["details"][0]["field"] == "file" and message in error["message"]


def test_a_file_over_5_mb_or_20000_rows_is_refused(client, agency):
    large = upload(client, agency["clerk"], b"x" * (5 * 1024 * 1024 + 70 * 1024), "large.csv")
    assert large.status_code == 400 and large.get_json()["error"]["details"][0]["field"] == "file"
    lines = "".join(f"职工{n},1990,男,C{n}\n" for n in range(20_001))
    many = upload(client, agency["clerk"], ("姓名,出生年份,性别,工号\n" + lines).encode(), "many.csv")
    assert many.status_code == 400 and "20,000" in many.get_json()["error"]["message"]


def test_no_upload_names_the_file_and_another_organisations_list_is_a_404(app, client, agency, operator):
    missing = client.post("/api/org/v1/tree-duty/rosters", headers=agency["clerk"].headers,
                          content_type="multipart/form-data", data={"region": "110105"})
    assert missing.status_code == 400 and missing.get_json()["error"]["details"][0]["field"] == "file"
    mine = upload(client, agency["clerk"], "姓名,出生年份,性别,工号\n王一,1980,男,B1\n".encode(), "a.csv").get_json()
    from tests.orgs.conftest import credit_code

    other = operator.ok(operator.post("/organisations", {"name": "某中学", "kind": "school",
                                                         "credit_code": credit_code(961), "adcode": "110108"}), 201)
    stranger = staff_member(app, "school-clerk", "clerk", organisation_id=other["id"])
    assert StaffApi(client, stranger).get(f"/api/org/v1/tree-duty/rosters/{mine['id']}").status_code == 404


def test_5000_people_through_the_job_in_chunks_with_progress_between(app, client, agency, finance, big_listing):
    """Each voucher is a signature and a transparency-log append: the figure printed is what 5,000 cost here."""
    lines = "".join(f"职工{n},{1975 + n % 30},{'男' if n % 2 else '女'},S{n:05d}\n" for n in range(5_000))
    response = upload(client, agency["clerk"], ("姓名,出生年份,性别,工号\n" + lines).encode("utf-8-sig"), "all.csv")
    assert response.status_code == 201, response.get_json()
    roster = response.get_json()
    assert roster["persons"] == 5_000 and roster["report"]["problems"] == []
    clerk = StaffApi(client, agency["clerk"])
    order = clerk.post(f"/api/org/v1/tree-duty/rosters/{roster['id']}/orders",
                       {"listing_id": big_listing, "payment": "offline"}, key=key("all")).get_json()
    transfer = {"reference": "BJCY-2026-ALL", "amount_fen": order["amount_fen"]}  # 300,000 yuan: two finance users
    assert finance.post(f"/api/admin/v1/orders/{order['order_no']}/offline-payment", transfer).status_code == 200
    confirmed = StaffApi(client, staff_member(app, "finance-duty-2", "finance")).post(
        f"/api/admin/v1/orders/{order['order_no']}/offline-payment", transfer)
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "fulfilled", confirmed.get_json()

    # The job, chunk by chunk as its handler runs it: the list's progress shows between two chunks.
    seen = []

    def after_chunk(owed: int) -> None:
        seen.append(clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}").get_json()["progress"]["issued"])

    started = time.perf_counter()
    with app.app_context():
        issuing.issue_all(roster["id"], on_chunk=after_chunk)
    elapsed = time.perf_counter() - started
    print(f"\n5,000 vouchers issued in {elapsed:.1f} s ({elapsed / 5:.1f} ms each)")
    assert seen[:3] == [200, 400, 600] and seen[-1] == 5_000 and len(seen) == 25
    assert read_status(app, roster["id"]) == ("issued", 5_000)
    jobs.drain(app)  # the job the payment queued finds nothing owed
    assert read_status(app, roster["id"]) == ("issued", 5_000)
    listed = clerk.get(f"/api/org/v1/tree-duty/rosters/{roster['id']}/vouchers.csv")
    assert len(listed.get_data(as_text=True).strip().splitlines()) == 1 + 5_000


def read_status(app, roster_id: int) -> tuple[str, int]:
    with app.app_context():
        found = read(lambda s: s.get(DutyRoster, roster_id))
    return found.status, found.issued


def test_a_wrong_list_is_withdrawn_with_its_unpaid_transfer_and_the_right_one_lists_the_same_people(
        app, client, agency, finance, big_listing):
    """The clerk uploads last year's file by mistake and even places the bank-transfer order before noticing. She
    withdraws the list: its unpaid offline order goes with it (the credits it held are back on sale), and the right
    file, with the same people, is not told they are listed already. A paid list cannot be withdrawn, and finance
    can no longer record a transfer for the withdrawn order."""
    clerk = StaffApi(client, agency["clerk"])
    people = [["王一", 1980, "男", "B1"], ["李二", 1990, "女", "B2"]]
    wrong = upload(client, agency["clerk"], xlsx(people[:1]), "2025职工名单.xlsx").get_json()
    order = clerk.post(f"/api/org/v1/tree-duty/rosters/{wrong['id']}/orders",
                       {"listing_id": big_listing, "payment": "offline"}, key=key("wrong")).get_json()
    available = client.get(f"/api/mp/v1/listings/{big_listing}").get_json()["available_g"]

    withdrawn = clerk.post(f"/api/org/v1/tree-duty/rosters/{wrong['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    assert [o["status"] for o in withdrawn.get_json()["orders"]] == ["expired"]
    assert client.get(f"/api/mp/v1/listings/{big_listing}").get_json()["available_g"] == available + 1_000_000
    late = finance.post(f"/api/admin/v1/orders/{order['order_no']}/offline-payment",
                        {"reference": "BJCY-2026-LATE", "amount_fen": order["amount_fen"]})
    assert late.status_code == 409
    refused = clerk.post(f"/api/org/v1/tree-duty/rosters/{wrong['id']}/orders",
                         {"listing_id": big_listing, "payment": "offline"}, key=key("again"))
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "roster_withdrawn"

    right = upload(client, agency["clerk"], xlsx(people), "2026职工名单.xlsx").get_json()
    assert right["report"]["duplicates"] == [] and right["persons"] == 2
    placed = clerk.post(f"/api/org/v1/tree-duty/rosters/{right['id']}/orders",
                        {"listing_id": big_listing, "payment": "offline"}, key=key("right")).get_json()
    finance.post(f"/api/admin/v1/orders/{placed['order_no']}/offline-payment",
                 {"reference": "BJCY-2026-RIGHT", "amount_fen": placed["amount_fen"]})
    paid = clerk.post(f"/api/org/v1/tree-duty/rosters/{right['id']}/withdraw")
    assert paid.status_code == 409 and paid.get_json()["error"]["code"] == "roster_paid"


def test_a_list_being_paid_by_wechat_is_not_withdrawn_until_the_qr_is_paid_or_expires(
        app, client, clock, agency, big_listing, fake_wechat):
    clerk = StaffApi(client, agency["clerk"])
    listed_once = upload(client, agency["clerk"], xlsx([["王一", 1980, "男", "C1"]]), "c.xlsx").get_json()
    clerk.post(f"/api/org/v1/tree-duty/rosters/{listed_once['id']}/orders",
               {"listing_id": big_listing, "payment": "native"}, key=key("qr"))
    open_qr = clerk.post(f"/api/org/v1/tree-duty/rosters/{listed_once['id']}/withdraw")
    assert open_qr.status_code == 409 and open_qr.get_json()["error"]["code"] == "tree_duty_order_pending"
    clock.advance(hours=3)  # past the Native order's deadline
    assert clerk.post(f"/api/org/v1/tree-duty/rosters/{listed_once['id']}/withdraw").status_code == 200

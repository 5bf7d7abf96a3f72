"""A citizen's personal carbon account: she measures her household's footprint, saves it, neutralises it with
credits bought in the shop, and watches her totals, badges, monthly chart and place on her region's board.

The fake clock stands at 2026-03-12 17:00 Beijing time, so "this month" is 2026-03.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from backend import jobs
from backend.accounts.service import get_user
from backend.cache import get_redis, key
from backend.db import read
from backend.personal import leaderboard
from backend.wechat.errors import WeChatUnavailable
from backend.wechat.miniapp import MiniApp
from tests.envelope import refused as refused_with
from tests.miniprogram.conftest import Citizen

HOUSEHOLD = {"region": "510000", "year": 2022, "electricity_kwh": 600}


def calculate(client, calculator: str, body: dict) -> dict:
    response = client.post(f"/api/v1/footprint/{calculator}", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def buy(citizen: Citizen, fake_wechat, app, listing_id: int, **order) -> dict:
    """Order, pay, let the background jobs run; the fulfilled order."""
    placed = citizen.order(listing_id, order.pop("quantity_g", None), **order)
    fake_wechat.pay(placed["order_no"])
    jobs.drain(app)
    done = citizen.get(f"/orders/{placed['order_no']}").get_json()
    assert done["status"] == "fulfilled", done
    return done


def badges(account: dict) -> set[str]:
    return {badge["code"] for badge in account["badges"] if badge["earned"]}


def test_she_saves_her_footprint_neutralises_it_and_her_account_adds_up(app, client, shop, citizen, fake_wechat):
    # An empty account: nothing saved, nothing offset, no badge yet.
    empty = citizen.get("/account").get_json()
    assert (empty["footprint_g"], empty["offset_g"], empty["net_g"], empty["neutral_percent"]) == (0, 0, 0, None)
    assert badges(empty) == set()

    # She measures 600 kWh of her household's electricity and saves it, named, to February.
    footprint = calculate(client, "household", HOUSEHOLD)
    response = citizen.post("/footprints", {"calculation_id": footprint["id"], "label": " 二月  电费 ",
                                            "month": "2026-02"})
    assert response.status_code == 201
    saved = response.get_json()
    assert (saved["total_g"], saved["month"], saved["label"], saved["calculator"]) == (
        footprint["total_g"], "2026-02", "二月 电费", "household")
    # Saving the same calculation for the same month again finds the first save; her account counts it once.
    assert citizen.post("/footprints", {"calculation_id": footprint["id"], "month": "2026-02"}
                        ).get_json()["id"] == saved["id"]
    assert [f["id"] for f in citizen.get("/footprints").get_json()["items"]] == [saved["id"]]

    account = citizen.get("/account").get_json()
    assert (account["footprint_g"], account["offset_g"], account["net_g"], account["neutral_percent"]) == (
        footprint["total_g"], 0, footprint["total_g"], 0)
    assert badges(account) == {"first_footprint"}
    neutral = next(b for b in account["badges"] if b["code"] == "carbon_neutral")
    assert neutral["progress"] == {"so_far_g": 0, "target_g": footprint["total_g"]}

    # "Neutralise this": the order is for exactly her saved footprint.
    order = buy(citizen, fake_wechat, app, shop["listing"]["id"], footprint_id=footprint["id"])
    assert order["quantity_g"] == footprint["total_g"]

    account = citizen.get("/account").get_json()
    assert (account["footprint_g"], account["offset_g"], account["net_g"], account["neutral_percent"]) == (
        footprint["total_g"], footprint["total_g"], 0, 100)
    assert badges(account) == {"first_footprint", "first_offset", "carbon_neutral"}
    assert (account["retirements"], account["retired_g"], account["gifted_g"]) == (1, footprint["total_g"], 0)

    # Her retirement, with the certificate anyone can check.
    [retired] = citizen.get("/retirements").get_json()["items"]
    assert (retired["certificate_no"], retired["quantity_g"], retired["order_no"], retired["status"]) == (
        order["certificate_no"], footprint["total_g"], order["order_no"], "retired")
    assert retired["project_name"] == shop["project"]["name"] and retired["purpose"] == "personal"
    assert retired["verify_url"].endswith(f"/v/{order['certificate_no']}")
    assert client.get(retired["card_url"].split("127.0.0.1:5000")[-1]).mimetype == "image/png"

    # The chart: footprint in February (the month she gave), the offset in March (when she retired).
    months = citizen.get("/account/monthly", query_string={"months": 3}).get_json()["items"]
    assert months == [
        {"month": "2026-01", "footprint_g": 0, "offset_g": 0, "gifted_g": 0},
        {"month": "2026-02", "footprint_g": footprint["total_g"], "offset_g": 0, "gifted_g": 0},
        {"month": "2026-03", "footprint_g": 0, "offset_g": footprint["total_g"], "gifted_g": 0}]


def test_a_badge_once_earned_stays_and_a_gift_offsets_someone_else(app, client, shop, citizen, fake_wechat, clock):
    small = calculate(client, "household", {**HOUSEHOLD, "electricity_kwh": 100})
    citizen.post("/footprints", {"calculation_id": small["id"]})
    buy(citizen, fake_wechat, app, shop["listing"]["id"], footprint_id=small["id"])
    earned_at = next(b["earned_at"] for b in citizen.get("/account").get_json()["badges"]
                     if b["code"] == "carbon_neutral")

    # Later she saves a bigger footprint: she is no longer neutral, but the badge she earned stays, dated.
    clock.advance(days=3)
    big = calculate(client, "household", {**HOUSEHOLD, "electricity_kwh": 2000})
    citizen.post("/footprints", {"calculation_id": big["id"]})
    account = citizen.get("/account").get_json()
    assert account["neutral_percent"] == small["total_g"] * 100 // (small["total_g"] + big["total_g"])
    assert account["net_g"] == big["total_g"]
    neutral = next(b for b in account["badges"] if b["code"] == "carbon_neutral")
    assert neutral["earned"] and neutral["earned_at"] == earned_at

    # A gift of 100 kg to her father: a certificate in his name, not an offset of her footprint.
    gift = buy(citizen, fake_wechat, app, shop["listing"]["id"], quantity_g=100_000, purpose="gift",
               beneficiary_name="张建国")
    account = citizen.get("/account").get_json()
    assert (account["offset_g"], account["gifted_g"], account["retired_g"]) == (
        small["total_g"], 100_000, small["total_g"] + 100_000)
    assert "first_gift" in badges(account)
    gifts = [r for r in citizen.get("/retirements").get_json()["items"] if r["purpose"] == "gift"]
    assert [(g["certificate_no"], g["beneficiary_masked"]) for g in gifts] == [(gift["certificate_no"], "张**")]


def test_only_personal_footprints_of_real_calculations_in_a_real_month_are_saved(client, citizen, clock):
    household = calculate(client, "household", HOUSEHOLD)
    judicial = calculate(client, "judicial", {"method": "stock", "species": "杉木", "volume_m3": 1})
    refused = {
        "unknown calculation": ({"calculation_id": "FP" + "0" * 24}, "calculation_id"),
        "a court case is not a personal footprint": ({"calculation_id": judicial["id"]}, "calculation_id"),
        "malformed id": ({"calculation_id": "FP123"}, "calculation_id"),
        "next month": ({"calculation_id": household["id"], "month": "2026-04"}, "month"),
        "month 13": ({"calculation_id": household["id"], "month": "2025-13"}, "month"),
        "before 2000": ({"calculation_id": household["id"], "month": "1999-12"}, "month"),
        "label too long": ({"calculation_id": household["id"], "label": "长" * 41}, "label"),
        "terminal escapes in the label": ({"calculation_id": household["id"], "label": "a\x1b[31mb"}, "label"),
        "a bidi override in the label": ({"calculation_id": household["id"], "label": "ab\u202e"}, "label"),
        "Arabic-Indic digits": ({"calculation_id": household["id"], "month": "202\u0665-01"}, "month"),
        "unknown field": ({"calculation_id": household["id"], "total_g": 1}, "total_g"),
    }
    for case, (body, field) in refused.items():
        refused_with(citizen.post("/footprints", body), 400, field=field)
    assert citizen.get("/footprints").get_json()["items"] == []


def test_she_removes_a_saved_footprint_but_cannot_touch_anothers(client, citizen, fake_wechat):
    saved = citizen.post("/footprints", {"calculation_id": calculate(client, "household", HOUSEHOLD)["id"]}
                         ).get_json()
    neighbour = Citizen(client)
    assert neighbour.client.delete(f"/api/mp/v1/footprints/{saved['id']}",
                                   headers=neighbour.headers).status_code == 404
    assert citizen.get("/account").get_json()["footprint_g"] == saved["total_g"]

    assert client.delete(f"/api/mp/v1/footprints/{saved['id']}", headers=citizen.headers).get_json() == {
        "deleted": saved["id"]}
    assert citizen.get("/account").get_json()["footprint_g"] == 0
    assert client.delete(f"/api/mp/v1/footprints/{saved['id']}", headers=citizen.headers).status_code == 404
    assert client.get("/api/mp/v1/account").status_code == 401  # someone's own account needs their login


def test_the_certificate_ready_message_goes_out_after_payment_never_during_it(app, client, runner, shop, citizen,
                                                                              fake_wechat):
    placed = citizen.order(shop["listing"]["id"], 200_000)
    fake_wechat.pay(placed["order_no"])
    # The notification was answered before any message was sent: the message waits for the background worker.
    assert fake_wechat.subscribe_messages == []
    assert jobs.drain(app) == 2  # the buyer's board score, and the message

    done = citizen.get(f"/orders/{placed['order_no']}").get_json()
    [message] = fake_wechat.subscribe_messages
    with app.app_context():
        assert message["touser"] == read(lambda s: get_user(s, citizen.login["user"]["id"]).openid)
    assert message["template_id"] == app.config["WECHAT_CERTIFICATE_TEMPLATE_ID"]
    assert message["data"]["character_string2"]["value"] == done["certificate_no"]
    assert message["data"]["thing3"]["value"] == "0.2 吨二氧化碳当量"
    assert message["data"]["time4"]["value"] == "2026-03-12 17:00"
    assert len(message["data"]["thing1"]["value"]) <= 20
    assert message["page"] == f"pages/certificate/detail?no={done['certificate_no']}"

    # WeChat busy (-1): the message is tried again later, and goes out then.
    fake_wechat.fail_next("/cgi-bin/message/subscribe/send", -1, "system error")
    third = citizen.order(shop["listing"]["id"], 1_234_567 - 1_000_000)
    fake_wechat.pay(third["order_no"])
    assert jobs.drain(app) == 3  # board, message refused by a busy WeChat, the message again
    assert len(fake_wechat.subscribe_messages) == 2
    assert fake_wechat.subscribe_messages[-1]["data"]["thing3"]["value"] == "0.234567 吨二氧化碳当量"  # exact

    # A user who did not agree to messages: WeChat refuses (43101), the order is fulfilled all the same.
    fake_wechat.refuse_subscribe = True
    second = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.pay(second["order_no"])
    assert runner.invoke(args=["jobs", "work", "--drain"]).output == "ran 2 job(s)\n"
    assert citizen.get(f"/orders/{second['order_no']}").get_json()["status"] == "fulfilled"
    assert len(fake_wechat.subscribe_messages) == 2


def test_the_certificate_message_goes_out_once_though_its_job_runs_twice(app, shop, citizen, fake_wechat):
    """A worker sends the message and raises the buyer's score, then is killed before it can settle either job:
    once its lease lapses both jobs run again, and neither effect happens twice."""
    app.config["JOB_LEASE_SECONDS"] = 1
    placed = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.pay(placed["order_no"])
    doomed = jobs.Worker(app)  # never entered: no heartbeat, so its lease lapses as a killed worker's would
    while (line := doomed.take()) is not None:
        taken = jobs.parse(line)
        with app.app_context():
            jobs.HANDLERS[taken.name](**taken.args)  # the effect happens; the settling never does
    assert len(fake_wechat.subscribe_messages) == 1

    time.sleep(1.2)
    assert jobs.drain(app) == 2  # the reaper handed both on, and they ran again
    assert len(fake_wechat.subscribe_messages) == 1
    assert citizen.get("/leaderboard").get_json()["me"] == {"rank": 1, "retired_g": 100_000}
    with app.app_context():
        assert jobs.status() == {"queued": 0, "running": 0, "workers": 0, "later": 0, "dead": 0}


def test_a_certificate_message_whose_fate_is_unknown_is_not_sent_again(app, shop, citizen, fake_wechat,
                                                                       monkeypatch):
    """WeChat got the message but its answer was lost (a read timeout): it may have reached her, so at most once
    means it is not tried again — unlike a busy WeChat's answer, which says it sent nothing."""
    send = MiniApp.send_subscribe_message

    def answer_lost(self, *args, **kwargs):
        send(self, *args, **kwargs)
        raise WeChatUnavailable("微信接口暂不可用，请稍后再试 (WeChat subscribeMessage.send unreachable)")
    monkeypatch.setattr(MiniApp, "send_subscribe_message", answer_lost)
    placed = citizen.order(shop["listing"]["id"], 100_000)
    fake_wechat.pay(placed["order_no"])
    assert jobs.drain(app) == 2  # the board score and the message, neither retried
    assert len(fake_wechat.subscribe_messages) == 1
    with app.app_context():
        assert jobs.status() == {"queued": 0, "running": 0, "workers": 0, "later": 0, "dead": 0}


def test_regional_boards_rank_what_citizens_retired_and_survive_losing_redis(app, client, shop, fake_wechat):
    guangzhou, shenzhen, beijing = (Citizen(client) for _ in range(3))
    for person, region, name in ((guangzhou, "440106", "天河小林"), (shenzhen, "440305", "南山阿森"),
                                 (beijing, "110105", "朝阳大树")):
        assert person.client.patch("/api/mp/v1/me", json={"region": region, "nickname": name},
                                   headers=person.headers).status_code == 200
    listing = shop["listing"]["id"]
    buy(guangzhou, fake_wechat, app, listing, quantity_g=300_000)
    buy(shenzhen, fake_wechat, app, listing, quantity_g=200_000)
    buy(shenzhen, fake_wechat, app, listing, quantity_g=150_000, purpose="gift", beneficiary_name="李四")
    buy(beijing, fake_wechat, app, listing, quantity_g=100_000)

    def board(person: Citizen, **query) -> dict:
        response = person.get("/leaderboard", query_string=query)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def ranking(answer: dict) -> list[tuple[str, int]]:
        return [(item["nickname"], item["retired_g"]) for item in answer["items"]]

    nationwide = board(beijing)
    assert ranking(nationwide) == [("南山阿森", 350_000), ("天河小林", 300_000), ("朝阳大树", 100_000)]
    assert (nationwide["region_name"], nationwide["entrants"], nationwide["me"]) == (
        "全国", 3, {"rank": 3, "retired_g": 100_000})
    guangdong = board(guangzhou, region="440000")
    assert ranking(guangdong) == [("南山阿森", 350_000), ("天河小林", 300_000)]
    assert guangdong["me"] == {"rank": 2, "retired_g": 300_000} and guangdong["region_name"] == "广东省"
    assert ranking(board(guangzhou, region="440100")) == [("天河小林", 300_000)]
    assert board(beijing, region="440100")["me"] is None
    assert ranking(board(beijing, region="440000", limit=1)) == [("南山阿森", 350_000)]

    # Buying more moves him up at once, without waiting for a rebuild.
    buy(guangzhou, fake_wechat, app, listing, quantity_g=100_000)
    assert board(guangzhou, region="440000")["me"] == {"rank": 1, "retired_g": 400_000}

    # Moving house moves him between boards (both already built, so the move itself must show).
    assert ranking(board(beijing, region="110000")) == [("朝阳大树", 100_000)]
    guangzhou.client.patch("/api/mp/v1/me", json={"region": "110105"}, headers=guangzhou.headers)
    jobs.drain(app)
    assert ranking(board(beijing, region="110000")) == [("天河小林", 400_000), ("朝阳大树", 100_000)]
    assert ranking(board(beijing, region="440000")) == [("南山阿森", 350_000)]

    # Redis is a cache: boards it loses are rebuilt from the database, with the same standings.
    with app.app_context():
        connection = get_redis()
        lost = list(connection.scan_iter(key("board", "*")))
        assert lost and connection.delete(*lost) == len(lost)
    assert ranking(board(beijing)) == [("天河小林", 400_000), ("南山阿森", 350_000), ("朝阳大树", 100_000)]

    # A board that went wrong in Redis is put right at its next rebuild (when its freshness marker lapses).
    with app.app_context():
        connection.zadd(key("board", "retired", "CN"), {str(beijing.login["user"]["id"]): 9_000_000})
        assert ranking(board(beijing))[0] == ("朝阳大树", 9_000_000)
        connection.delete(key("board", "retired", "CN", "fresh"))
    assert ranking(board(beijing))[0] == ("天河小林", 400_000)

    # With Redis down the board is computed from the database.
    with app.app_context():
        app.extensions["redis"] = _dead_redis()
        answer = read(lambda s: leaderboard.standings(s, region="110000", limit=10,
                                                      user_id=beijing.login["user"]["id"]))
    assert [(i["nickname"], i["retired_g"]) for i in answer["items"]] == [("天河小林", 400_000),
                                                                          ("朝阳大树", 100_000)]
    assert answer["me"] == {"rank": 2, "retired_g": 100_000}


def test_a_board_names_a_real_division(client, citizen):
    for region, status in (("999999", 400), ("44010", 400), ("4401066", 400), ("440106", 200), ("110000", 200)):
        response = citizen.get("/leaderboard", query_string={"region": region})
        if status == 400:
            refused_with(response, 400, field="region")
        assert response.status_code == status, region
    refused_with(citizen.get("/leaderboard", query_string={"limit": 0}), 400, field="limit")
    refused_with(citizen.get("/leaderboard", query_string={"limit": 101}), 400, field="limit")


def test_she_shares_her_certificate_as_a_mini_program_code(app, client, shop, citizen, fake_wechat):
    done = buy(citizen, fake_wechat, app, shop["listing"]["id"], quantity_g=50_000)
    path = f"/certificates/{done['certificate_no']}/share-code"
    first = citizen.get(path)
    # WeChat makes a JPEG (a PNG only for a transparent code) and it is served as what it is.
    assert first.status_code == 200 and first.mimetype == "image/jpeg" and first.data.startswith(b"\xff\xd8\xff")
    asked = sum(1 for _, called in fake_wechat.calls if called == "/wxa/getwxacodeunlimit")
    second = citizen.get(path)  # from the cache, with the same type
    assert (second.data, second.mimetype) == (first.data, "image/jpeg")
    assert sum(1 for _, called in fake_wechat.calls if called == "/wxa/getwxacodeunlimit") == asked == 1

    # Someone else's certificate, or none at all, is not hers to share.
    assert Citizen(client).get(path).status_code == 404
    for number in ("TH2026-99999999", "TH%00", "TH2026-0000000１", "x" * 300):
        assert citizen.get(f"/certificates/{number}/share-code").status_code == 404, number


def test_a_share_code_is_served_as_the_type_its_bytes_say(app, client, shop, citizen, fake_wechat):
    """A code cached as a PNG (a transparent one, or one cached before JPEGs were accepted) stays a PNG."""
    number = buy(citizen, fake_wechat, app, shop["listing"]["id"], quantity_g=50_000)["certificate_no"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    with app.app_context():
        app.extensions["redis_bytes"].set(key("share-code", number), png)
    shown = citizen.get(f"/certificates/{number}/share-code")
    assert (shown.status_code, shown.mimetype, shown.data) == (200, "image/png", png)


def test_when_wechat_answers_an_error_instead_of_a_code_the_share_code_is_a_503(app, client, shop, citizen,
                                                                             fake_wechat):
    number = buy(citizen, fake_wechat, app, shop["listing"]["id"], quantity_g=50_000)["certificate_no"]
    fake_wechat.fail_next("/wxa/getwxacodeunlimit", 45009, "reach max api daily quota limit")
    refused_with(citizen.get(f"/certificates/{number}/share-code"), 503, "wechat_unavailable")
    with app.app_context():  # nothing cached: the next request asks WeChat again
        assert app.extensions["redis_bytes"].get(key("share-code", number)) is None
    assert citizen.get(f"/certificates/{number}/share-code").mimetype == "image/jpeg"


def _dead_redis():
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, decode_responses=True,
                       retry=Retry(NoBackoff(), 0))


def test_the_same_bill_counts_in_each_month_it_is_saved_for(client, citizen):
    bill = calculate(client, "household", HOUSEHOLD)
    january = citizen.post("/footprints", {"calculation_id": bill["id"], "month": "2026-01"}).get_json()
    february = citizen.post("/footprints", {"calculation_id": bill["id"], "month": "2026-02", "label": "二月"}
                            ).get_json()
    assert january["id"] != february["id"] and (february["month"], february["label"]) == ("2026-02", "二月")
    # Saving it again for February finds February's save, and takes the new label.
    again = citizen.post("/footprints", {"calculation_id": bill["id"], "month": "2026-02", "label": "二月电费"}
                         ).get_json()
    assert (again["id"], again["label"]) == (february["id"], "二月电费")
    assert citizen.get("/account").get_json()["footprint_g"] == 2 * bill["total_g"]


def test_months_are_beijing_months(app, client, shop, citizen, fake_wechat, clock):
    clock.now = datetime(2026, 2, 28, 16, 30, tzinfo=timezone.utc)  # already 1 March, 00:30, in Beijing
    saved = citizen.post("/footprints", {"calculation_id": calculate(client, "household", HOUSEHOLD)["id"]}
                         ).get_json()
    assert saved["month"] == "2026-03"
    buy(citizen, fake_wechat, app, shop["listing"]["id"], quantity_g=10_000)
    months = citizen.get("/account/monthly", query_string={"months": 2}).get_json()["items"]
    assert [(m["month"], m["footprint_g"], m["offset_g"]) for m in months] == [
        ("2026-02", 0, 0), ("2026-03", saved["total_g"], 10_000)]


def test_a_retirement_reversed_by_a_correction_no_longer_counts(app, client, operator, shop, citizen, fake_wechat):
    first = buy(citizen, fake_wechat, app, shop["listing"]["id"], quantity_g=300_000)
    buy(citizen, fake_wechat, app, shop["listing"]["id"], quantity_g=100_000)
    assert citizen.get("/leaderboard").get_json()["me"]["retired_g"] == 400_000
    [retirement] = [r for r in citizen.get("/retirements").get_json()["items"] if r["order_no"] == first["order_no"]]
    transfer_id = operator.ok(operator.get(f"/ledger/retirements/{retirement['retirement_id']}"))["transfer_id"]

    # The operator reverses the first retirement (say, it was retired in error).
    operator.ok(operator.post(f"/ledger/transfers/{transfer_id}/correct", {"reason": "retired in error"},
                              key="reverse-1"))
    account = citizen.get("/account").get_json()
    assert (account["offset_g"], account["retired_g"], account["retirements"]) == (100_000, 100_000, 1)
    statuses = {r["order_no"]: r["status"] for r in citizen.get("/retirements").get_json()["items"]}
    assert statuses[first["order_no"]] == "reversed"
    # The board shows it at its next rebuild.
    with app.app_context():
        get_redis().delete(key("board", "retired", "CN", "fresh"))
    assert citizen.get("/leaderboard").get_json()["me"]["retired_g"] == 100_000


def test_a_stale_score_never_lowers_a_fresher_one(app, client, shop, citizen, fake_wechat):
    buy(citizen, fake_wechat, app, shop["listing"]["id"], quantity_g=100_000)
    user_id = citizen.login["user"]["id"]
    with app.app_context():
        board = key("board", "retired", "CN")
        get_redis().zadd(board, {str(user_id): 250_000})  # a later purchase's update got there first
        read(lambda s: leaderboard.record_retired(s, get_user(s, user_id)))  # the earlier one, computed before it
        assert get_redis().zscore(board, str(user_id)) == 250_000

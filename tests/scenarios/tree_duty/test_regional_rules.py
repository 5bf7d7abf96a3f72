"""Each region converts money to the year's duty by its own thresholds: Hainan's 30 yuan duty and 60 yuan honour,
Beijing's single 60-yuan purchase, and Sichuan's rule the platform assumed until the province publishes one — shown
as assumed wherever it is used."""

from __future__ import annotations

from tests.envelope import refused
from tests.scenarios.tree_duty.conftest import BEIJING, HAINAN, SICHUAN, voucher_of


def test_hainan_30_yuan_is_the_duty_and_topping_up_to_60_earns_honour(client, person, listing, fake_wechat):
    fu = person(real_name="符海燕", birth_year=1992, sex="female", region=HAINAN)
    assert fu.year()["due_fen"] == {"duty": 3000, "honour": 6000}

    duty = fu.paid(fake_wechat, listing, year=2026, region=HAINAN)
    assert (duty["amount_fen"], duty["quantity_g"]) == (3000, 500_000)  # 30 yuan at 60 yuan/t: half a tonne
    year = fu.year()
    assert (year["status"], year["trees"], year["paid_fen"]) == ("duty_done", 3, 3000)
    assert year["due_fen"] == {"duty": None, "honour": 3000}  # payments add up: the honour voucher costs the rest

    honour = fu.paid(fake_wechat, listing, year=2026, region=HAINAN, tier="honour")
    assert honour["amount_fen"] == 3000
    year = fu.year()
    assert (year["status"], year["trees"], year["paid_fen"]) == ("honour", 6, 6000)
    assert [(v["tier"], v["trees"], v["amount_fen"]) for v in year["vouchers"]] == [("duty", 3, 3000),
                                                                                    ("honour", 6, 6000)]
    # The honour voucher vouches for both payments' credits: 60 yuan, one tonne, two retirements.
    record = voucher_of(client, honour["certificate_no"])["payload"]
    assert record["quantity_g"] == 1_000_000 and len(record["items"]) == 2
    assert record["record"]["tier"] == "honour" and record["record"]["trees"] == 6

    refused(fu.try_order(listing, year=2026, region=HAINAN, tier="honour"), 409, "tree_duty_honoured")


def test_beijing_counts_one_purchase_at_a_time_so_a_part_payment_is_refused(person, listing):
    """北京: 单笔购买满 60 元计 3 株 — a 30-yuan part would never add up to the duty there."""
    zhao = person(real_name="赵北京", region=BEIJING)
    refused(zhao.try_order(listing, year=2026, region=BEIJING, amount_fen=3000), 400, field="tree_duty.amount_fen")
    refused(zhao.try_order(listing, year=2026, region=BEIJING, tier="honour"), 400, field="tree_duty.tier")


def test_sichuans_rule_is_the_platforms_assumption_and_says_so_on_the_rules_and_the_voucher(
        client, person, listing, fake_wechat):
    [sichuan] = client.get("/api/v1/tree-duty/rules", query_string={"region": SICHUAN}).get_json()["items"]
    assert (sichuan["key"], sichuan["version"], sichuan["status"]) == ("sichuan", 1, "assumed")
    assert (sichuan["duty_fen"], sichuan["duty_trees"], sichuan["honour_fen"]) == (4500, 3, 9000)
    assert "平台假定" in sichuan["note"] and "未公布金额" in sichuan["source"]

    every = client.get("/api/v1/tree-duty/rules").get_json()["items"]
    assert {r["status"] for r in every} == {"official", "reported", "assumed"}
    assert [r["key"] for r in every if r["status"] == "assumed"] == ["sichuan"]

    # A citizen of 成都市锦江区 falls under the province's rule, and the voucher says the rule is assumed.
    chen = person(real_name="陈蓉", birth_year=1988, sex="female", region="510104")
    assert chen.year()["rule"]["key"] == "sichuan"
    done = chen.paid(fake_wechat, listing, year=2026, region="510104")
    payload = voucher_of(client, done["certificate_no"])["payload"]
    assert payload["record"]["rule"]["status"] == "assumed"
    [rule_line] = [value for label, value in payload["facts"] if label == "折算规则 Rule"]
    assert "sichuan 第 1 版" in rule_line and "平台假定" in rule_line


def test_a_region_without_a_rule_is_a_400_naming_the_region(person, listing):
    guangdong = person(real_name="黄粤", region="440100")
    refused(guangdong.get("/tree-duty", query_string={"year": 2026}), 400, "no_tree_duty_rule", field="region")
    refused(guangdong.try_order(listing, year=2026, region="440100"), 400, "no_tree_duty_rule",
            field="tree_duty.region")
    refused(guangdong.try_order(listing, year=2025, region=BEIJING), 400, field="tree_duty.year")

"""案号 as clerks type them: each form, however bracketed and spaced, stored in one spelling; masked for the
public to court and year; and what is not a case number refused, naming ``case_no``."""

from __future__ import annotations

from datetime import date

import pytest

from backend.errors import InvalidInput
from scenarios.judicial.case_no import CaseNumber, court_region, mask, normalise, parse

TODAY = date(2025, 6, 1)


@pytest.mark.parametrize("typed, stored", [
    ("(2024)川0129刑初123号", "(2024)川0129刑初123号"),
    ("（2023）闽0627民初45号", "(2023)闽0627民初45号"),
    ("(2022)最高法民终12号", "(2022)最高法民终12号"),
    ("(2024)川01刑终7号", "(2024)川01刑终7号"),
    ("(2024)川71刑初3号", "(2024)川71刑初3号"),        # a railway court
    ("(2024)兵0101刑初5号", "(2024)兵0101刑初5号"),    # 兵团
    ("(2023)川刑终8号", "(2023)川刑终8号"),            # a high court: the province alone
    ("(2021)粤0304执恢1234567号", "(2021)粤0304执恢1234567号"),
    ("(2024)京0105司救2号", "(2024)京0105司救2号"),
    ("〔2024〕川0129刑初123号", "(2024)川0129刑初123号"),
    ("[2024]川0129刑初123号", "(2024)川0129刑初123号"),
    ("（２０２４）川０１２９刑初１２３号", "(2024)川0129刑初123号"),
    (" ( 2024 ) 川0129 刑初 123 号\u3000", "(2024)川0129刑初123号"),
    ("（2024)川0129刑初123号", "(2024)川0129刑初123号"),  # brackets of two widths, as an IME leaves them
    ("(2026)川0129刑初1号", "(2026)川0129刑初1号"),    # next year is still accepted
])
def test_a_courts_case_number_is_stored_with_ascii_brackets(typed, stored):
    assert normalise(typed, TODAY) == stored


@pytest.mark.parametrize("typed, stored", [
    ("川成检刑诉〔2024〕12号", "川成检刑诉〔2024〕12号"),
    ("大检刑诉〔2023〕5号", "大检刑诉〔2023〕5号"),
    ("川成检刑诉[2024]12号", "川成检刑诉〔2024〕12号"),
    ("川成检刑诉【2024】12号", "川成检刑诉〔2024〕12号"),
    ("川成检刑诉［２０２４］１２号", "川成检刑诉〔2024〕12号"),
    ("川成检 刑诉 (2024) 12 号", "川成检刑诉〔2024〕12号"),
])
def test_a_procuratorates_number_is_stored_with_lenticular_brackets(typed, stored):
    assert normalise(typed, TODAY) == stored


def test_the_same_case_however_typed_is_one_stored_text():
    spellings = ["(2024)川0129刑初123号", "（2024）川0129刑初123号", "（２０２４）川０１２９刑初１２３号",
                 "(2024) 川0129 刑初 123号", "〔2024〕川0129刑初123号"]
    assert {normalise(text, TODAY) for text in spellings} == {"(2024)川0129刑初123号"}


def test_parse_takes_a_number_apart():
    assert parse("（2024）川0129刑初123号", TODAY) == CaseNumber(
        year=2024, court_code="川0129", case_type="刑初", sequence=123, kind="court", text="(2024)川0129刑初123号")
    assert parse("(2022)最高法民终12号", TODAY) == CaseNumber(2022, "最高法", "民终", 12, "court", "(2022)最高法民终12号")
    assert parse("川成检刑诉[2024]12号", TODAY) == CaseNumber(2024, "川成检", "刑诉", 12, "procuratorate",
                                                          "川成检刑诉〔2024〕12号")


@pytest.mark.parametrize("case_no, public", [
    ("(2024)川0129刑初123号", "(2024)川0129刑初***号"),
    ("（2022）最高法民终12号", "(2022)最高法民终***号"),
    ("川成检刑诉〔2024〕12号", "川成检刑诉〔2024〕***号"),
    ("大检刑诉[2023]5号", "大检刑诉〔2023〕***号"),
])
def test_the_public_sees_court_and_year_only(case_no, public):
    assert mask(case_no) == public


@pytest.mark.parametrize("case_no, region", [
    ("(2024)川0129刑初123号", "510129"),   # 大邑县
    ("(2023)闽0627民初45号", "350627"),    # 南靖县
    ("(2024)京0105民初1号", "110105"),
    ("(2024)沪0115民初1号", "310115"),
    ("(2024)粤0304民初1号", "440304"),
    ("(2024)川01刑终7号", None),           # an intermediate court: a prefecture, not a county
    ("(2022)最高法民终12号", None),
    ("(2024)兵0101刑初5号", None),         # 兵团 has no GB/T 2260 province code
    ("(2024)川7101行初1号", None),         # a railway court's code is no division
    ("川成检刑诉〔2024〕12号", None),
])
def test_a_basic_courts_code_hints_at_its_county(case_no, region):
    assert court_region(parse(case_no, TODAY)) == region


@pytest.mark.parametrize("typed", [
    "(2024)川0129刑初123",          # no 号
    "(1989)川0129刑初123号",        # before 1990
    "(2027)川0129刑初123号",        # after next year
    "(2024)港0129刑初123号",        # not a province abbreviation courts use
    "(2024)川0129审初123号",        # a type that starts with no known character
    "(2024)川0129刑初0123号",       # a leading zero
    "(2024)川0129刑初0号",
    "(2024)川0129刑初12345678号",   # eight digits
    "(2024)川012刑初123号",         # three digits of court code
    "(2024)川0129刑初执行再审123号",  # a five-character type
    "(2024)川0129xingchu123号",    # letters
    "(2024)SC0129刑初123号",
    "2024川0129刑初123号",          # no brackets
    "(24)川0129刑初123号",
    "",
    "   ",
    "(2024)川0129刑初" + "1" * 186 + "号",  # 200 characters
    "川成刑诉〔2024〕12号",          # a procuratorate's without 检
    "检〔2024〕12号",                # one character of organ
    "川成检刑诉〔2024〕012号",
    "川成检刑诉〔1989〕12号",
])
def test_what_is_not_a_case_number_is_refused_naming_case_no(typed):
    with pytest.raises(InvalidInput) as refused:
        normalise(typed, TODAY)
    assert refused.value.field == "case_no"
    assert refused.value.details == [{"field": "case_no", "message": refused.value.details[0]["message"]}]
    assert "(" in refused.value.details[0]["message"]  # Chinese, then English in brackets


def test_the_message_shows_what_a_case_number_looks_like():
    with pytest.raises(InvalidInput, match=r"案号格式不正确，应如 \(2024\)川0129刑初123号"):
        normalise("(2024)川0129刑初123", TODAY)
    with pytest.raises(InvalidInput, match="1990–2026"):
        normalise("(1989)川0129刑初123号", TODAY)


def test_a_mask_of_something_malformed_is_refused():
    with pytest.raises(InvalidInput):
        mask("(2024)川0129刑初")

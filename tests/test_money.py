"""Money reads as exact yuan and is typed back as exact fen."""

import pytest

from backend.errors import InvalidInput
from backend.money import fen_from_yuan, yuan


def test_money_reads_as_exact_yuan():
    assert [yuan(fen) for fen in (0, 5, 2_800, 123_456_789, -2_400)] == [
        "0.00", "0.05", "28.00", "1,234,567.89", "-24.00"]


@pytest.mark.parametrize("typed, fen", [("5700", 570_000), ("5,700.00", 570_000), ("0.5", 50), (" 12.34 ", 1_234),
                                        ("0.07", 7), ("1,234,567.8", 123_456_780), ("3，600", 360_000)])
def test_yuan_typed_into_a_form_is_read_as_fen(typed, fen):
    assert fen_from_yuan(typed, "amount") == fen


def test_a_minus_sign_only_where_the_amount_may_be_negative():
    assert fen_from_yuan("-22.08", "amount", signed=True) == -2_208
    with pytest.raises(InvalidInput, match="amount"):
        fen_from_yuan("-22.08", "amount")


@pytest.mark.parametrize("typed", ["", "1.234", "12元", "1e3", "NaN", "１２", "12345678901", ".5", "--1", "95,50",
                                   "1,2,3", ",100", "1,0000"])
def test_anything_else_is_refused_naming_the_field(typed):
    with pytest.raises(InvalidInput) as refused:
        fen_from_yuan(typed, "amount", signed=True)
    assert refused.value.field == "amount"

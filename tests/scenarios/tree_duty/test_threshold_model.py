"""The threshold model by itself (scenarios/tree_duty/rules.py), over every shipped rule and payments Hypothesis
draws: what an order is told to pay reaches the voucher it was asked for — no more is charged than the threshold
needs, and nobody outside duty age is ever told they discharged a duty."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.errors import Conflict, InvalidInput
from scenarios.tree_duty import rules
from scenarios.tree_duty.models import DutyRule

SHIPPED = [DutyRule(**row, version=1, recorded_by="test", recorded_at=None) for row in rules._shipped()]
EXAMPLES = settings(max_examples=200, deadline=None)


@st.composite
def a_year(draw):
    """A shipped rule, whether the person is of duty age, and the payments made so far (each at least a fen)."""
    rule = draw(st.sampled_from(SHIPPED))
    paid = draw(st.lists(st.integers(1, (rule.honour_fen or rule.duty_fen) * 2), max_size=4))
    return rule, draw(st.booleans()), paid


@EXAMPLES
@given(year=a_year(), tier=st.sampled_from(("duty", "honour")))
def test_paying_what_is_due_reaches_the_voucher_asked_for_and_not_a_fen_less(year, tier):
    rule, of_age, paid = year
    try:
        owed = rules.due(rule, paid, tier=tier, of_age=of_age)
    except (Conflict, InvalidInput):
        return  # the year is already there, or the rule has no such tier: refused, nothing charged
    assert owed >= 1
    reached = rules.tier_reached(rule, rules.counted(rule, paid + [owed]), of_age=of_age)
    expected = "honour" if tier == "honour" or not of_age else "duty"
    assert reached == expected
    if rule.accumulates and owed > 1:  # a fen less would not do (a lower tier, or fewer trees): nobody overpays
        full = rules.standing(rule, paid + [owed], of_age=of_age)
        short = rules.standing(rule, paid + [owed - 1], of_age=of_age)
        assert (short.status, short.trees) != (full.status, full.trees)


@EXAMPLES
@given(year=a_year())
def test_someone_outside_duty_age_is_never_told_the_duty_is_done(year):
    rule, _, paid = year
    assert rules.standing(rule, paid, of_age=False).status in ("none", "honour")
    assert rules.tier_reached(rule, rules.counted(rule, paid), of_age=False) in (None, "honour")


@EXAMPLES
@given(year=a_year(), part=st.integers(1, 20_000))
def test_a_part_payment_never_passes_the_top_threshold(year, part):
    rule, of_age, paid = year
    try:
        owed = rules.due(rule, paid, tier="duty", of_age=of_age, amount_fen=part)
    except Conflict:
        return
    except InvalidInput as error:
        assert error.field == "tree_duty.amount_fen"
        return
    assert rule.accumulates and owed == part
    assert rules.counted(rule, paid) + part <= (rule.honour_fen or rule.duty_fen)


@pytest.mark.parametrize("birth_year, sex, owes", [(2015, "female", True), (2016, "female", False),
                                                   (1971, "female", True), (1970, "female", False),
                                                   (1966, "male", True), (1965, "male", False)])
def test_duty_age_edges_in_2026(birth_year, sex, owes):
    beijing = next(rule for rule in SHIPPED if rule.key == "beijing-2010")
    assert rules.of_duty_age(beijing, 2026, birth_year, sex) is owes

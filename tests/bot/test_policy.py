"""The spend policy, pure: the model, approvals by amount, cap, budget, holds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.workflow.policy import (
    NO_POLICY,
    MonthSpend,
    Policy,
    approval_refusal,
    approvals_needed,
    budget_line,
    holds_refusal,
    request_refusal,
)

D = Decimal
QUIET_MONTH = MonthSpend(D(0), D(0), D(0))


def policy(**fields):
    return Policy.model_validate(fields)


def test_no_policy_is_todays_behaviour():
    assert approvals_needed(NO_POLICY, "purchase", D("999.99")) == 1
    assert approvals_needed(NO_POLICY, "release", None) == 1
    assert request_refusal(NO_POLICY, D("999.99"), QUIET_MONTH) is None
    assert approval_refusal(NO_POLICY, D("999.99"), D("1000")) is None
    assert holds_refusal(NO_POLICY, ["+1"] * 50) is None
    assert budget_line(NO_POLICY, QUIET_MONTH) is None


def test_quorum_counts_tiers_strictly_above():
    p = policy(
        quorum=[{"above_usd": "20.00", "approvals": 2}, {"above_usd": "100", "approvals": 3}]
    )
    assert approvals_needed(p, "purchase", D("20.00")) == 1  # not strictly above
    assert approvals_needed(p, "purchase", D("20.01")) == 2
    assert approvals_needed(p, "purchase", D("100.01")) == 3
    assert approvals_needed(p, "purchase", None) == 3  # unknown: the most any tier asks
    assert approvals_needed(p, "release", D("1000")) == 1
    assert approvals_needed(policy(release_approvals=2), "release", None) == 2


def test_cap_and_budget_say_the_figures():
    p = policy(max_purchase_usd="2.00", monthly_budget_usd="4.00")
    assert request_refusal(p, D("2.15"), QUIET_MONTH) == (
        "over_cap",
        "$2.15 is over the $2.00 cap for one purchase.",
    )
    p = policy(monthly_budget_usd="4.00")
    code, why = request_refusal(p, D("2.15"), MonthSpend(D("2.15"), D(0), D(0)))
    assert code == "over_budget" and "This month $2.15 spent + $0.00 pending of $4.00" in why
    code, why = request_refusal(p, D("1.01"), MonthSpend(D("1.00"), D("0.50"), D("1.50")))
    assert code == "over_budget" and "$1.00 spent + $2.00 pending of $4.00" in why
    assert request_refusal(p, D("1.00"), MonthSpend(D("1.00"), D("0.50"), D("1.50"))) is None
    assert request_refusal(p, D("1.85"), MonthSpend(D("2.15"), D(0), D(0))) is None  # exactly fits
    assert approval_refusal(p, D("2.15"), D("2.15")) is not None
    assert approval_refusal(p, D("1.85"), D("2.15")) is None
    assert approval_refusal(p, None, D(0)) is not None  # cannot keep a budget blind
    assert budget_line(p, MonthSpend(D("1"), D("0.5"), D("9"))) == "This month: $1.50 of $4.00"


def test_hold_limit_names_the_holds():
    p = policy(max_open_holds=2)
    assert holds_refusal(p, ["+14155550100"]) is None
    why = holds_refusal(p, ["+14155550100", "+14155550101"])
    assert why and "+14155550100, +14155550101" in why and "/numbers holds" in why


@pytest.mark.parametrize(
    "fields,where",
    [
        ({"max_purchase_usd": 25.0}, "max_purchase_usd"),  # a TOML float
        ({"max_purchase_usd": "-1"}, "max_purchase_usd"),
        ({"max_purchase_usd": "1.005"}, "max_purchase_usd"),
        ({"monthly_budget_usd": "lots"}, "monthly_budget_usd"),
        ({"approvers": ["bob"]}, "approvers"),
        ({"approver_groups": ["U0AAA"]}, "approver_groups"),
        ({"quorum": [{"above_usd": "1", "approvals": 0}]}, "quorum"),
        (
            {"quorum": [{"above_usd": "1", "approvals": 2}, {"above_usd": "1.00", "approvals": 3}]},
            "quorum",
        ),
        ({"max_open_holds": 0}, "max_open_holds"),
        ({"maximum_purchase": "1"}, "maximum_purchase"),  # a misspelt key is not ignored
    ],
)
def test_bad_policies_name_the_field(fields, where):
    with pytest.raises(ValidationError) as raised:
        Policy.model_validate(fields)
    assert where in str(raised.value)


def test_the_hash_follows_the_rules_not_the_layout():
    a = policy(max_purchase_usd="25", quorum=[{"above_usd": "20", "approvals": 2}])
    b = policy(quorum=[{"above_usd": "20", "approvals": 2}], max_purchase_usd="25")
    assert a.hash == b.hash and len(a.hash) == 16
    written_otherwise = policy(
        max_purchase_usd="25.00", quorum=[{"above_usd": "20.00", "approvals": 2}]
    )
    assert written_otherwise.hash == a.hash  # one amount, however it is written
    assert policy(approvers=["U0A", "U0B"]).hash == policy(approvers=["U0B", "U0A"]).hash
    assert policy(max_purchase_usd="26").hash != a.hash
    assert NO_POLICY.hash != a.hash


@given(
    charge=st.decimals(min_value=0, max_value=10_000, places=2),
    spent=st.decimals(min_value=0, max_value=10_000, places=2),
    pending=st.decimals(min_value=0, max_value=10_000, places=2),
    budget=st.decimals(min_value=0, max_value=10_000, places=2),
)
def test_a_request_the_budget_admits_is_admitted_at_approval_too(charge, spent, pending, budget):
    """What passes at request time (pending counted) passes at approval (pending not)."""
    p = Policy(monthly_budget_usd=budget)
    month = MonthSpend(spent, D(0), pending)
    if request_refusal(p, charge, month) is None:
        assert approval_refusal(p, charge, month.committed) is None


def test_a_hold_refusal_counts_the_numbers_held_in_words():
    from bot.workflow.policy import holds_refusal

    one, two = Policy(max_open_holds=1), Policy(max_open_holds=2)
    assert holds_refusal(one, []) is None and holds_refusal(two, ["+14155550100"]) is None
    assert holds_refusal(one, ["+14155550100"]).startswith(
        "You already hold 1 number (+14155550100), the most one person may hold at once."
    )
    assert holds_refusal(two, ["+14155550100", "+14155550101"]).startswith(
        "You already hold 2 numbers (+14155550100, +14155550101), the most"
    )


def test_an_amount_that_is_not_text_or_a_number_is_refused_saying_how_to_write_one():
    with pytest.raises(ValueError, match=r'an amount in dollars, e\.g\. "25\.00"'):
        Policy.model_validate({"monthly_budget_usd": ["25.00"]})
    with pytest.raises(ValueError, match=r"'twenty' is not an amount in dollars"):
        Policy.model_validate({"monthly_budget_usd": "twenty"})

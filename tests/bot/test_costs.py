"""bot/kernel/costs.py: the monthly bill, the runway and when it runs low, decided alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.flowyte.models import UsageItem, Wallet
from bot.kernel.costs import (
    NO_NUMBERS,
    TOLL_FREE_NOTE,
    USAGE_GRACE,
    MonthlyBill,
    UsageTally,
    auto_reload_covers,
    bar,
    bill_after,
    credits_to_usd,
    is_toll_free,
    lasts,
    monthly_bill,
    runs_low,
    runway_days,
    usage_complete,
    usage_due,
)

D = Decimal


def wallet(
    balance: str,
    enabled: bool | None = False,
    amount: str | None = None,
    threshold: str | None = "5",
) -> Wallet:
    return Wallet.model_validate(
        {
            "balanceUsd": D(balance),
            "autoReloadEnabled": enabled,
            "autoReloadThresholdUsd": None if threshold is None else D(threshold),
            "autoReloadAmountUsd": None if amount is None else D(amount),
        }
    )


def test_the_bill_is_exact_and_counts_numbers_it_cannot_price():
    bill = monthly_bill([(D("1.15"), 30), (D("0.10"), 3), (None, 2)])
    assert bill == MonthlyBill(D("34.80"), 33, 2) and bill.numbers == 35
    assert bill.words() == "at least $34.80 a month (2 numbers' cost unknown)"
    assert monthly_bill([(D("1.15"), 30)]).words() == "$34.50 a month"
    assert monthly_bill([]) == NO_NUMBERS
    # Float arithmetic would not give exactly this: 0.1 * 3 != 0.3.
    assert monthly_bill([(D("0.1"), 3)]).total == D("0.3")


def test_runway_in_whole_days_of_the_average_month():
    assert runway_days(D("9.20"), D("34.50")) == 8  # 9.20 * 30.4375 / 34.50 = 8.117
    assert runway_days(D("34.50"), D("34.50")) == 30
    assert runway_days(D("0"), D("34.50")) == 0
    assert runway_days(D("-3"), D("34.50")) == 0
    assert runway_days(D("100"), D("0")) is None


def test_lasts_reads_as_a_person_would_say_it():
    assert lasts(D("9.20"), monthly_bill([(D("1.15"), 30)])) == (
        "lasts about 8 days at $34.50 a month"
    )
    assert lasts(D("1.20"), monthly_bill([(D("34.50"), 1)])) == (
        "lasts about 1 day at $34.50 a month"
    )
    assert lasts(D("0"), monthly_bill([(D("34.50"), 1)])) == (
        "does not cover the numbers' $34.50 a month"
    )
    assert lasts(D("50"), NO_NUMBERS) == "no number costs anything a month"
    assert "unknown" in lasts(D("50"), monthly_bill([(None, 4)]))


@pytest.mark.parametrize(
    ("enabled", "amount", "covers"),
    [
        (True, "20", True),
        (True, "0", False),
        (True, None, False),
        (False, "20", False),
        (None, "20", False),
    ],
)
def test_auto_reload_covers_only_when_on_with_an_amount(enabled, amount, covers):
    assert auto_reload_covers(wallet("1", enabled, amount)) is covers


@pytest.mark.parametrize(("threshold", "covers"), [("5", True), ("0", False), (None, False)])
def test_auto_reload_at_a_threshold_of_0_or_unknown_covers_no_runway(threshold, covers):
    """It would reload only once the balance is gone (or cannot be counted on before)."""
    assert auto_reload_covers(wallet("1", True, "20", threshold)) is covers
    bill = monthly_bill([(D("1.15"), 30)])
    assert runs_low(wallet("1", True, "20", threshold), bill, 14) is not covers


def test_the_wallet_runs_low_below_the_days_unless_auto_reload_refills_it():
    bill = monthly_bill([(D("1.15"), 30)])  # $34.50 a month: $1.134 a day
    assert runs_low(wallet("9.20"), bill, 14)  # 8 days
    assert not runs_low(wallet("9.20"), bill, 8)  # 8 is not fewer than 8
    assert not runs_low(wallet("20"), bill, 14)  # 17 days
    assert not runs_low(wallet("9.20", True, "50"), bill, 14)  # auto-reload refills it
    assert not runs_low(wallet("0"), NO_NUMBERS, 14)  # nothing to pay for


def test_the_card_says_what_the_bill_becomes():
    bill = monthly_bill([(D("1.15"), 30)])
    # After the purchase: $9.20 - $3.15 = $6.05 at $35.65 a month: 6.05 * 30.4375 / 35.65 = 5.17
    # (the balance before it would say 7 days).
    assert bill_after(bill, D("1.15"), D("9.20"), D("3.15")) == (
        "numbers: $34.50 → $35.65 a month; the wallet then lasts about 5 days"
    )
    assert bill_after(bill, D("1.15"), D("3.15"), D("3.15")) == (
        "numbers: $34.50 → $35.65 a month; the wallet then does not cover a day"
    )
    assert bill_after(bill, D("1.15"), D("9.20"), None) == "numbers: $34.50 → $35.65 a month"
    assert bill_after(bill, None, None, None) == (
        "numbers: $34.50 → at least $34.50 a month (1 number's cost unknown)"
    )


def test_credits_are_cents_exactly():
    assert credits_to_usd(D("3450")) == D("34.50")
    assert credits_to_usd(D("1")) == D("0.01")


@pytest.mark.parametrize(
    ("e164", "toll_free"),
    [
        ("+18005550100", True),
        ("+18885550100", True),
        ("+18335550100", True),
        ("+14155550100", False),
        ("+18015550100", False),  # 801 is Utah
        ("+448005550100", False),
        ("+1800555010", False),
    ],
)
def test_toll_free_is_the_north_american_8xx_codes(e164, toll_free):
    assert is_toll_free(e164) is toll_free


def test_the_toll_free_note_names_the_surcharge():
    assert TOLL_FREE_NOTE == "toll-free: every inbound minute costs $0.02 more"


def test_bars_are_proportional_and_any_spend_shows():
    assert bar(D("10"), D("10")) == "█" * 20
    assert bar(D("5"), D("10")) == "█" * 10
    assert bar(D("0.01"), D("10")) == "█"
    assert bar(D("0"), D("10")) == "" and bar(D("3"), D("0")) == ""


@given(
    st.decimals(min_value=0, max_value=10**6, places=2),
    st.decimals(min_value=D("0.01"), max_value=10**5, places=2),
)
def test_the_runway_never_claims_a_day_the_balance_does_not_pay_for(balance, monthly):
    days = runway_days(balance, monthly)
    assert days is not None and days >= 0
    daily = monthly / D("30.4375")
    assert daily * days <= balance < daily * (days + 1)


def test_lasts_for_is_the_short_form():
    from bot.kernel.costs import lasts_for

    bill = monthly_bill([(D("1.15"), 30)])
    assert lasts_for(D("9.20"), bill) == "lasts about 8 days"
    assert lasts_for(D("0"), bill) == "does not cover a day"
    assert lasts_for(D("5"), NO_NUMBERS) is None


FEB, MAR = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)


def item(channel: str, credits: str, at: str | None) -> UsageItem:
    return UsageItem.model_validate({"channel": channel, "credits": credits, "time": at})


def test_a_month_sums_its_number_charges_and_counts_every_item():
    tally = UsageTally(FEB, MAR).add(
        [item("number", "115", "2026-02-01T00:00:00Z"), item("voice", "40", "2026-02-10T08:00Z")]
    )
    tally = tally.add([item("number", "0.5", "2026-02-28T23:59:59.999Z")])
    assert (tally.number_credits, tally.items, tally.outside) == (D("115.5"), 3, 0)


def test_charges_outside_the_month_asked_for_are_never_summed():
    tally = UsageTally(FEB, MAR).add(
        [
            item("number", "115", "2026-02-10T00:00:00Z"),
            item("number", "999", "2026-03-01T00:00:00Z"),  # `to` is not included
            item("number", "999", "2025-06-10T00:00:00Z"),
        ]
    )
    assert tally.outside == 2 and tally.number_credits == D("115")


def test_an_item_without_a_time_cannot_be_checked_and_is_counted():
    assert UsageTally(FEB, MAR).add([item("number", "115", None)]).number_credits == D("115")


def test_a_month_is_final_only_the_grace_after_it_ended():
    assert timedelta(days=3) == USAGE_GRACE
    assert not usage_complete(MAR, MAR)  # read as it ended: rentals may still post
    assert not usage_complete(MAR, MAR + timedelta(days=2, hours=23))
    assert usage_complete(MAR, MAR + timedelta(days=3))


def test_a_month_is_read_when_never_read_or_stale_and_not_final():
    fresh = timedelta(minutes=15)
    assert usage_due(None, False, MAR, fresh)
    assert not usage_due(MAR, False, MAR + timedelta(minutes=14), fresh)
    assert usage_due(MAR, False, MAR + timedelta(minutes=15), fresh)
    assert not usage_due(MAR, True, MAR + timedelta(days=400), fresh)

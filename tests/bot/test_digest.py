"""The daily digest's pure parts: when it falls due, which day it covers, what it counts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bot.workflow.digest import (
    OUTCOMES,
    day_bounds,
    due_day,
    from_detail,
    next_due_at,
    retry_delay,
    summarise,
    to_detail,
)
from storage.audit import AuditEntry

DAY = date(2026, 11, 27)


def entry(
    at: str,
    *,
    action: str = "approve",
    outcome: str = "ok",
    state: str | None = None,
    detail: dict[str, object] | None = None,
    seq: int = 1,
) -> AuditEntry:
    return AuditEntry(
        seq,
        at,
        "U1",
        action,
        "req_0123456789ab",
        outcome,
        json.dumps(detail or {}),
        state,
        "0",
        "1",
    )


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- when


@pytest.mark.parametrize(
    ("now", "hour", "expected"),
    [
        (datetime(2026, 11, 28, 9, 0, tzinfo=UTC), 9, date(2026, 11, 27)),  # the hour strikes
        (datetime(2026, 11, 28, 8, 59, 59, 999999, tzinfo=UTC), 9, date(2026, 11, 26)),
        (datetime(2026, 11, 28, 23, 59, tzinfo=UTC), 9, date(2026, 11, 27)),
        (datetime(2026, 11, 28, 0, 0, tzinfo=UTC), 0, date(2026, 11, 27)),  # hour 0: always
        (datetime(2026, 11, 28, 22, 59, tzinfo=UTC), 23, date(2026, 11, 26)),
        (datetime(2026, 3, 1, 9, 0, tzinfo=UTC), 9, date(2026, 2, 28)),  # across a month
        (datetime(2028, 1, 1, 9, 0, tzinfo=UTC), 9, date(2027, 12, 31)),  # and a year
    ],
)
def test_the_digest_due_is_yesterday_s_once_the_hour_has_struck(now, hour, expected):
    assert due_day(now, hour) == expected


def test_due_day_reads_any_zone_as_utc():
    # 2026-11-28 08:30 in UTC-05:00 is 13:30 UTC: past 9 UTC, so yesterday (UTC) is due.
    eastern = timezone(timedelta(hours=-5))
    assert due_day(datetime(2026, 11, 28, 8, 30, tzinfo=eastern), 9) == date(2026, 11, 27)
    # 2026-11-28 01:00 in UTC+09:00 is 2026-11-27 16:00 UTC.
    tokyo = timezone(timedelta(hours=9))
    assert due_day(datetime(2026, 11, 28, 1, 0, tzinfo=tokyo), 9) == date(2026, 11, 26)


def test_next_due_is_today_s_hour_or_tomorrow_s():
    assert next_due_at(datetime(2026, 11, 28, 8, 0, tzinfo=UTC), 9) == datetime(
        2026, 11, 28, 9, 0, tzinfo=UTC
    )
    assert next_due_at(datetime(2026, 11, 28, 9, 0, tzinfo=UTC), 9) == datetime(
        2026, 11, 29, 9, 0, tzinfo=UTC
    )
    assert next_due_at(datetime(2026, 12, 31, 23, 0, tzinfo=UTC), 0) == datetime(
        2027, 1, 1, 0, 0, tzinfo=UTC
    )


def test_a_refused_digest_is_retried_ever_more_slowly_but_at_least_hourly():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert retry_delay(10) == retry_delay(10_000) == timedelta(hours=1)


def test_a_day_is_midnight_to_midnight_utc():
    assert day_bounds(DAY) == (
        datetime(2026, 11, 27, tzinfo=UTC),
        datetime(2026, 11, 28, tzinfo=UTC),
    )


# --------------------------------------------------------------------------- what


def test_the_day_s_boundaries_are_exact_to_the_microsecond():
    entries = [
        entry("2026-11-26T23:59:59.999999Z", state="purchased", detail={"charged": "1"}),
        entry("2026-11-27T00:00:00.000000Z", state="purchased", detail={"charged": "2"}),
        entry("2026-11-27T23:59:59.999999Z", state="purchased", detail={"charged": "4"}),
        entry("2026-11-28T00:00:00.000000Z", state="purchased", detail={"charged": "8"}),
    ]
    summary = summarise(DAY, entries, still_checking=0)
    assert summary.outcomes["purchased"] == 2
    assert summary.spent == Decimal("6")


def test_spend_is_an_exact_decimal_sum():
    entries = [
        entry(
            at(datetime(2026, 11, 27, 10, i, tzinfo=UTC)),
            state="purchased",
            detail={"charged": amount},
        )
        for i, amount in enumerate(["0.10", "0.20", "2.15", "1000000.01"])
    ]
    summary = summarise(DAY, entries, still_checking=0)
    assert summary.spent == Decimal("1000002.46")
    assert isinstance(summary.spent, Decimal)
    assert summary.unpriced == 0


def test_a_purchase_without_an_amount_is_counted_not_guessed():
    entries = [
        entry("2026-11-27T10:00:00.000000Z", state="purchased", detail={"charged": "2.15"}),
        entry("2026-11-27T11:00:00.000000Z", state="purchased", detail={}),
        entry("2026-11-27T12:00:00.000000Z", state="purchased", detail={"charged": "NaN"}),
    ]
    summary = summarise(DAY, entries, still_checking=0)
    assert summary.outcomes["purchased"] == 3
    assert summary.spent == Decimal("2.15") and summary.unpriced == 2


def test_outcomes_new_requests_and_refusals_by_action():
    noon = "2026-11-27T12:00:00.000000Z"
    entries = [
        entry(noon, action="request_purchase", state="pending"),
        entry(noon, action="request_release", state="pending"),
        entry(noon, action="purchase", outcome="failed", state="pending"),  # back to pending
        entry(noon, action="release", state="released"),
        entry(noon, action="purchase", outcome="failed", state="failed"),
        entry(noon, action="reject", state="rejected"),
        entry(noon, action="cancel", state="cancelled"),
        entry(noon, action="expire", state="expired"),
        entry(noon, action="expire", state="expired"),
        entry(noon, action="purchase", outcome="unknown", state="checking"),
        entry(noon, action="approve", outcome="refused"),
        entry(noon, action="approve", outcome="refused"),
        entry(noon, action="reserve", outcome="refused"),
        entry(noon, action="assign", outcome="refused"),
    ]
    summary = summarise(DAY, entries, still_checking=3)
    assert summary.requested == 2
    assert summary.outcomes == {
        "purchased": 0,
        "released": 1,
        "failed": 1,
        "rejected": 1,
        "cancelled": 1,
        "expired": 2,
    }
    assert summary.still_checking == 3
    assert list(summary.refusals.items()) == [("approve", 2), ("assign", 1), ("reserve", 1)]
    assert not summary.quiet


def test_an_empty_day_is_a_quiet_day_with_every_count_at_zero():
    summary = summarise(DAY, [], still_checking=0)
    assert summary.quiet
    assert summary.spent == Decimal(0) and summary.unpriced == 0 and summary.requested == 0
    assert summary.outcomes == dict.fromkeys(OUTCOMES, 0)
    assert summary.refusals == {}


def test_a_request_still_checking_makes_a_day_worth_reading():
    assert not summarise(DAY, [], still_checking=1).quiet


def test_the_sealed_detail_round_trips():
    entries = [
        entry("2026-11-27T10:00:00.000000Z", state="purchased", detail={"charged": "2.15"}),
        entry("2026-11-27T10:00:00.000000Z", action="approve", outcome="refused"),
    ]
    summary = summarise(DAY, entries, still_checking=1)
    text = to_detail(summary)
    assert json.loads(text)["spent"] == "2.15"  # money as a string, never a float
    assert from_detail(text) == summary

"""The pure rules of bot/flowyte/retry.py: backoff and the waits Flowyte's headers ask for."""

from __future__ import annotations

import httpx
import pytest

from bot.flowyte.retry import MAX_WAIT, NO_RETRY, RetryPolicy, header_seconds, retry_after


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("1e9", MAX_WAIT),
        ("inf", MAX_WAIT),
        ("nan", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
        ("soon", None),
        ("", None),
    ],
)
def test_a_header_delay_is_seconds_clamped_or_none(value, seconds):
    assert header_seconds(value) == seconds


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({}, None),
        ({"Retry-After": "4"}, 4.0),
        ({"RateLimit-Reset": "7"}, 7.0),
        ({"Retry-After": "4", "RateLimit-Reset": "7"}, 4.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT", "RateLimit-Reset": "7"}, 7.0),
        ({"retry-after": "2", "ratelimit-reset": "9"}, 2.0),
        ({"Retry-After": "later", "RateLimit-Reset": "never"}, None),
    ],
)
def test_retry_after_wins_then_ratelimit_reset(headers, wait):
    assert retry_after(httpx.Headers(headers)) == wait


def test_backoff_is_full_jitter_under_the_cap():
    policy = RetryPolicy(base_delay=0.25, max_delay=2.0)
    assert [policy.backoff(n, lambda: 1.0) for n in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert policy.backoff(3, lambda: 0.5) == 1.0
    assert policy.backoff(3, lambda: 0.0) == 0.0


def test_no_retry_is_one_attempt():
    assert NO_RETRY.attempts == 1 and RetryPolicy().attempts == 4

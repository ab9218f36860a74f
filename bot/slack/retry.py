"""How numbot's Slack Web API calls ride out Slack's limits: retry handlers for slack_sdk.

    AsyncWebClient(..., retry_handlers=slack_retry_handlers())

slack_sdk's AsyncWebClient only retries connection errors, once, by default; a 429 from a
rate-limited `chat.postMessage` came straight back as an error and left a request without
its card. With these handlers a call is retried:

- on 429, after the `Retry-After` Slack sent (plus up to a second of jitter, so a burst of
  calls does not return at once), up to RATE_LIMIT_RETRIES times, and only when Slack asks
  for at most MAX_RETRY_AFTER seconds: a longer wait fails the call now, and the request's
  owner (the sweep, for a card) tries again later instead of holding a listener for minutes;
- on a connection refused, reset or dropped, with slack_sdk's capped exponential backoff,
  up to CONNECTION_RETRIES times.

The handlers share one attempt count per call (slack_sdk's RetryState), so a call makes at
most 1 + RATE_LIMIT_RETRIES attempts in all.
"""

from __future__ import annotations

import asyncio
import math
import random

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

RATE_LIMIT_RETRIES = 3
MAX_RETRY_AFTER = 30.0  # seconds; Slack's usual answers are 1-30 s (60 s for tier-1 methods)
CONNECTION_RETRIES = 2
DEFAULT_RETRY_AFTER = 1.0  # a 429 without Retry-After (Slack always sends one, but…)


def retry_after(response: HttpResponse) -> float:
    """Seconds Slack asked to wait: its Retry-After, read leniently, never negative.

    slack_sdk's own handler does `int(value)`, so a non-integer value ("1.5", an HTTP date)
    raised ValueError out of the call instead of waiting.
    """
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                seconds = float(values[0])
            except ValueError:
                return DEFAULT_RETRY_AFTER
            return max(0.0, seconds) if math.isfinite(seconds) else math.inf
    return DEFAULT_RETRY_AFTER


class CappedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, except that it never waits longer than `max_wait` seconds."""

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and retry_after(response) <= self.max_wait
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = retry_after(response) if response is not None else DEFAULT_RETRY_AFTER
        state.next_attempt_requested = True
        await asyncio.sleep(wait + random.random())  # noqa: S311 - jitter, not a secret
        state.increment_current_attempt()


def slack_retry_handlers() -> list[AsyncRetryHandler]:
    """A fresh list for one client (bolt copies it into each request's client)."""
    return [
        CappedRateLimitRetryHandler(max_retry_count=RATE_LIMIT_RETRIES, max_wait=MAX_RETRY_AFTER),
        AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
    ]

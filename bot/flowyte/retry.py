"""When the Flowyte client tries again, and how long it waits first. Pure rules, no I/O.

Reads (GET) and the release of a hold are retried with capped, jittered exponential backoff
that honours `Retry-After` (else `RateLimit-Reset`), both read as seconds and clamped to
[0, MAX_WAIT]; a value that is not a number (an HTTP date, garbage) falls through to the next
source, else to numbot's own backoff. A retry, or the next page of a list, is started only
within the policy's `budget` of the call's start, so no client call takes longer than
`budget + attempt_timeout`. Nothing that moves money or changes routing is retried
(`NO_RETRY`): the caller reconciles instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

MAX_WAIT: Final = 3600.0  # seconds: a longer Retry-After / RateLimit-Reset is read as this


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 2.0
    # Seconds from a call's start within which another attempt (a retry, or the next page of
    # a list) may still be started; the waits count. The last attempt may then run for up to
    # the client's attempt_timeout, so a call ends within budget + attempt_timeout.
    budget: float = 6.0

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: a random wait in [0, min(cap, base * 2**attempt)]."""
        return float(rng() * min(self.max_delay, self.base_delay * (2**attempt)))


DEFAULT_RETRY: Final = RetryPolicy()
NO_RETRY: Final = RetryPolicy(attempts=1)


def header_seconds(value: str | None) -> float | None:
    """A header's delay in seconds, clamped to [0, MAX_WAIT]; None if it is not a number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date, or garbage: the next source, else our own backoff
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_WAIT)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait Flowyte asks for: `Retry-After` (seconds), else `RateLimit-Reset` (seconds).

    `headers` should look names up regardless of case, as `httpx.Headers` does."""
    wait = header_seconds(headers.get("Retry-After"))
    if wait is None:
        wait = header_seconds(headers.get("RateLimit-Reset"))
    return wait

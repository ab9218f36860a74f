"""Keep numbot's calls to Slack within Slack's published rate limits without ever making a
person wait for numbot's own pacing.

Every call is counted against its method's budget. A call made for someone who just acted
(a click's card update, a reply, a modal) goes at once, even past the budget: holding it
would make the person wait, and Slack tolerates bursts (a 429 it still sends is retried
after its Retry-After, bot/slack/retry.py). Background work (the sweep's card repairs,
reminders, expiries, the digest) waits for the budget and leaves a quarter of it unused, so
a burst of expiries never spends what the next click needs.

Slack's limits (https://api.slack.com/docs/rate-limits), per method, per app and workspace:
Tier 2 20+/min, Tier 3 50+/min, Tier 4 100+/min, with bursts tolerated; chat.postMessage
about one message a second per channel, short bursts allowed. numbot paces each method to
its tier's floor, with a burst of ten seconds' worth, and chat.postMessage per channel.

    pacer = SlackPacer()
    await pacer.wait("chat.update", channel="C0APPROVALS")
    with background_calls():          # the sweep
        await pacer.wait("chat.postMessage", channel="U0ALICE")

The bookkeeping (`TokenBucket`) is pure and takes the time as an argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator

TIER_PER_MINUTE = {2: 20, 3: 50, 4: 100}
# The methods numbot calls and their tier (Slack's method reference). A method not here is
# not paced: apps.connections.open (Socket Mode reconnects) and anything numbot does not call.
METHOD_TIER = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.update": 4,
    "views.push": 4,
    "views.publish": 4,
    "auth.test": 4,
    "usergroups.users.list": 2,
    "usergroups.list": 2,
}
POST_PER_CHANNEL_PER_SECOND = 1.0
POST_BURST = 3
BURST_SECONDS = 10  # a bucket holds this many seconds' worth of calls
MAX_CHANNEL_BUCKETS = 1000  # idle ones are dropped past this (a DM to each of many people)
EPSILON = 1e-6  # of a token
MIN_WAIT = 0.001  # seconds: never a busy loop of vanishing waits

_background: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "numbot_background_calls", default=False
)


@contextlib.contextmanager
def background_calls() -> Iterator[None]:
    """Calls made inside (and in tasks started inside) leave a reserve for people."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


class TokenBucket:
    """`rate` tokens a second up to `capacity`; a call takes one. Starts full."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a bucket needs a positive rate and room for one call")
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.at = now

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
            self.at = now

    def take(self, now: float, *, reserve: float = 0.0) -> float:
        """Take a token and return 0.0, or take none and return the seconds until one could
        be taken while leaving `reserve` tokens in the bucket."""
        self._refill(now)
        needed = reserve + 1
        if self.level >= needed - EPSILON:  # a refill computed in floats may fall just short
            self.level -= 1
            return 0.0
        return max(MIN_WAIT, (needed - self.level) / self.rate)

    def spend(self, now: float) -> None:
        """Take a token whether or not there is one: the bucket may go into debt (at most
        one bucket's worth), which later background calls wait out."""
        self._refill(now)
        self.level = max(-self.capacity, self.level - 1)

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.level >= self.capacity


def reserve_for_people(capacity: float) -> float:
    """What background calls leave in a bucket: a quarter of it, at least one call."""
    return max(1.0, capacity // 4) if capacity >= 2 else 0.0


class SlackPacer:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._methods: dict[str, TokenBucket] = {}
        self._channels: dict[str, TokenBucket] = {}
        self.waited = 0.0  # seconds spent waiting, since start (for the curious and tests)

    def _bucket(self, method: str, channel: str | None) -> TokenBucket | None:
        now = self._clock()
        if method == "chat.postMessage":
            if not channel:
                return None
            bucket = self._channels.get(channel)
            if bucket is None:
                if len(self._channels) >= MAX_CHANNEL_BUCKETS:
                    self._channels = {k: b for k, b in self._channels.items() if not b.full(now)}
                bucket = TokenBucket(POST_PER_CHANNEL_PER_SECOND, POST_BURST, now)
                self._channels[channel] = bucket
            return bucket
        tier = METHOD_TIER.get(method)
        if tier is None:
            return None
        bucket = self._methods.get(method)
        if bucket is None:
            per_second = TIER_PER_MINUTE[tier] / 60
            bucket = TokenBucket(per_second, max(1.0, per_second * BURST_SECONDS), now)
            self._methods[method] = bucket
        return bucket

    async def wait(self, method: str, *, channel: str | None = None) -> None:
        """Return when `method` (to `channel`, for chat.postMessage) may be called: at once
        for people, once the budget allows for background work."""
        bucket = self._bucket(method, channel)
        if bucket is None:
            return
        if not _background.get():
            bucket.spend(self._clock())
            return
        reserve = reserve_for_people(bucket.capacity)
        while (delay := bucket.take(self._clock(), reserve=reserve)) > 0:
            self.waited += delay
            await self._sleep(delay)

"""bot/slack/pace.py: background calls keep within Slack's published limits and leave room
for people; people's calls are counted but never held."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack.pace import (
    MAX_CHANNEL_BUCKETS,
    SlackPacer,
    TokenBucket,
    background_calls,
    reserve_for_people,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


@pytest.fixture
def pacer(time_: FakeTime) -> SlackPacer:
    return SlackPacer(clock=time_.clock, sleep=time_.sleep)


def test_a_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one more token in half a second
    assert bucket.take(0.5) == 0.0
    assert bucket.take(100.0) == 0.0 and bucket.level == pytest.approx(2.0)  # capped at 3


def test_a_reserve_is_left_in_the_bucket() -> None:
    bucket = TokenBucket(rate=1.0, capacity=4, now=0.0)
    assert bucket.take(0.0, reserve=1) == 0.0
    assert bucket.take(0.0, reserve=1) == 0.0
    assert bucket.take(0.0, reserve=1) == 0.0
    assert bucket.take(0.0, reserve=1) == pytest.approx(1.0)  # the last token is kept
    assert bucket.take(0.0) == 0.0  # ... for a call without a reserve


def test_spending_may_go_into_debt_but_not_without_bound() -> None:
    bucket = TokenBucket(rate=1.0, capacity=2, now=0.0)
    for _ in range(10):
        bucket.spend(0.0)
    assert bucket.level == -2
    assert bucket.take(0.0) == pytest.approx(3.0)  # the debt is waited out, then one token


@pytest.mark.parametrize(("capacity", "kept"), [(1, 0), (2, 1), (8, 2), (16, 4)])
def test_people_keep_a_quarter_of_each_budget(capacity: int, kept: float) -> None:
    assert reserve_for_people(capacity) == kept


async def test_people_are_never_held_even_past_the_budget(pacer, time_) -> None:
    for _ in range(200):
        await pacer.wait("chat.update", channel="C1")
    assert time_.slept == [] and pacer.waited == 0


async def test_background_card_updates_keep_to_tier_3_and_leave_room(pacer, time_) -> None:
    with background_calls():
        for _ in range(60):
            await pacer.wait("chat.update", channel="C1")
    # Tier 3 is 50 a minute: 60 background updates take at least a minute (less the burst
    # already in the bucket), and a person's update right after still goes without waiting.
    assert 50.0 <= time_.now <= 75.0
    slept = len(time_.slept)
    await pacer.wait("chat.update", channel="C1")
    assert len(time_.slept) == slept


async def test_background_waits_out_what_people_spent(pacer, time_) -> None:
    for _ in range(20):
        await pacer.wait("views.publish")  # people's Home tabs: 20 at once, never held
    with background_calls():
        await pacer.wait("views.publish")
    assert time_.now > 0  # the digest's redraw waited for the budget to come back


async def test_background_messages_go_about_one_a_second_per_channel(pacer, time_) -> None:
    with background_calls():
        for _ in range(10):
            await pacer.wait("chat.postMessage", channel="C1")
        at_c1 = time_.now
        await pacer.wait("chat.postMessage", channel="C2")  # another channel: its own pace
    assert 7.0 <= at_c1 <= 10.0
    assert time_.now == at_c1


async def test_methods_numbot_does_not_pace_go_at_once(pacer, time_) -> None:
    with background_calls():
        for _ in range(100):
            await pacer.wait("apps.connections.open")  # Socket Mode reconnects
            await pacer.wait("chat.postMessage")  # no channel named: nothing to pace by
    assert time_.slept == []


async def test_idle_channel_buckets_are_dropped_past_the_limit(pacer, time_) -> None:
    for n in range(MAX_CHANNEL_BUCKETS):
        await pacer.wait("chat.postMessage", channel=f"U{n}")
    time_.now += 10  # every bucket refilled
    await pacer.wait("chat.postMessage", channel="U-new")
    assert len(pacer._channels) == 1


async def test_background_is_inherited_by_tasks_started_inside(pacer, time_) -> None:
    async def repair() -> None:
        for _ in range(20):
            await pacer.wait("chat.update", channel="C1")

    with background_calls():
        task = asyncio.create_task(repair())
    await task
    assert time_.slept  # the task's calls were paced as background ones


def test_a_refill_that_falls_short_by_a_rounding_error_still_gives_the_token() -> None:
    """Waiting exactly the delay a bucket asked for must be enough (floats round): else a
    background call would spin through ever smaller waits."""
    bucket = TokenBucket(rate=50 / 60, capacity=50 / 6, now=0.0)
    now = 0.0
    for _ in range(500):
        while (delay := bucket.take(now, reserve=2.0)) > 0:
            assert delay >= 0.001
            now += delay
    assert now == pytest.approx((500 - (50 / 6 - 2)) / (50 / 60), rel=0.01)

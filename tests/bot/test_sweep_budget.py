"""The sweep gives notices (cards, reminders, expiries) a time budget per pass, after the
money work, so a backlog of notices paced to Slack's limits never holds a purchase back."""

from __future__ import annotations

import itertools

from bot.workflow import Timing
from tests.bot.conftest import APPROVER
from tests.bot.test_execution import pending, status_of


class Ticks:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self._count = itertools.count()

    def __call__(self) -> float:
        return float(next(self._count))


async def test_expiries_past_the_budget_wait_for_the_next_pass(env):
    requests = [await pending(env, index) for index in range(4)]
    env.clock.advance(minutes=31)  # every hold has lapsed
    sweep = env.service.sweep
    sweep.tidy_seconds, sweep.monotonic = 2.5, Ticks()
    first = await env.service.resume()
    expired = [r for r in requests if status_of(env, r.id) == "expired"]
    assert 0 < first == len(expired) < 4  # out of time before the fourth
    while await env.service.resume():
        pass
    assert all(status_of(env, r.id) == "expired" for r in requests)
    assert await env.service.next_due() > 0  # nothing left due


async def test_money_work_comes_before_notices_in_every_pass(env):
    """A purchase whose outcome is being checked is settled even by a pass with no time
    left for notices; the lapsed hold beside it waits for a pass that has some."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    lapsing = await pending(env, 0, service=service)
    buying = await pending(env, 1, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout")  # never reached Flowyte
    refused = {"status": 409, "code": "reservation_expired"}
    env.transport.fail("POST", "/numbers/purchase", 409, body=refused)
    await service.approve(APPROVER, buying.id)
    assert status_of(env, buying.id) == "checking"
    env.clock.advance(minutes=31)
    service.sweep.tidy_seconds = 0.0  # no time for notices at all
    assert await service.resume() == 1
    assert status_of(env, buying.id) == "failed"
    assert status_of(env, lapsing.id) == "pending"  # its expiry waits for a pass with time
    assert await service.next_due() == 0  # and the sweep knows it is due now
    service.sweep.tidy_seconds = 60.0
    await service.resume()
    assert status_of(env, lapsing.id) == "expired"

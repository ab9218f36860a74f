"""The sweep gives notices (cards, reminders, expiries) a time budget per pass, after the
money work, so a backlog of notices paced to Slack's limits never holds a purchase back."""

from __future__ import annotations

import asyncio
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
    env.transport.fail("POST", "/numbers/purchase", 503)  # the first look's replay
    await service.approve(APPROVER, buying.id)
    assert status_of(env, buying.id) == "checking"
    env.clock.advance(minutes=31)
    service.sweep.tidy_seconds = 0.0  # no time for notices at all
    assert await service.resume() == 1
    assert status_of(env, buying.id) == "expired"  # the replay: the hold had lapsed
    assert status_of(env, lapsing.id) == "pending"  # its expiry waits for a pass with time
    assert await service.next_due() == 0  # and the sweep knows it is due now
    service.sweep.tidy_seconds = 60.0
    await service.resume()
    assert status_of(env, lapsing.id) == "expired"


async def _two_checking(env, service):
    """Two purchases whose answers were lost, now `checking`, and one held request."""
    lapsing = await pending(env, 0, service=service)
    checking = []
    for index in (1, 2):
        request = await pending(env, index, service=service)
        env.transport.fail("POST", "/numbers/purchase", "timeout")  # never reached Flowyte
        env.transport.fail("POST", "/numbers/purchase", 503)  # the first look's replay
        await service.approve(APPROVER, request.id)
        assert status_of(env, request.id) == "checking"
        checking.append(request)
    return lapsing, checking


async def test_looks_in_background_never_hold_up_the_rest_of_the_pass(env, monkeypatch):
    """A look may read 50,000 owned numbers: the sweep's background pass starts it in a task
    and goes on (here: expiring a hold); the next pass does not start it twice."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    lapsing, checking = await _two_checking(env, service)
    checker = service.sweep.executor.checker
    real_check, gate, started = checker.check, asyncio.Event(), []

    async def slow_check(request, **kwargs):
        started.append(request.id)
        await gate.wait()
        return await real_check(request, **kwargs)

    monkeypatch.setattr(checker, "check", slow_check)
    env.clock.advance(minutes=31)
    assert await service.resume(looks_in_background=True) == 3  # two looks started, one expiry
    assert status_of(env, lapsing.id) == "expired"
    await asyncio.sleep(0)
    assert sorted(started) == sorted(r.id for r in checking)
    await service.resume(looks_in_background=True)  # the looks are still reading
    await asyncio.sleep(0)
    assert len(started) == 2
    gate.set()
    await asyncio.gather(*list(service.sweep._looks.values()))
    assert [status_of(env, r.id) for r in checking] == [
        "expired",
        "expired",
    ]  # the replay, once the hold lapsed


async def test_at_most_max_looks_run_at_once(env, monkeypatch):
    from bot.workflow import sweep as sweep_module

    monkeypatch.setattr(sweep_module, "MAX_LOOKS", 1)
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    _, checking = await _two_checking(env, service)
    checker = service.sweep.executor.checker
    real_check, gate = checker.check, asyncio.Event()

    async def gated_check(request, **kwargs):
        await gate.wait()  # a look that takes a while (a long owned list)
        return await real_check(request, **kwargs)

    monkeypatch.setattr(checker, "check", gated_check)
    env.clock.advance(minutes=31)
    await service.resume(looks_in_background=True)
    assert len(service.sweep._looks) == 1
    gate.set()
    await asyncio.gather(*list(service.sweep._looks.values()))
    await service.resume(looks_in_background=True)  # room again: the other one's look
    await asyncio.gather(*list(service.sweep._looks.values()))
    assert [status_of(env, r.id) for r in checking] == [
        "expired",
        "expired",
    ]  # the replay, once the hold lapsed


async def test_a_look_stopped_at_shutdown_is_taken_up_again(env, monkeypatch):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    _, checking = await _two_checking(env, service)
    checker = service.sweep.executor.checker
    real_check = checker.check

    async def stuck(request, **kwargs):
        await asyncio.Event().wait()

    monkeypatch.setattr(checker, "check", stuck)
    env.clock.advance(minutes=31)
    await service.resume(looks_in_background=True)
    await asyncio.sleep(0)
    await service.sweep.aclose()  # numbot stops while both look
    assert not service.sweep._looks
    monkeypatch.setattr(checker, "check", real_check)
    await service.resume()  # the stuck looks never claimed them: the next pass settles them
    assert [status_of(env, r.id) for r in checking] == [
        "expired",
        "expired",
    ]  # the replay, once the hold lapsed

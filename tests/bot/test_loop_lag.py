"""bot/ops/loop_lag.py: a timer's lateness is how far behind the event loop runs."""

from __future__ import annotations

import asyncio
import time

from bot.ops.loop_lag import watch_loop_lag


async def test_a_blocked_loop_is_measured_and_an_idle_one_is_not() -> None:
    measures: list[float] = []
    watcher = asyncio.create_task(watch_loop_lag(measures.append, interval=0.01))
    try:
        await asyncio.sleep(0.1)
        idle = list(measures)
        time.sleep(0.3)  # a callback that holds the loop
        await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
    assert idle and max(idle) < 0.2  # a loaded machine may wake a timer a little late
    late = measures[len(idle) :]
    assert max(late) >= 0.25  # the timer woke about 0.3 s late
    assert all(lag >= 0 for lag in measures)

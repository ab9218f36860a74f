"""How far behind the event loop runs: a timer's lateness, reported to the Workload.

A timer due every `interval` seconds fires late by however long the callbacks ahead of it
took; that lateness is the delay every request waiting for the loop sees on top of its own
work. Measured continuously, it lets numbot turn new work away while the loop is behind
(bot/ops/workload.py), before acks drift past what Slack waits for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

INTERVAL = 0.025


async def watch_loop_lag(
    note: Callable[[float], None],
    *,
    interval: float = INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Forever: sleep `interval`, then `note` how much later than that it woke."""
    while True:
        started = clock()
        await asyncio.sleep(interval)
        note(max(0.0, clock() - started - interval))

"""The sweep: finish what was left half-done, by due time, and say when to come back.

Runs at start and then whenever something falls due (at most every NUMBOT_SWEEP_SECONDS).
A request in flight is only taken up once its status has not moved for the quiet window:
by then no Flowyte call that any numbot process started for it can still be running, so a
second process, or this one after a restart, never settles a purchase another is making.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.workflow.context import SYSTEM, Context
from bot.workflow.digest import Digests
from bot.workflow.execution import Executor
from bot.workflow.filing import Filing
from storage.rows import Request

logger = logging.getLogger(__name__)

BATCH = 100  # per kind of work per pass; the rest waits for the next pass
# Looks at Flowyte for unknown outcomes at once, each in a task of its own when the sweep runs
# in the background: one look may read a list of 50,000 owned numbers (minutes), and the
# rest of the sweep (expiring holds, reminders, other looks) must not wait behind it. Each
# look claims its request first (a compare-and-set lease, renewed while it reads), so the
# next pass never starts a second look at the same request.
MAX_LOOKS = 4
# Repairing cards, reminding and expiring holds mostly wait on Slack (paced to its limits):
# a pass gives them this long, then returns, so money work that falls due meanwhile (a
# purchase to settle) is taken at the next pass rather than after a backlog of notices.
TIDY_SECONDS = 5.0
CARD_REPAIR_AFTER = timedelta(seconds=5)  # leave a card update that may still be on its way
# How soon to look again at a reminder due on a request whose card is still being posted.
CARDLESS_REMINDER_LOOK = timedelta(seconds=2)


class Sweep:
    def __init__(
        self,
        ctx: Context,
        filing: Filing,
        executor: Executor,
        digests: Digests | None = None,
        *,
        tidy_seconds: float = TIDY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.filing = filing
        self.executor = executor
        self._reminder_wait: datetime | None = None  # a due reminder waits for its card
        self.digests = digests
        self.tidy_seconds = tidy_seconds
        self.monotonic = monotonic
        self._looks: dict[str, asyncio.Task[None]] = {}

    async def run(self, *, looks_in_background: bool = False) -> int:
        """One pass; returns how many requests it touched (or started a look at).

        `looks_in_background`: each look at Flowyte runs as a task of its own (at most
        MAX_LOOKS at once) and the pass does not wait for it; otherwise the pass carries out
        each look itself, one after another."""
        ctx, requests = self.ctx, self.ctx.storage.requests
        now = self.ctx.clock()
        quiet_since = now - timedelta(seconds=ctx.timing.quiet)
        count = 0
        for request in await ctx.storage.run(requests.quiet_in_flight, quiet_since, BATCH):
            if await ctx.storage.run(
                ctx.storage.audit.has, subject=request.id, action="integrity_alarm"
            ):
                continue  # flagged once already; an operator must look
            looking = request.status != "approved"
            if looking and looks_in_background and not self._can_start(request):
                continue  # taken up at a later pass
            await ctx.audit(SYSTEM, "resume", request.id, "ok", status=request.status)
            if looking:
                await self._look(request, looks_in_background)
            else:
                await self.executor.execute(request)
            count += 1
        for request in await ctx.storage.run(requests.checks_due, now, BATCH):
            if not await self._look(request, looks_in_background):
                break
            count += 1
        return count + await self._tidy(quiet_since)

    async def _look(self, request: Request, in_background: bool) -> bool:
        """Look at Flowyte for `request`, now or in a task; False when no task can start."""
        if not in_background:
            await self.executor.checker.check(request)
            return True
        if request.id in self._looks:
            return True  # a look this process started is still reading
        if not self._can_start(request):
            return False
        task = asyncio.create_task(self._look_safely(request), name=f"numbot-look-{request.id}")
        self._looks[request.id] = task
        task.add_done_callback(lambda _: self._looks.pop(request.id, None))
        return True

    def _can_start(self, request: Request) -> bool:
        return request.id not in self._looks and len(self._looks) < MAX_LOOKS

    async def _look_safely(self, request: Request) -> None:
        try:
            await self.executor.checker.check(request)
        except Exception:
            logger.exception("looking at Flowyte for %s failed; the next look is due", request.id)

    async def aclose(self) -> None:
        """Stop the looks still reading (at shutdown): each claimed its request for a
        while only, and the next look, in this process or another, takes it up."""
        looks = list(self._looks.values())
        for task in looks:
            task.cancel()
        await asyncio.gather(*looks, return_exceptions=True)

    async def _tidy(self, quiet_since: datetime) -> int:
        """Cards, reminders, expiries: until done or out of time (see TIDY_SECONDS)."""
        ctx, requests = self.ctx, self.ctx.storage.requests
        end = self.monotonic() + self.tidy_seconds
        count = 0
        for request in await ctx.storage.run(requests.cardless, quiet_since, BATCH):
            if self.monotonic() > end:
                return count
            balance = await self.filing.balance() if request.kind == "purchase" else None
            await self.filing.post_card(request, balance)
            count += 1
        repair_before = ctx.clock() - CARD_REPAIR_AFTER
        for request in await ctx.storage.run(requests.stale_cards, repair_before, BATCH):
            if self.monotonic() > end:
                return count
            if await self.executor.guard.state_is_sealed(request):
                await ctx.update_card(request)
                count += 1
        remind_before = ctx.clock() + timedelta(minutes=ctx.timing.remind_minutes)
        due = await ctx.storage.run(requests.reminders_due, ctx.clock(), remind_before, BATCH)
        for request in due:
            if self.monotonic() > end:
                return count
            if request.kind == "purchase" and await self.filing.remind(request):
                count += 1
            elif request.kind == "purchase" and not request.card_ts:  # its card is coming
                self._reminder_wait = ctx.clock() + CARDLESS_REMINDER_LOOK
        for request in await ctx.storage.run(requests.lapsed_holds, ctx.clock(), BATCH):
            if self.monotonic() > end:
                return count
            if request.kind == "purchase" and await self.filing.expire(request):
                count += 1
        if self.digests is not None and self.monotonic() <= end:
            await self.digests.run()  # the daily digest, once it has fallen due
        return count

    async def next_due(self) -> float:
        """Seconds until the earliest piece of work falls due (0 when some already has)."""
        ctx = self.ctx
        due = await ctx.storage.run(ctx.storage.requests.next_due)
        quiet = timedelta(seconds=ctx.timing.quiet)
        now = self.ctx.clock()
        moments: list[datetime] = []
        for name in ("in_flight", "cardless"):
            changed = due[name]
            if changed is not None:
                moments.append(changed + quiet)
        if due["check"] is not None:
            moments.append(due["check"])
        if due["hold"] is not None:
            moments.append(due["hold"])
        if due["reminder"] is not None:
            moment = due["reminder"] - timedelta(minutes=ctx.timing.remind_minutes)
            if self._reminder_wait is not None and moment < self._reminder_wait:
                moment = self._reminder_wait  # a reminder waits for its card: not in a spin
            moments.append(moment)
        digest = self.digests.next_due_at() if self.digests is not None else None
        if digest is not None:
            moments.append(digest)
        if not moments:
            return float("inf")
        return max(0.0, (min(moments) - now).total_seconds())

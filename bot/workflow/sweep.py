"""The sweep: finish what was left half-done, by due time, and say when to come back.

Runs at start and then whenever something falls due (at most every NUMBOT_SWEEP_SECONDS).
A request in flight is only taken up once its status has not moved for the quiet window:
by then no Flowyte call that any numbot process started for it can still be running, so a
second process, or this one after a restart, never settles a purchase another is making.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.workflow.context import SYSTEM, Context
from bot.workflow.digest import Digests
from bot.workflow.execution import Executor
from bot.workflow.filing import Filing

BATCH = 100  # per kind of work per pass; the rest waits for the next pass
# Repairing cards, reminding and expiring holds mostly wait on Slack (paced to its limits):
# a pass gives them this long, then returns, so money work that falls due meanwhile (a
# purchase to settle) is taken at the next pass rather than after a backlog of notices.
TIDY_SECONDS = 5.0
CARD_REPAIR_AFTER = timedelta(seconds=5)  # leave a card update that may still be on its way


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
        self.digests = digests
        self.tidy_seconds = tidy_seconds
        self.monotonic = monotonic

    async def run(self) -> int:
        """One pass; returns how many requests it touched."""
        ctx, requests = self.ctx, self.ctx.storage.requests
        now = self.ctx.clock()
        quiet_since = now - timedelta(seconds=ctx.timing.quiet)
        count = 0
        for request in await ctx.storage.run(requests.quiet_in_flight, quiet_since, BATCH):
            if await ctx.storage.run(
                ctx.storage.audit.has, subject=request.id, action="integrity_alarm"
            ):
                continue  # flagged once already; an operator must look
            await ctx.audit(SYSTEM, "resume", request.id, "ok", status=request.status)
            if request.status == "approved":
                await self.executor.execute(request)
            else:
                await self.executor.checker.check(request)
            count += 1
        for request in await ctx.storage.run(requests.checks_due, now, BATCH):
            await self.executor.checker.check(request)
            count += 1
        return count + await self._tidy(quiet_since)

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
            moments.append(due["reminder"] - timedelta(minutes=ctx.timing.remind_minutes))
        digest = self.digests.next_due_at() if self.digests is not None else None
        if digest is not None:
            moments.append(digest)
        if not moments:
            return float("inf")
        return max(0.0, (min(moments) - now).total_seconds())

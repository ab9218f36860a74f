"""Months of spend: Flowyte's charges for numbers beside what numbot bought and released.

    SpendBook.spend(actor)       `/numbers spend`: six months from what is stored, never a walk
                                 of Flowyte's usage (it may wait SPEND_WAIT for a read it began)
    SpendBook.keep_read()        the sweep's holder, every pass: begin a read when one is due
    SpendBook.month(start, read=True)   one month; `read` (`numbot report`) reads Flowyte first
                                 when the month is not complete (a command line can wait)

Flowyte's usage items are read a month at a time in the background, one read at a time in a
process (single-flight), and kept (storage/costs.py usage_months). At 50,000 numbers a month
holds some 50,000 `number` items, hundreds of pages: that is never read while a person
waits. A month is complete, and never read again, only USAGE_GRACE after it ended (rental
items may post late); until then it is read again once it is older than `fresh`. A month not
read yet says so, never $0; one not complete says as of when it was read.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bot.flowyte import errors as fe
from bot.kernel.costs import (
    NOT_READ,
    OUTSIDE_THE_MONTH,
    USAGE_GRACE,
    UsageTally,
    credits_to_usd,
    usage_complete,
    usage_due,
)
from bot.kernel.outcomes import SpendMonth, SpendReport
from bot.workflow.authority import Step, Tampered, sealed_terms
from bot.workflow.context import Context, logger
from bot.workflow.home import month_bounds
from storage.costs import MonthUsage

SPEND_MONTHS = 6
TOP_REQUESTERS = 5
USAGE_FRESH = timedelta(minutes=15)  # a month not complete is read again after this
UNREADABLE_USAGE = "Flowyte's answer about usage could not be read."
SPEND_WAIT = 2.0  # seconds `/numbers spend` waits for a read it began (a small organization's)


@dataclass(frozen=True)
class Move:
    """A purchase or release completed, as the sealed log has it."""

    at: str  # when it completed (the audit entry's time)
    kind: str  # purchase | release
    e164: str  # "" when its sealed terms could not be read
    requester: str
    setup: Decimal | None  # a release has none
    monthly: Decimal | None  # a purchase's monthly cost; what a release saves a month
    request_id: str


class SpendBook:
    def __init__(
        self,
        ctx: Context,
        *,
        fresh: timedelta = USAGE_FRESH,
        grace: timedelta = USAGE_GRACE,
        wait: float = SPEND_WAIT,
    ) -> None:
        self.ctx = ctx
        self.fresh = fresh
        self.grace = grace
        self.wait = wait
        self._read: asyncio.Task[None] | None = None
        # Months whose last read failed here, with why and when (tried again after `fresh`).
        self._failed: dict[str, tuple[str, datetime]] = {}

    # -- the command ------------------------------------------------------------------------

    async def spend(self, actor: str, months: int = SPEND_MONTHS) -> SpendReport:
        """`/numbers spend`: month by month, what Flowyte charged for numbers beside what
        numbot bought and released (from the sealed log), and the top requesters. Reads what
        is stored; a read that is due is begun, and waited for SPEND_WAIT at most (a small
        organization's is over by then). A read already under way is not waited for."""
        starts = month_starts(self.ctx.clock(), months)
        reading = self._read is not None and not self._read.done()
        if not reading and self._due(starts, await self._kept(starts)):
            await asyncio.wait([self.start(months)], timeout=self.wait)
        kept = await self._kept(starts)
        rows = [await self._month(start, kept.get(key(start))) for start in starts]
        top: dict[str, Decimal] = {}
        for row in rows:
            for person, amount in row.by_requester.items():
                top[person] = top.get(person, Decimal(0)) + amount
        ranked = sorted(top.items(), key=lambda item: (-item[1], item[0]))[:TOP_REQUESTERS]
        await self.ctx.audit(actor, "spend", "report", "ok", months=months)
        return SpendReport(rows, ranked)

    async def month(self, start: datetime, *, read: bool = False) -> SpendMonth:
        """One month. `read` (`numbot report`): a month not complete is read from Flowyte
        first, however long that takes."""
        storage = self.ctx.storage
        kept = await storage.run(storage.costs.month_usage, key(start))
        if read and (kept is None or not kept.complete):
            await self.read_month(start)
            kept = await storage.run(storage.costs.month_usage, key(start))
            if key(start) in self._failed:  # this read failed: an older figure is not the month
                kept = None
        return await self._month(start, kept)

    # -- the reads, in the background -------------------------------------------------------

    def start(self, months: int = SPEND_MONTHS) -> asyncio.Task[None]:
        """The read of every month due among the last `months`, in the background (the one
        under way, if any)."""
        if self._read is None or self._read.done():
            self._read = asyncio.create_task(self._read_due(months), name="numbot-usage-read")
            self._read.add_done_callback(_retrieve)
        return self._read

    async def keep_read(self) -> None:
        """The sweep's holder, every pass: begin a read when a month is due. Never waits for
        it: the sweep goes on."""
        if self._read is not None and not self._read.done():
            return
        starts = month_starts(self.ctx.clock(), SPEND_MONTHS)
        if self._due(starts, await self._kept(starts)):
            self.start()

    async def aclose(self) -> None:
        if self._read is not None and not self._read.done():
            self._read.cancel()
            await asyncio.gather(self._read, return_exceptions=True)

    async def _read_due(self, months: int) -> None:
        starts = month_starts(self.ctx.clock(), months)
        kept = await self._kept(starts)
        due = [start for start in starts if self._month_due(start, kept.get(key(start)))]
        for start in due:  # one month at a time: background reads share Flowyte's rate limit
            await self.read_month(start)

    async def read_month(self, start: datetime) -> None:
        """Read a month's usage items from Flowyte, page by page, and keep its `number`
        charges. A read that fails, or that Flowyte answers with charges outside the month, is
        kept nowhere: the month stays as last read (or not read yet), and says why here."""
        month, end = key(start), next_month(start)
        began, started = self.ctx.clock(), time.monotonic()
        tally = UsageTally(start, end)
        try:
            async for page in self.ctx.flowyte.usage_pages(start, end):
                tally = tally.add(page)
                if tally.outside:
                    break  # the month cannot be read: no need to read the rest
        except fe.FlowyteError as exc:
            logger.warning("usage for %s could not be read (%s)", month, type(exc).__name__)
            self._failed[month] = (exc.explain(), self.ctx.clock())
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an answer numbot cannot read: the month stays unread
            logger.warning("usage for %s could not be read", month, exc_info=exc)
            self._failed[month] = (UNREADABLE_USAGE, self.ctx.clock())
            return
        if tally.outside:
            logger.warning("usage for %s: Flowyte answered items outside the month", month)
            self._failed[month] = (OUTSIDE_THE_MONTH, self.ctx.clock())
            return
        self._failed.pop(month, None)
        storage = self.ctx.storage
        complete = usage_complete(end, began, self.grace)
        await storage.run(
            storage.costs.put_month_usage,
            MonthUsage(month, tally.number_credits, tally.items, began, complete),
        )
        logger.info(
            "usage for %s read: %d items in %.1f s%s",
            month,
            tally.items,
            time.monotonic() - started,
            " (final)" if complete else "",
        )

    async def _kept(self, starts: list[datetime]) -> dict[str, MonthUsage]:
        storage = self.ctx.storage
        return await storage.run(storage.costs.month_usages, [key(s) for s in starts])

    def _due(self, starts: list[datetime], kept: dict[str, MonthUsage]) -> bool:
        return any(self._month_due(start, kept.get(key(start))) for start in starts)

    def _month_due(self, start: datetime, kept: MonthUsage | None) -> bool:
        now = self.ctx.clock()
        failed = self._failed.get(key(start))
        if failed is not None and now - failed[1] < self.fresh:
            return False  # it failed a moment ago: not again at once
        if kept is None:
            return True
        return usage_due(kept.read_at, kept.complete, now, self.fresh)

    # -- one month --------------------------------------------------------------------------

    async def _month(self, start: datetime, kept: MonthUsage | None) -> SpendMonth:
        """One month: Flowyte's number charges as kept, and numbot's own purchases and
        releases from the sealed log."""
        # As last read (when a later read failed, still as of its time); else why not.
        charged, unreadable = None, NOT_READ
        failed = self._failed.get(key(start))
        if kept is not None:
            charged, unreadable = credits_to_usd(kept.number_credits), ""
        elif failed is not None:
            unreadable = failed[0]
        moves = await self.moves(start, next_month(start))
        setup = monthly = Decimal(0)
        bought = released = unpriced = 0
        by_requester: dict[str, Decimal] = {}
        for move in moves:
            if move.kind == "release":
                released += 1
                continue
            bought += 1
            if move.setup is None or move.monthly is None:
                unpriced += 1
                continue
            setup += move.setup
            monthly += move.monthly
            by_requester[move.requester] = (
                by_requester.get(move.requester, Decimal(0)) + move.setup + move.monthly
            )
        return SpendMonth(
            key(start),
            charged,
            unreadable,
            bought,
            released,
            setup,
            monthly,
            unpriced,
            by_requester,
            read_at=None if kept is None else kept.read_at,
            complete=kept is not None and kept.complete,
        )

    async def moves(self, start: datetime, end: datetime) -> list[Move]:
        """From the sealed log: the purchases and releases completed in [start, end), each
        with the terms sealed when it was requested (a price that cannot be read: None)."""
        storage = self.ctx.storage
        moved = await storage.run(
            storage.audit.moves_between, start, end, ("purchased", "released")
        )
        sealed = storage.audit.key
        moves = []
        for entry in moved:
            entries = await storage.run(storage.audit.transitions, entry.subject)
            steps = [
                Step(
                    e.seq,
                    e.actor,
                    e.state or "",
                    e.detail_fields(),
                    sealed is not None and sealed.authentic(e),
                    e.action,
                )
                for e in entries
            ]
            terms = sealed_terms(steps)
            kind = "purchase" if entry.state == "purchased" else "release"
            if isinstance(terms, Tampered):
                moves.append(Move(entry.at, kind, "", "", None, None, entry.subject))
                continue
            setup = terms.setup if kind == "purchase" else None
            moves.append(
                Move(
                    entry.at,
                    kind,
                    terms.e164,
                    terms.requester,
                    setup,
                    terms.monthly,
                    entry.subject,
                )
            )
        return moves


def key(start: datetime) -> str:
    return start.strftime("%Y-%m")


def next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def month_starts(now: datetime, months: int) -> list[datetime]:
    """The first instants of the last `months` UTC months, oldest first, this one last."""
    start, _ = month_bounds(now)
    starts = [start]
    for _ in range(months - 1):
        previous = (starts[0] - timedelta(days=1)).replace(day=1)
        starts.insert(0, previous)
    return starts


def _retrieve(task: asyncio.Task[None]) -> None:
    """Collect a background read's unexpected error (Flowyte's are handled inside it)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.warning("reading Flowyte's usage failed: %r", error, exc_info=error)

"""The owned numbers, at any count: an index in storage (storage/owned.py), read instead of
walking Flowyte's list while a person waits.

    OwnedBook.refresh()        one full walk of Flowyte's list into the index, under a lease
                               (one process at a time), paced, to the list's stated end; a
                               complete walk removes what it did not see, an incomplete one
                               removes nothing
    OwnedBook.keep_fresh()     a walk at start and every NUMBOT_OWNED_REFRESH_MINUTES
    OwnedBook.find(e164)       index -> id -> GET /numbers/{id} (one call) to confirm; not in
                               the index: walk Flowyte's list with an early exit, for a while
    OwnedBook.page(...)        one page of the index, with how fresh it is

What numbot itself does keeps the index fresh in between (Context.note_owned / note_gone,
where the audit entries are written). The index is a cache, never proof: a decision about
money (bot/workflow/checking.py) still reads Flowyte.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.flowyte import errors as fe
from bot.flowyte.models import OwnedNumber
from bot.workflow.context import Context, number_of, row_of
from storage.owned import RefreshState

logger = logging.getLogger(__name__)

LEASE_NAME = "owned-refresh"
LEASE_SECONDS = 120.0  # renewed after every page; a walker that died is replaced after this
FIND_WALK_SECONDS = 8.0  # how long looking for a number missing from the index walks the list
CHECK_EVERY = 30.0  # seconds between looks at whether a refresh is due (any process may run it)


class Unfinished(Exception):
    """Flowyte's list could not be read to its end in time."""

    def __init__(self, seen: int) -> None:
        super().__init__(f"{seen} numbers read, more to come")
        self.seen = seen


@dataclass(frozen=True)
class OwnedPage:
    """Rows `offset`.. of the index, its `total`, and how fresh it is (`state`)."""

    numbers: list[OwnedNumber]
    total: int
    index: int  # the page shown (a page past the end is the last one)
    state: RefreshState


class OwnedBook:
    def __init__(
        self,
        ctx: Context,
        *,
        refresh_minutes: float = 15.0,
        pause: float = 0.0,
        holder: str | None = None,
    ) -> None:
        """`pause`: seconds between two pages of a refresh, so it never crowds out people's
        calls (Flowyte's rate limit is per organization)."""
        self.ctx = ctx
        self.refresh_minutes = refresh_minutes
        self.pause = pause
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.find_walk_seconds = FIND_WALK_SECONDS
        self._walk: asyncio.Task[bool | None] | None = None

    # -- reads ------------------------------------------------------------------------------

    async def state(self) -> RefreshState:
        return await self.ctx.storage.run(self.ctx.storage.owned.refresh_state)

    async def page(self, index: int, rows: int) -> OwnedPage:
        """Page `index` (`rows` a page) of the owned numbers in +E.164 order; a page past the
        end is the last one."""
        owned = self.ctx.storage.owned
        total, _ = await self.ctx.storage.run(owned.counts)
        pages = max(1, -(-total // rows))
        index = min(max(index, 0), pages - 1)
        found = await self.ctx.storage.run(owned.page, index * rows, rows)
        return OwnedPage([number_of(r) for r in found], total, index, await self.state())

    async def summary(self, limit: int) -> tuple[list[OwnedNumber], int, int]:
        """For App Home: up to `limit` numbers (those ringing no agent first), how many there
        are, and how many ring no agent: a count and a page or two of the index, never a walk."""
        owned = self.ctx.storage.owned
        total, unrouted = await self.ctx.storage.run(owned.counts)
        rows = await self.ctx.storage.run(owned.unrouted, limit)
        if len(rows) < limit:
            shown = {r.e164 for r in rows}
            more = await self.ctx.storage.run(owned.page, 0, limit + len(rows))
            rows += [r for r in more if r.e164 not in shown][: limit - len(rows)]
        return [number_of(r) for r in rows], total, unrouted

    async def find(self, e164: str, *, walk_seconds: float | None = None) -> OwnedNumber | None:
        """The owned number `e164`, or None when Flowyte does not list it. Raises
        Unfinished when the list could not be read to its end within `walk_seconds`
        (`find_walk_seconds` by default), and FlowyteError when Flowyte cannot be read."""
        if walk_seconds is None:
            walk_seconds = self.find_walk_seconds
        ctx = self.ctx
        row = await ctx.storage.run(ctx.storage.owned.find, e164)
        if row is not None:
            try:
                number = await ctx.flowyte.get_number(row.number_id)
            except fe.NotFound:
                number = None
            if number is not None and number.e164 == e164:
                await ctx.note_owned(number)
                return number
            await ctx.note_gone(e164)  # that id is not this number any more: look again
        started = time.monotonic()
        seen = 0
        async for page in ctx.flowyte.owned_pages():
            await self._put(page)
            for number in page:
                if number.e164 == e164:
                    return number
            seen += len(page)
            if time.monotonic() - started > walk_seconds:
                raise Unfinished(seen)
        return None

    # -- the refresh ------------------------------------------------------------------------

    def due(self, state: RefreshState, now: datetime, *, within: float | None = None) -> bool:
        """Whether a walk should start: none has ever completed, or the last one ended (or,
        still running elsewhere, began) longer ago than `within` seconds (the refresh
        interval by default). Pure."""
        if state.started_at is None or state.complete_at is None:
            return True  # (a walk under way elsewhere holds the lease: refresh() says so)
        window = self.refresh_minutes * 60 if within is None else within
        last = state.finished_at or state.started_at
        return now - last >= timedelta(seconds=window)

    def start(self) -> asyncio.Task[bool | None]:
        """A walk in the background (the one under way, if any)."""
        if self._walk is None or self._walk.done():
            self._walk = asyncio.create_task(self.refresh(), name="numbot-owned-refresh")
        return self._walk

    async def fresh(self, *, within: float, wait: float) -> None:
        """Start a walk when the last one started longer ago than `within` seconds, and wait
        up to `wait` seconds for the walk under way here to finish (a small organization is
        read at once; a large one is shown as of its last complete walk)."""
        if self.due(await self.state(), self.ctx.clock(), within=within):
            self.start()
        if self._walk is not None and not self._walk.done():
            await asyncio.wait([self._walk], timeout=wait)

    async def keep_fresh(self) -> None:
        """Walk at start and whenever a walk is due, until cancelled. Every process looks;
        the lease lets one walk at a time."""
        while True:
            try:
                if self.due(await self.state(), self.ctx.clock()):
                    await asyncio.shield(self.start())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("refreshing the owned numbers failed")
            await asyncio.sleep(min(CHECK_EVERY, self.refresh_minutes * 60))

    async def aclose(self) -> None:
        if self._walk is not None and not self._walk.done():
            self._walk.cancel()
            await asyncio.gather(self._walk, return_exceptions=True)

    async def refresh(self) -> bool | None:
        """One walk of Flowyte's owned list into the index: True when it read the list to its
        stated end, False when it could not, None when another process is walking."""
        ctx, owned = self.ctx, self.ctx.storage.owned
        if not await self._lease():
            return None
        started = ctx.clock()
        await ctx.storage.run(owned.refresh_started, started)
        complete, seen = False, 0
        try:
            async for page in ctx.flowyte.owned_pages(proof=True):
                await self._put(page)
                seen += len(page)
                await ctx.storage.run(owned.refresh_seen, seen)
                if not await self._lease():
                    logger.warning("owned numbers: another process took the refresh over")
                    return False
                await asyncio.sleep(self.pause)
            complete = True
        except fe.FlowyteError as exc:
            logger.warning("owned numbers: refresh stopped after %d (%s)", seen, exc)
        finally:
            removed = await asyncio.shield(
                ctx.storage.run(owned.refresh_finished, ctx.clock(), started, complete=complete)
            )
            await asyncio.shield(
                ctx.storage.run(ctx.storage.leases.release, LEASE_NAME, self.holder)
            )
        logger.info(
            "owned numbers: %s refresh, %d read, %d gone",
            "complete" if complete else "incomplete",
            seen,
            removed,
        )
        return complete

    async def _lease(self) -> bool:
        now = self.ctx.clock()
        until = now + timedelta(seconds=LEASE_SECONDS)
        storage = self.ctx.storage
        return await storage.run(storage.leases.take, LEASE_NAME, self.holder, now, until)

    async def _put(self, page: list[OwnedNumber]) -> None:
        await self.ctx.storage.run(
            self.ctx.storage.owned.put, [row_of(n) for n in page], self.ctx.clock()
        )

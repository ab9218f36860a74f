"""Redraw App Home for the people a change concerns, in the background, without a storm.

After a request moves, its requester's Home is redrawn, and every approver's when the
request is or was pending (it enters or leaves their "waiting for you", or this month's
spend changes). Only people whose Home numbot has drawn before are redrawn (storage.home):
nobody else is looking. Each person gets at most one redraw per `interval`: a purchase
that goes pending -> approved -> purchasing -> purchased within a second redraws a Home
at once and once more after the last move, showing where it ended. A redraw that fails
is logged and forgotten; it never touches the request that moved.

A redraw for a change is background work, paced behind what people wait for
(`background`: bot/slack/pace.py's background_calls, once the app runs), even when a click
caused the change; only the draw of a Home its person just opened is theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager

from storage.requests import Request

logger = logging.getLogger("bot.workflow.home")

INTERVAL = 1.0  # seconds: the least time between two redraws of one person's Home
_FORGET_AFTER = 1000  # people whose last redraw is remembered before old ones are dropped

Publish = Callable[[str], Awaitable[None]]  # read one person's Home and draw it
Seen = Callable[[list[str]], Awaitable[set[str]]]  # which of these people opened Home


def concerned(
    request: Request, from_statuses: tuple[str, ...], approvers: frozenset[str]
) -> set[str]:
    """Whose Home shows this move: the requester's, and the approvers' too unless it can
    only have been a hold's (one created, or requested from `held`). `from_statuses` are
    those the move was allowed from, so a lapsed or cancelled hold (from held or pending)
    redraws the approvers' Home too, which costs a redraw and shows nothing wrong."""
    people = {request.requester}
    if request.status == "pending" or any(status != "held" for status in from_statuses):
        people |= approvers
    return people


class HomeRefresher:
    """Coalesces redraws per person. Until `start()`, `changed()` does nothing and `now()`
    draws inline: a service without a running app (a test, a CLI) leaves no tasks behind."""

    def __init__(
        self,
        publish: Publish,
        seen: Seen,
        *,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        background: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._publish = publish
        self._seen = seen
        self.interval = interval
        self._clock = clock
        self._background = background
        self._started = False
        self._dirty: set[str] = set()  # people whose Home is stale
        self._opened: set[str] = set()  # people waiting to see the Home they just opened
        self._workers: dict[str, asyncio.Task[None]] = {}  # one per person with a redraw due
        self._last: dict[str, float] = {}  # when each person's last redraw started
        self._lookups: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._started = True

    async def aclose(self) -> None:
        """Stop: redraws still due are dropped (Home is redrawn when next opened)."""
        self._started = False
        tasks = [*self._workers.values(), *self._lookups]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dirty.clear()
        self._opened.clear()

    def changed(self, users: Iterable[str]) -> None:
        """These people's Home may be stale: redraw the ones who have opened it. Returns at
        once; the work happens in the background."""
        wanted = sorted(set(users))
        if not self._started or not wanted:
            return
        lookup = asyncio.create_task(self._redraw_seen(wanted), name="numbot-home-lookup")
        self._lookups.add(lookup)
        lookup.add_done_callback(self._lookups.discard)

    async def now(self, user: str) -> None:
        """Draw `user`'s Home (they just opened it) as soon as their interval allows, and
        return once it is drawn."""
        if not self._started:
            self._last[user] = self._clock()
            await self._publish_safely(user)
            return
        self._opened.add(user)
        self._redraw([user])
        worker = self._workers.get(user)
        if worker is not None:
            await asyncio.shield(worker)

    @property
    def due(self) -> frozenset[str]:
        """People whose Home is waiting to be redrawn."""
        return frozenset(self._dirty)

    async def drain(self) -> None:
        """Wait until every redraw due has been made (tests, the demo)."""
        while pending := [*self._lookups, *self._workers.values()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _redraw_seen(self, users: list[str]) -> None:
        try:
            seen = await self._seen(users)
        except Exception:
            logger.exception("could not tell whose Home to redraw")
            return
        self._redraw(sorted(seen))

    def _redraw(self, users: Iterable[str]) -> None:
        for user in users:
            self._dirty.add(user)
            if user not in self._workers:
                self._workers[user] = asyncio.create_task(
                    self._work(user), name=f"numbot-home-{user}"
                )
        if len(self._last) > _FORGET_AFTER:
            cutoff = self._clock() - self.interval
            self._last = {u: at for u, at in self._last.items() if at > cutoff}

    async def _work(self, user: str) -> None:
        """Redraw `user`'s Home while it is stale, at most once per interval."""
        try:
            while user in self._dirty:
                last = self._last.get(user)
                if last is not None and (wait := last + self.interval - self._clock()) > 0:
                    await asyncio.sleep(wait)
                self._dirty.discard(user)  # a change from here on asks for another redraw
                self._last[user] = self._clock()
                if user in self._opened:  # they are looking at it now: their call
                    self._opened.discard(user)
                    await self._publish_safely(user)
                else:
                    with self._background():  # for a change: paced behind people's calls
                        await self._publish_safely(user)
        finally:
            self._workers.pop(user, None)
            self._opened.discard(user)

    async def _publish_safely(self, user: str) -> None:
        try:
            await self._publish(user)
        except Exception:
            logger.exception("could not redraw the Home of %s", user)

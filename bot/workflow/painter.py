"""Redraw a request's card and copies in the background, coalesced: nothing waits on Slack.

When a request moves, every surface that shows it (the channel card, each approver's DM
copy, the card's thread) is redrawn. Slack may be slow or answer 429 with a Retry-After of
seconds; none of that may stand between an approval and the purchase it starts. So a move
only marks the request as needing a redraw and returns; one worker per request draws the
request as it stands when the worker gets to it, and again if it moved meanwhile. A request
that goes approved -> purchasing -> purchased within a second is drawn once or twice, always
ending with where it ended, never with an older state after a newer one.

The people whose click moved the request (`first`) see their own copy redrawn before the
channel's card and the other copies: they are looking at it.

Until `start()` (a test, the CLI, the demo) a redraw happens inline, awaited, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("bot.workflow.painter")

# (request id, an approval was counted, the people whose copy is drawn first)
Draw = Callable[[str, bool, frozenset[str]], Awaitable[None]]


class Painter:
    def __init__(self, draw: Draw) -> None:
        self._draw = draw
        self._started = False
        self._dirty: dict[str, bool] = {}  # request id -> an approval was counted since
        self._first: dict[str, set[str]] = {}  # request id -> who clicked since
        self._workers: dict[str, asyncio.Task[None]] = {}

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        self._started = True

    def paint(self, request_id: str, counted: bool = False, first: str | None = None) -> None:
        """Mark the request's surfaces stale; returns at once (see the module docstring).
        `first`: who clicked, whose copy is redrawn before the rest."""
        self._dirty[request_id] = self._dirty.get(request_id, False) or counted
        if first is not None:
            self._first.setdefault(request_id, set()).add(first)
        if request_id not in self._workers:
            self._workers[request_id] = asyncio.create_task(
                self._work(request_id), name=f"numbot-card-{request_id}"
            )

    async def _work(self, request_id: str) -> None:
        try:
            while request_id in self._dirty:
                counted = self._dirty.pop(request_id)
                first = frozenset(self._first.pop(request_id, ()))
                try:
                    await self._draw(request_id, counted, first)
                except Exception:
                    logger.exception("could not redraw the card of %s", request_id)
        finally:
            self._workers.pop(request_id, None)

    @property
    def pending(self) -> int:
        """Requests with a redraw due or under way."""
        return len(self._workers)

    async def drain(self) -> None:
        """Wait until every redraw due has been made (tests, a clean stop)."""
        while workers := list(self._workers.values()):
            await asyncio.gather(*workers, return_exceptions=True)

    async def aclose(self, *, grace: float = 5.0) -> None:
        """Stop: give the redraws under way `grace` seconds, then drop the rest (the sweep
        repairs a card that does not show its request's status)."""
        self._started = False
        try:
            await asyncio.wait_for(self.drain(), grace)
        except TimeoutError:
            for task in list(self._workers.values()):
                task.cancel()
            await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._dirty.clear()
        self._first.clear()

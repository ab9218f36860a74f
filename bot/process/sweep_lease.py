"""One replica sweeps at a time: a lease in the database, renewed while held, taken over once
its holder stops renewing it (it died, or lost the database).

Several numbot processes on one database would each settle the same half-done work; the
compare-and-set transitions and quiet windows keep that safe, but one sweeper is enough and
keeps Flowyte's load and the logs plain. Every process runs `keep()`: the holder renews every
third of the lease; the others try as often, so a holder that dies is replaced within
LEASE_SECONDS and a third. At a clean stop the holder lets the lease go.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.workflow.storage_runner import Storage

logger = logging.getLogger(__name__)

NAME = "sweep"
LEASE_SECONDS = 6.0


def _now() -> datetime:
    return datetime.now(UTC)


class SweepLease:
    def __init__(
        self,
        storage: Storage,
        *,
        seconds: float = LEASE_SECONDS,
        clock: Callable[[], datetime] = _now,
        name: str = NAME,
        doing: str = "runs the sweep",
    ) -> None:
        """`name`: the lease's; `doing`: what holding it means, for the log."""
        self.storage = storage
        self.seconds = seconds
        self.clock = clock
        self.name = name
        self.doing = doing
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._leading = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self._leading.is_set()

    async def wait_leading(self, patience: float) -> bool:
        """Whether this process holds the lease, waiting up to `patience` seconds for it."""
        try:
            await asyncio.wait_for(self._leading.wait(), patience)
        except TimeoutError:
            return False
        return True

    async def try_once(self) -> bool:
        now = self.clock()
        until = now + timedelta(seconds=self.seconds)
        try:
            held = await self.storage.run(
                self.storage.leases.take, self.name, self.holder, now, until
            )
        except Exception as exc:
            # One line with the cause: the database is what failed, not another process.
            logger.warning(
                "could not take or renew the %s lease (%s: %s); this process %s only once "
                "the database answers again",
                self.name,
                type(exc).__name__,
                str(exc)[:200],
                self.doing,
            )
            self._leading.clear()
            return False
        if held and not self.leading:
            logger.info("this process %s (lease %s)", self.doing, self.holder)
            self._leading.set()
        elif not held and self.leading:
            logger.info("another process %s now", self.doing)
            self._leading.clear()
        return held

    async def holder_elsewhere(self) -> str | None:
        """Who else holds the lease now (None: nobody, or this process)."""
        held_by = await self.storage.run(self.storage.leases.holder, self.name, self.clock())
        return None if held_by in (None, self.holder) else held_by

    async def keep(self) -> None:
        """Take or renew the lease every third of its length, until cancelled."""
        while True:
            await self.try_once()
            await asyncio.sleep(self.seconds / 3)

    async def release(self) -> None:
        if self.leading:
            self._leading.clear()
            try:
                await self.storage.run(self.storage.leases.release, self.name, self.holder)
            except Exception as exc:
                logger.warning(
                    "could not let the %s lease go (%s); it runs out by itself",
                    self.name,
                    type(exc).__name__,
                )

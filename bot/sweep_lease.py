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

from bot.storage_runner import Storage

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
    ) -> None:
        self.storage = storage
        self.seconds = seconds
        self.clock = clock
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
            held = await self.storage.run(self.storage.leases.take, NAME, self.holder, now, until)
        except Exception:
            logger.exception("could not renew the sweep lease")
            held = False
        if held and not self.leading:
            logger.info("this process runs the sweep (lease %s)", self.holder)
            self._leading.set()
        elif not held and self.leading:
            logger.info("another process runs the sweep now")
            self._leading.clear()
        return held

    async def keep(self) -> None:
        """Take or renew the lease every third of its length, until cancelled."""
        while True:
            await self.try_once()
            await asyncio.sleep(self.seconds / 3)

    async def release(self) -> None:
        if self.leading:
            self._leading.clear()
            try:
                await self.storage.run(self.storage.leases.release, NAME, self.holder)
            except Exception:
                logger.exception("could not let the sweep lease go; it runs out by itself")

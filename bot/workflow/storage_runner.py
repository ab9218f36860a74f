"""Run blocking database work off the event loop, on one dedicated thread.

All of a process's database work goes through one thread and one connection: no
connection is shared across threads, transactions stay short, and the event loop keeps
acknowledging Slack while a commit waits for the disk. Other processes on the same file
are kept consistent by the engine's writer lock (SQLite's BEGIN IMMEDIATE and busy_timeout,
PostgreSQL's advisory lock: storage/engine.py).

Everything written passes through `scrub` on the way in, the same redaction that guards
logs and Slack: a secret that Flowyte echoed in an error never reaches the file.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import ParamSpec, TypeVar

from bot.kernel.redact import scrub
from storage.audit import AuditKey, AuditLog
from storage.costs import CostBook
from storage.engine import Database
from storage.home import HomeSeen
from storage.leases import Leases
from storage.owned import OwnedIndex
from storage.requests import RequestStore

P = ParamSpec("P")
T = TypeVar("T")


class Storage:
    def __init__(
        self,
        db: Database,
        key: AuditKey,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.audit = AuditLog(db, key)
        self.requests = (
            RequestStore(db, self.audit, clock=clock) if clock else RequestStore(db, self.audit)
        )
        self.home_seen = HomeSeen(db)
        self.leases = Leases(db)
        self.owned = OwnedIndex(db)
        self.costs = CostBook(db)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="numbot-db")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *scrub(args), **scrub(kwargs))
        return await loop.run_in_executor(self._thread, call)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.db.close()

"""Run blocking SQLite work off the event loop, on one dedicated thread.

All of a process's database work goes through one thread and one connection: no
connection is shared across threads, transactions stay short, and the event loop keeps
acknowledging Slack while a commit waits for the disk. Other processes on the same file
are kept consistent by SQLite's own locking (BEGIN IMMEDIATE, busy_timeout).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import sqlite_utils

from storage.audit import AuditLog
from storage.requests import RequestStore

P = ParamSpec("P")
T = TypeVar("T")


class Storage:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.requests = RequestStore(db)
        self.audit = AuditLog(db)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="numbot-db")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.db.conn.close()

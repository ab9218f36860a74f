"""Open numbot's SQLite database: owner-only file, WAL, durable commits, migrated schema.

One file holds the purchase requests and the audit log. Every connection gets the same
pragmas, so two bot processes on one file see each other's commits and wait for each
other's write locks instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from storage.migrations import migrate

BUSY_TIMEOUT_MS = 10_000


def _create_private(path: Path) -> None:
    """Create the file 0600 before SQLite does, so it never exists world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def connect(path: str | Path, *, migrate_schema: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path`; ":memory:" for tests."""
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    else:
        path = Path(path)
        _create_private(path)
        # check_same_thread=False: the service hands all work for one connection to a
        # single dedicated thread, but the connection is opened on the caller's.
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not just a crash
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    db = sqlite_utils.Database(conn)
    if migrate_schema:
        migrate(db)
    return db


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: take the write lock up front, so a compare-and-set
    reads and writes under one lock, across threads and processes alike."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")

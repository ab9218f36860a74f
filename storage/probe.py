"""Can this database take a write right now? A probe for /healthz that writes nothing.

SQLite: `BEGIN IMMEDIATE; ROLLBACK` on a connection of its own asks SQLite for the write lock
and gives it straight back: a file that cannot be opened for writing, or a lock held longer
than `timeout` by someone else, fails it; the file, the WAL and the audit log are left as
they were.

PostgreSQL: on a connection of its own, a read-write transaction that takes numbot's writer
lock (storage/engine.py) and rolls back: a server that cannot be reached, a read-only one
(a standby after a failover), or the lock held longer than `timeout`, fails it.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from storage.engine import WRITE_LOCK, UnreachableError, is_postgres_url, redact_url


def probe_write(path: str | Path, timeout: float) -> None:
    """Raise an error naming why the database at `path` (a SQLite file or a PostgreSQL URL)
    cannot be written now."""
    if is_postgres_url(str(path)):
        _probe_postgres(str(path), timeout)
        return
    if str(path) == ":memory:":
        return
    # mode=rw: a database that has gone away is an error here, not a new empty file.
    uri = Path(path).resolve().as_uri() + "?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.close()


class ReadOnlyError(Exception):
    """The database takes reads only."""


def _probe_postgres(url: str, timeout: float) -> None:
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=max(2, math.ceil(timeout)))
    except psycopg.Error as error:
        raise UnreachableError(
            f"cannot connect to PostgreSQL at {redact_url(url)}: {redact_url(str(error)).strip()}"
        ) from None
    try:
        conn.execute(f"SET lock_timeout = {int(timeout * 1000)}")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            read_only = conn.execute("SHOW transaction_read_only").fetchone()
            if read_only and read_only[0] == "on":
                raise ReadOnlyError("the PostgreSQL server only takes reads (a standby?)")
            raise psycopg.Rollback  # leave it without committing anything
    finally:
        conn.close()

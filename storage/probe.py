"""Can this database take a write right now? A probe for /healthz that writes nothing.

`BEGIN IMMEDIATE; ROLLBACK` on a connection of its own asks SQLite for the write lock and
gives it straight back: a file that cannot be opened for writing, or a lock held longer
than `timeout` by someone else, fails it; the file, the WAL and the audit log are left as
they were.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def probe_write(path: str | Path, timeout: float) -> None:
    """Raise sqlite3.Error naming why the database at `path` cannot be written now."""
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

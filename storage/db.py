"""Open numbot's database: SQLite at a path (the default), or PostgreSQL at a URL.

    connect("numbot.db")                      SQLite: owner-only file, WAL, durable commits
    connect("postgresql://user@host/numbot")  PostgreSQL, shared by several numbot processes

Either way the schema is migrated (or a database a newer numbot migrated is refused) before
anything else reads it. storage/engine.py draws the interface both engines share.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from storage.engine import (
    BUSY_TIMEOUT_MS,
    Database,
    PostgresDatabase,
    SchemaError,
    SqliteDatabase,
    is_postgres_url,
)
from storage.migrations import check_version, migrate

__all__ = ["BUSY_TIMEOUT_MS", "Database", "SchemaError", "connect", "write_transaction"]


def connect(target: str | Path, *, migrate_schema: bool = True) -> Database:
    """Open (creating if needed) the database at `target`: a PostgreSQL URL, a SQLite path,
    or ":memory:" for tests. Raises SchemaError when its schema is newer than this numbot's."""
    url = str(target)
    db: Database = PostgresDatabase(url) if is_postgres_url(url) else SqliteDatabase(target)
    try:
        if migrate_schema:
            migrate(db)
        else:
            check_version(db)
    except BaseException:
        db.close()
        raise
    return db


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """The engine's write transaction: take the writer lock up front, so a compare-and-set
    reads and writes under one lock, across threads, processes and replicas alike."""
    with db.transaction() as tx:
        yield tx

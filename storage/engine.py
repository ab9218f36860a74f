"""One storage interface, two engines: SQLite (one file, the default) and PostgreSQL (the store
several numbot processes share).

Everything above this module speaks through `Database`:

    execute(sql, params)  a cursor: rowcount, fetchone(), fetchall(), iteration over tuples
    query(sql, params)    the rows as dicts
    transaction()         a write transaction that holds the engine's one writer lock until it
                          commits or rolls back: BEGIN IMMEDIATE on SQLite, BEGIN and
                          pg_advisory_xact_lock(WRITE_LOCK) on PostgreSQL. Writers therefore
                          take turns across threads, processes and replicas alike, so a
                          compare-and-set reads and writes under one lock and the audit chain
                          is appended one entry at a time.

SQL is written once, with `?` placeholders, in the dialect both engines share (ON CONFLICT,
RETURNING, IS NOT DISTINCT FROM, partial indexes, window functions); PostgreSQL's driver gets
them as `%s`. Only the schema (storage/migrations.py, storage/migrations_pg.py) differs.
Times are UTC text in one fixed format and money is decimal text, on both engines; PostgreSQL
compares text byte by byte (COLLATE "C"), as SQLite does, so text order is time order.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | None

BUSY_TIMEOUT_MS = 10_000
IDLE_IN_TRANSACTION_MS = 30_000  # PostgreSQL: a transaction idle this long is ended
# The key of PostgreSQL's transaction-level advisory lock that every write transaction takes
# (the engine-wide writer lock); an arbitrary constant, "numbot" in ASCII.
WRITE_LOCK = 0x6E756D626F74


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    dialect: Dialect

    def execute(self, sql: str, params: Params = None) -> Cursor: ...
    def query(self, sql: str, params: Params = None) -> Iterator[dict[str, Any]]: ...
    def transaction(self) -> contextlib.AbstractContextManager[Database]: ...
    def close(self) -> None: ...


class StorageError(Exception):
    """numbot cannot use this database."""


class SchemaError(StorageError):
    """The database's schema is not one this numbot can run against."""


class UnreachableError(StorageError):
    """The database cannot be reached (its URL is shown without its password)."""


# -- SQLite -----------------------------------------------------------------------------------


def _create_private(path: Path) -> None:
    """Create the file 0600 before SQLite does, so it never exists world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch to WAL. On a new file another process may be switching at the same moment, and
    SQLite answers "database is locked" at once, without waiting out the busy timeout: try
    again shortly (seen with six processes starting together on an empty database)."""
    for attempt in range(attempts):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


class SqliteDatabase:
    """One SQLite connection: WAL, durable commits, foreign keys, a busy timeout, so two
    processes on one file see each other's commits and wait for each other's write locks."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        """`path` is a file, created 0600 if needed; ":memory:" for tests."""
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
            _wal(conn)
        conn.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not just a crash
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        self.conn = conn
        self.path = str(path)

    def execute(self, sql: str, params: Params = None) -> Cursor:
        return self.conn.execute(sql, _no_nul(params or ()))

    def query(self, sql: str, params: Params = None) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(sql, _no_nul(params or ()))
        names = [d[0] for d in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SqliteDatabase]:
        """BEGIN IMMEDIATE ... COMMIT: take the write lock up front."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


# -- PostgreSQL -------------------------------------------------------------------------------

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\?|%")


@functools.lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (and a literal `%` as `%%`), outside quotes."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        return {"?": "%s", "%": "%%"}.get(token, token)

    return _TOKENS.sub(swap, sql)


# A URL's whole userinfo (user and password): up to the last @ before the path, so a
# password holding an unescaped @ is hidden whole too.
_USERINFO = re.compile(r"(://)[^/\s?#]*@")
_PASSWORD_PARAM = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The database URL as it may be shown: its userinfo (user and password) as ***."""
    return _PASSWORD_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", url))


def _no_nul(params: Sequence[Any]) -> tuple[Any, ...]:
    """PostgreSQL's text holds no NUL: one in a parameter (a lookup by what someone typed)
    becomes U+FFFD, as storage.audit.storable does to what is written, on both engines alike
    (PostgreSQL would refuse it)."""
    return tuple(p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params)


class PostgresDatabase:
    """One psycopg connection in autocommit mode: a read outside `transaction()` sees the latest
    commit of every process; a write transaction takes the engine-wide advisory lock first.

    A connection that broke (the server restarted, a failover) fails the call that found it
    broken, whose outcome the caller cannot know; the next call connects again."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self._url = url
        self.url = redact_url(url)
        self._conn = self._connect()

    def _connect(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as error:
            # psycopg's message may quote the connection string: say where, never the password
            raise UnreachableError(
                f"cannot connect to PostgreSQL at {self.url}: {redact_url(str(error)).strip()}"
            ) from None
        conn.execute("SET TIME ZONE 'UTC'")
        # As SQLite's busy timeout: a writer waits this long for the lock, then fails. And a
        # process that stalls inside a transaction (frozen, not dead: its connection stays
        # open) is cut off, so its lock does not stop every other replica for good.
        conn.execute(f"SET lock_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
        return conn

    @property
    def conn(self) -> Any:
        """The connection, made again if the last one broke."""
        if self._conn.broken:
            self._conn.close()
            self._conn = self._connect()
        return self._conn

    def execute(self, sql: str, params: Params = None) -> Cursor:
        if params is None:  # a statement without parameters is sent as written ($$ bodies, %)
            return self.conn.execute(sql)  # type: ignore[no-any-return]
        return self.conn.execute(to_pyformat(sql), _no_nul(params))  # type: ignore[no-any-return]

    def query(self, sql: str, params: Params = None) -> Iterator[dict[str, Any]]:
        from psycopg.rows import dict_row

        cursor = self.conn.cursor(row_factory=dict_row)
        cursor.execute(to_pyformat(sql), _no_nul(params or ()))  # type: ignore[arg-type]
        yield from cursor

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PostgresDatabase]:
        """BEGIN; pg_advisory_xact_lock; ... COMMIT (the lock is released with the transaction,
        also when the process dies and its connection drops)."""
        conn = self.conn
        with conn.transaction():  # rolls back when the block raises
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield self

    def close(self) -> None:
        self._conn.close()


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))

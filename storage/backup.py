"""An online copy of numbot's SQLite database, consistent while numbot keeps writing to it.

Why not `cp`: numbot runs SQLite in WAL mode. A commit lands in `numbot.db-wal` and reaches
`numbot.db` only at a later checkpoint, so a copy of `numbot.db` alone misses committed
requests and audit entries (right after start it can miss every table), and copying the two
files one after the other can catch them at different moments. SQLite's backup API reads one
consistent snapshot, the WAL's pages included, and writes it as a single self-contained file.

The copy goes PAGES_PER_STEP pages at a time with STEP_SLEEP between steps, so the live
numbot's writers get the database between steps. A commit by another connection makes SQLite
start the copy over; past MAX_RESTARTS the whole database is copied in one step, which in WAL
mode is one read snapshot that does not block numbot's writers (it only holds back
checkpoints).

It is written to a temporary file next to the destination (0600 from its creation), switched
to a rollback journal so it is one file, flushed to disk and only then moved into place
(renamed over the destination with `force`; hard-linked without it, which fails rather than
replace a file that appeared meanwhile): nobody sees half a backup, and a crash leaves at
most a `.numbot-backup-*` file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from storage.audit import AuditKey, AuditLog, VerifyResult

PAGES_PER_STEP = 256  # 1 MiB a step with SQLite's default 4 KiB pages
STEP_SLEEP = 0.005  # seconds between steps, for numbot's writers
MAX_RESTARTS = 3
BUSY_TIMEOUT = 10.0  # seconds to wait for a lock, as numbot's own connections do
# The files SQLite keeps beside a database: overwriting one corrupts the live database.
SIDECARS = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """The backup could not be written."""


class _TooBusy(Exception):
    """The source kept changing under a stepwise copy."""


def _open_source(source: Path) -> sqlite3.Connection:
    """The live database, read-only: a backup never writes to what it copies."""
    return sqlite3.connect(
        f"file:{quote(str(source.resolve()))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT
    )


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection, *, pages: int, sleep: float) -> int:
    """Copy `src` into `dst`; return how many times SQLite started over.

    The pause is taken here, after each step: the `sleep` argument of Python's
    `Connection.backup` is only a wait before retrying a busy or locked step."""
    restarts = 0
    last: int | None = None

    def progress(_status: int, remaining: int, _total: int) -> None:
        nonlocal restarts, last
        if last is not None and remaining > last:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise _TooBusy
        last = remaining
        if remaining:
            time.sleep(sleep)

    try:
        src.backup(dst, pages=pages, progress=progress)
    except _TooBusy:
        src.backup(dst, pages=-1)
    return restarts


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(tmp: Path, dest: Path, *, force: bool) -> None:
    """Rename `tmp` to `dest` atomically. Without `force`, a hard link instead of a rename,
    which fails if `dest` appeared since it was checked: a file is never replaced unasked."""
    if force:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise BackupError(f"{dest} exists; pass --force to replace it") from None
    except OSError:  # a file system without hard links: check, then rename
        if dest.exists():
            raise BackupError(f"{dest} exists; pass --force to replace it") from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


def backup(
    source: str | Path,
    dest: str | Path,
    *,
    force: bool = False,
    pages: int = PAGES_PER_STEP,
    sleep: float = STEP_SLEEP,
) -> int:
    """Write a consistent copy of the database at `source` to `dest`; return its size.

    Refuses an existing `dest` unless `force`, and never overwrites `source` itself nor the
    files SQLite keeps beside it (`-wal`, `-shm`, `-journal`), whether they exist or not."""
    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise BackupError(f"no numbot database at {source}")
    if dest.exists() and os.path.samefile(dest, source):
        raise BackupError(f"{dest} is the database itself; back it up to another file")
    live = str(source.resolve())
    if str(dest.resolve()) in {live + suffix for suffix in SIDECARS}:
        raise BackupError(
            f"{dest} is one of the live database's own files (SQLite keeps its journal there); "
            "back it up to another file"
        )
    if dest.is_dir():
        raise BackupError(f"{dest} is a directory; name the backup file, e.g. {dest}/numbot.db")
    if dest.exists() and not force:
        raise BackupError(f"{dest} exists; pass --force to replace it")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} is not a directory")
    try:
        fd, name = tempfile.mkstemp(prefix=".numbot-backup-", suffix=".db", dir=dest.parent)
    except OSError as exc:
        raise BackupError(f"cannot write in {dest.parent}: {exc.strerror}") from None
    os.close(fd)  # mkstemp made it 0600; SQLite writes into it from here
    tmp = Path(name)
    try:
        src = _open_source(source)
        try:
            dst = sqlite3.connect(tmp, isolation_level=None)
            try:
                _copy(src, dst, pages=pages, sleep=sleep)
                dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal to carry along
            finally:
                dst.close()
        finally:
            src.close()
        with tmp.open("rb+") as written:
            os.fsync(written.fileno())
        os.chmod(tmp, 0o600)
        _move_into_place(tmp, dest, force=force)
        _fsync_dir(dest.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"could not copy {source}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"could not write {dest}: {exc.strerror or exc}") from None
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return dest.stat().st_size


@dataclass(frozen=True)
class CopyFacts:
    """What a backup holds, and whether its audit log verifies."""

    requests: int
    audit: VerifyResult


class _ReadOnlyCopy:
    """A backup as the audit log reads it: one read-only connection (`conn`), with `execute`
    and `query` over it, and no write transaction. Neither migrated nor switched to WAL, so
    checking a copy leaves it byte for byte as it was written."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, tuple(params or ()))

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def transaction(self) -> contextlib.AbstractContextManager[_ReadOnlyCopy]:
        raise BackupError("a backup is checked read-only; nothing may write to it")

    def close(self) -> None:
        self.conn.close()


def check_copy(path: str | Path, key: AuditKey) -> CopyFacts:
    """Open a backup read-only (checking a copy never changes it) and verify its audit log
    with `key`, as `numbot audit verify` does."""
    copy = _ReadOnlyCopy(_open_source(Path(path)))
    try:
        requests = copy.execute("SELECT count(*) FROM requests").fetchone()[0]
        # What AuditLog reads through: `conn` today, `execute` under the two-engine storage
        # interface; _ReadOnlyCopy offers both, and declares neither's type.
        result = AuditLog(copy, key).verify()  # type: ignore[arg-type]
    except sqlite3.Error as exc:
        raise BackupError(f"could not read the copy at {path}: {exc}") from None
    finally:
        copy.close()
    return CopyFacts(int(requests), result)

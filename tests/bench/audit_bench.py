"""Audit log throughput against raw SQLite, and the time to verify a long chain.

Both sides use the same file system, the same pragmas (WAL, synchronous=FULL) and one
`BEGIN IMMEDIATE; INSERT one row; COMMIT` per row; the audit side does it through
`AuditLog.append` on a database opened with `storage.db.connect`. The two run interleaved
in chunks (alternating which goes first), so a disk that speeds up or slows down during the
run affects both alike.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from storage.audit import AuditKey, AuditLog, utc_now
from storage.db import BUSY_TIMEOUT_MS, connect, write_transaction

ACTOR, ACTION, SUBJECT = "U0BENCH", "search", "415"
DETAIL = '{"query":{"areaCode":"415","limit":20},"results":20}'
BENCH_KEY = AuditKey(b"numbot-bench-audit-key-not-a-secret!")
RAW_SCHEMA = """
CREATE TABLE raw (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class AppendResult:
    rows: int
    raw_seconds: float
    audit_seconds: float

    @property
    def raw_rate(self) -> float:
        return self.rows / self.raw_seconds

    @property
    def audit_rate(self) -> float:
        return self.rows / self.audit_seconds

    @property
    def ratio(self) -> float:
        return self.audit_rate / self.raw_rate


@dataclass(frozen=True)
class VerifyBench:
    rows: int
    build_seconds: float
    verify_seconds: float
    ok: bool
    entries: int


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute(RAW_SCHEMA)
    return conn


def bench_appends(workdir: Path, rows: int, chunk: int = 1000) -> AppendResult:
    raw = _raw_connection(workdir / "raw.db")
    audit_db = connect(workdir / "audit-append.db")
    log = AuditLog(audit_db, BENCH_KEY)
    at, prev, digest = utc_now(), "0" * 64, "f" * 64
    insert = (
        "INSERT INTO raw (seq, at, actor, action, subject, outcome, detail, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    raw_seconds = audit_seconds = 0.0
    seq = 0

    def raw_chunk(n: int) -> float:
        nonlocal seq
        start = time.perf_counter()
        for _ in range(n):
            seq += 1
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(insert, (seq, at, ACTOR, ACTION, SUBJECT, "ok", DETAIL, prev, digest))
            raw.execute("COMMIT")
        return time.perf_counter() - start

    def audit_chunk(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            log.append(actor=ACTOR, action=ACTION, subject=SUBJECT, outcome="ok", detail=DETAIL)
        return time.perf_counter() - start

    try:
        done, round_ = 0, 0
        while done < rows:
            n = min(chunk, rows - done)
            if round_ % 2 == 0:
                raw_seconds += raw_chunk(n)
                audit_seconds += audit_chunk(n)
            else:
                audit_seconds += audit_chunk(n)
                raw_seconds += raw_chunk(n)
            done += n
            round_ += 1
    finally:
        raw.close()
        audit_db.conn.close()
    return AppendResult(rows, raw_seconds, audit_seconds)


def bench_verify(workdir: Path, rows: int) -> VerifyBench:
    db = connect(workdir / "audit-verify.db")
    try:
        start = time.perf_counter()
        log = AuditLog(db, BENCH_KEY)
        with write_transaction(db) as conn:
            for i in range(rows):
                log.append_in(
                    conn,
                    actor=ACTOR,
                    action=ACTION,
                    subject=f"req_{i:012x}",
                    outcome="ok",
                    detail=DETAIL,
                )
        build = time.perf_counter() - start
        start = time.perf_counter()
        result = log.verify()
        verify = time.perf_counter() - start
        return VerifyBench(rows, build, verify, result.ok, result.entries)
    finally:
        db.conn.close()

"""The audit log: append-only, hash-chained, exportable.

Each entry's hash covers its sequence number, its fields and the previous entry's hash:

    hash[n] = sha256(hash[n-1] || canonical_json([seq, at, actor, action, subject, outcome, detail]))

so editing a row breaks its hash, deleting one breaks the next row's link, and a row put
in out of order breaks the sequence. Triggers refuse UPDATE and DELETE outright; the
chain catches whoever drops the triggers first. Truncating the tail leaves a valid,
shorter chain: `verify` prints the head hash so it can be recorded elsewhere and checked
later with `expect_head`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal, TextIO

import sqlite_utils

from storage.db import write_transaction

GENESIS = "0" * 64
COLUMNS = ("seq", "at", "actor", "action", "subject", "outcome", "detail", "prev_hash", "hash")

Outcome = Literal["ok", "refused", "failed", "unknown"]


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    outcome: str
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head: str
    bad_seq: int | None = None
    problem: str = ""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    outcome: str,
    detail: str,
) -> str:
    payload = json.dumps(
        [seq, at, actor, action, subject, outcome, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def append_in(
    conn: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    outcome: Outcome,
    detail: str = "",
) -> AuditEntry:
    """Append inside the caller's write transaction (BEGIN IMMEDIATE already taken)."""
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = utc_now()
    digest = entry_hash(prev, seq, at, actor, action, subject, outcome, detail)
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, outcome, detail, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, subject, outcome, detail, prev, digest),
    )
    return AuditEntry(seq, at, actor, action, subject, outcome, detail, prev, digest)


class AuditLog:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def append(
        self, *, actor: str, action: str, subject: str, outcome: Outcome, detail: str = ""
    ) -> AuditEntry:
        with write_transaction(self.db) as conn:
            return append_in(
                conn, actor=actor, action=action, subject=subject, outcome=outcome, detail=detail
            )

    def entries(self, *, since_seq: int = 0) -> Iterator[AuditEntry]:
        cursor = self.db.conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM audit WHERE seq > ? ORDER BY seq",  # noqa: S608
            (since_seq,),
        )
        for row in cursor:
            yield AuditEntry(*row)

    def count(self) -> int:
        return int(self.db.conn.execute("SELECT count(*) FROM audit").fetchone()[0])

    def verify(self, *, expect_head: str | None = None) -> VerifyResult:
        """Walk the chain; report the first entry that does not fit."""
        prev, expected_seq, n = GENESIS, 1, 0
        for row in self.db.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY seq"):  # noqa: S608
            seq, at, actor, action, subject, outcome, detail, prev_hash, digest = row
            if seq != expected_seq:
                return VerifyResult(
                    False,
                    n,
                    prev,
                    seq,
                    f"expected entry {expected_seq}, found {seq}: an entry is missing or out of order",
                )
            if prev_hash != prev:
                return VerifyResult(
                    False,
                    n,
                    prev,
                    seq,
                    "its link to the previous entry is broken: an entry before it was removed or changed",
                )
            if entry_hash(prev, seq, at, actor, action, subject, outcome, detail) != digest:
                return VerifyResult(
                    False, n, prev, seq, "its contents do not match its hash: it was edited"
                )
            prev, expected_seq, n = digest, expected_seq + 1, n + 1
        if expect_head is not None and expect_head != prev:
            return VerifyResult(
                False,
                n,
                prev,
                None,
                f"the head is {prev}, not the expected {expect_head}: entries were removed from the end",
            )
        return VerifyResult(True, n, prev)

    def export_jsonl(self, out: TextIO) -> int:
        n = 0
        for entry in self.entries():
            out.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
            n += 1
        return n

    def export_csv(self, out: TextIO) -> int:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        n = 0
        for entry in self.entries():
            writer.writerow([getattr(entry, c) for c in COLUMNS])
            n += 1
        return n

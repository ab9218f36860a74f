"""The audit log: append-only, chained, sealed with a key held outside the database.

Each entry is authenticated with HMAC-SHA256 under the audit key (`NUMBOT_AUDIT_KEY`),
over its sequence number, its fields and the previous entry's seal:

    hash[n] = HMAC(key, "numbot-audit-v2" || hash[n-1] || canonical_json([seq, at, ..., state]))

Someone with the file and the source but not the key cannot append, edit, delete or
reorder entries, nor rewrite the chain, without `verify` naming the first bad entry:
every link needs the key to be recomputed. The database refuses UPDATE and DELETE outright
(triggers, on SQLite and PostgreSQL alike).

Logs written before the key existed were chained with plain SHA-256 (`legacy_hash`).
They are taken over explicitly: `reseal` appends one keyed `audit_resealed` entry whose
detail names the legacy head, so the unkeyed prefix is bound by the first keyed link.
A log whose entries are all unkeyed does not verify until it is resealed. Someone with the
database but not the key could rewrite a keyed log as an unkeyed one, so `reseal` takes over
only the log the operator names by its head, and refuses a database that holds anything only
a keyed numbot writes.

Truncating the tail leaves a valid, shorter chain: `verify` prints the head so it can be
kept elsewhere, and `verify(expect_head=H)` fails once `H` is no longer in the chain
(it passes while `H` is any entry of a valid chain, so a live log may keep growing). `H` may
be the whole hash or its first 16 hex characters or more, as numbot prints it in short.

`state` is set on entries that move a request: the status the request was moved to.
The workflow reads these back to check that a request's state is backed by sealed
entries before it spends (`transitions`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import TextIO

from storage.audit_seal import (
    COLUMNS,
    GENESIS,
    MIN_KEY_LENGTH,
    RESEALED,
    AuditEntry,
    AuditKey,
    AuditKeyError,
    Outcome,
    VerifyResult,
    entry_from_row,
    legacy_hash,
    legacy_problem,
    sealed_payload,
    seals_legacy,
    spreadsheet_safe,
    stamp,
    storable,
    utc_now,
)
from storage.db import write_transaction
from storage.engine import Database

__all__ = [
    "COLUMNS",
    "GENESIS",
    "MIN_KEY_LENGTH",
    "RESEALED",
    "AuditEntry",
    "AuditKey",
    "AuditKeyError",
    "AuditLog",
    "Outcome",
    "VerifyResult",
    "legacy_hash",
    "spreadsheet_safe",
    "stamp",
    "storable",
    "utc_now",
]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM audit"  # noqa: S608 - fixed column names
# Tables only a numbot that seals its log writes to: created by migrations that came with the
# key or after it. numbot refuses to start on an unkeyed log until it is resealed, so on a
# database whose log is honestly unkeyed, these are empty.
KEYED_ERA_TABLES = (
    "approvals",
    "digests",
    "home_seen",
    "leases",
    "owned_numbers",
    "request_messages",
)
MIN_HEAD_PREFIX = 16  # hex characters: how numbot prints a head in short


def keyed_traces(conn: Database) -> list[str]:
    """The keyed-era tables that hold rows (see KEYED_ERA_TABLES)."""
    return [
        table
        for table in KEYED_ERA_TABLES
        if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None  # noqa: S608
    ]


def head_matches(head: str, given: str) -> bool:
    """Whether `given` names `head`: the whole hash, or a prefix of at least 16 hex characters
    (as numbot prints it), in either case."""
    given = given.strip().lower()
    return len(given) >= MIN_HEAD_PREFIX and head.startswith(given)


class AuditLog:
    def __init__(self, db: Database, key: AuditKey | None) -> None:
        """`key` may be None only to read or export; appending and verifying need it."""
        self.db = db
        self.key = key

    def _key(self) -> AuditKey:
        if self.key is None:
            raise AuditKeyError("the audit key is needed (NUMBOT_AUDIT_KEY)")
        return self.key

    # -- writing ------------------------------------------------------------------------

    def append_in(
        self,
        conn: Database,
        *,
        actor: str,
        action: str,
        subject: str,
        outcome: Outcome,
        detail: str = "",
        state: str | None = None,
    ) -> AuditEntry:
        """Append inside the caller's write transaction: the engine's writer lock is taken, so
        entries are appended one at a time across processes and replicas."""
        key = self._key()
        actor, action, subject, detail = map(storable, (actor, action, subject, detail))
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        at = utc_now()
        digest = key.seal(
            prev, sealed_payload(seq, at, actor, action, subject, outcome, detail, state)
        )
        entry = AuditEntry(seq, at, actor, action, subject, outcome, detail, state, prev, digest)
        conn.execute(
            f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",  # noqa: S608
            tuple(asdict(entry).values()),
        )
        return entry

    def append(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        outcome: Outcome,
        detail: str = "",
        state: str | None = None,
    ) -> AuditEntry:
        with write_transaction(self.db) as conn:
            return self.append_in(
                conn,
                actor=actor,
                action=action,
                subject=subject,
                outcome=outcome,
                detail=detail,
                state=state,
            )

    def reseal(self, legacy_head: str) -> AuditEntry | None:
        """Bind an unkeyed (pre-key) log to the key: verify its SHA-256 chain, check that it is
        the log the operator trusts (`legacy_head`: its head as they recorded it, whole or its
        first 16 hex characters at least) and that no keyed numbot ever wrote to this
        database, then append one sealed entry naming its head. None when there is nothing
        to reseal (an empty log, or one already sealed with the key)."""
        key = self._key()
        with write_transaction(self.db) as conn:
            prev, n = GENESIS, 0
            for entry in map(entry_from_row, conn.execute(f"{_SELECT} ORDER BY seq")):
                if key.authentic(entry):
                    return None  # already sealed from here on
                problem = legacy_problem(entry, prev, n + 1)
                if problem:
                    raise AuditKeyError(
                        f"the unkeyed log is broken at entry {entry.seq} ({problem}); "
                        "numbot will not seal a log it cannot vouch for"
                    )
                prev, n = entry.hash, n + 1
            if n == 0:
                return None
            traces = keyed_traces(conn)
            if traces:
                raise AuditKeyError(
                    "this database holds what only a numbot with an audit key writes "
                    f"({', '.join(traces)}), yet its log is all unkeyed: a keyed log was rewritten "
                    "without the key. numbot will not seal it. Treat it as tampering: restore "
                    "the database from a backup and run `numbot audit verify` on it"
                )
            if not head_matches(prev, legacy_head):
                raise AuditKeyError(
                    f"the unkeyed log's head is {prev[:16]}, not the {legacy_head.strip()[:64]!r} "
                    "you recorded: it changed since. numbot will not seal it. Treat it as "
                    "tampering: restore the database from a backup"
                )
            detail = json.dumps({"legacy_entries": n, "legacy_head": prev}, sort_keys=True)
            return self.append_in(
                conn,
                actor="numbot",
                action=RESEALED,
                subject="audit",
                outcome="ok",
                detail=detail,
            )

    # -- reading ------------------------------------------------------------------------

    def entries(self, *, since_seq: int = 0) -> Iterator[AuditEntry]:
        cursor = self.db.execute(f"{_SELECT} WHERE seq > ? ORDER BY seq", (since_seq,))
        for row in cursor:
            yield entry_from_row(row)

    def head(self) -> AuditEntry | None:
        row = self.db.execute(f"{_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
        return entry_from_row(row) if row else None

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM audit").fetchone()[0])

    def transitions(self, subject: str) -> list[AuditEntry]:
        """The entries that moved `subject` (a request) from state to state, and the approvals
        counted toward its quorum, oldest first."""
        cursor = self.db.execute(
            f"{_SELECT} WHERE subject = ? AND (state IS NOT NULL "
            "OR (action = 'approve' AND outcome = 'ok')) ORDER BY seq",
            (subject,),
        )
        return [entry_from_row(row) for row in cursor]

    def entry(self, seq: int) -> AuditEntry | None:
        row = self.db.execute(f"{_SELECT} WHERE seq = ?", (seq,)).fetchone()
        return entry_from_row(row) if row else None

    def digest_facts(self, start: datetime, end: datetime) -> list[AuditEntry]:
        """The entries written in [start, end) that moved a request or refused someone, oldest
        first: what a daily digest counts (served by the audit_digest_facts index)."""
        cursor = self.db.execute(
            f"{_SELECT} WHERE at >= ? AND at < ? "
            "AND (state IS NOT NULL OR outcome = 'refused') ORDER BY at, seq",
            (stamp(start), stamp(end)),
        )
        return [entry_from_row(row) for row in cursor]

    def moves_between(
        self, start: datetime, end: datetime, states: tuple[str, ...]
    ) -> list[AuditEntry]:
        """The entries written in [start, end) that moved a request into one of `states`,
        oldest first (served by the audit_digest_facts index)."""
        marks = ", ".join("?" for _ in states)
        cursor = self.db.execute(
            f"{_SELECT} WHERE at >= ? AND at < ? AND state IN ({marks}) ORDER BY at, seq",
            (stamp(start), stamp(end), *states),
        )
        return [entry_from_row(row) for row in cursor]

    def has(self, *, subject: str, action: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM audit WHERE subject = ? AND action = ? LIMIT 1", (subject, action)
        ).fetchone()
        return row is not None

    def check_key(self) -> None:
        """At start: the newest entry must be sealed with this key, and a log written before
        the key must have been resealed. Raises AuditKeyError saying what to do."""
        key = self._key()
        head = self.head()
        if head is None or key.authentic(head):
            return
        if self._all_legacy():
            raise AuditKeyError(
                "this audit log is not sealed with a key: either it was written by a numbot "
                "from before the audit key, or someone rewrote it without the key (tampering). "
                "If you are upgrading such a numbot, run `numbot audit reseal --legacy-head H` "
                "once, with H the head `numbot audit verify` printed before the upgrade; "
                "otherwise restore the database from a backup"
            )
        raise AuditKeyError(
            "the newest audit entry is not sealed with NUMBOT_AUDIT_KEY: either the key is "
            "not the one this log was sealed with, or the log was tampered with "
            "(`numbot audit verify` names the first bad entry)"
        )

    def _all_legacy(self) -> bool:
        """Whether every entry is a valid link of an unkeyed chain (a log from before the key)."""
        prev = GENESIS
        for n, entry in enumerate(
            map(entry_from_row, self.db.execute(f"{_SELECT} ORDER BY seq")), 1
        ):
            if legacy_problem(entry, prev, n):
                return False
            prev = entry.hash
        return True

    def verify(self, *, expect_head: str | None = None) -> VerifyResult:
        """Walk the chain; report the first entry that does not fit."""
        key = self._key()
        prev, n, legacy, keyed = GENESIS, 0, 0, False
        seen_head = expect_head is None
        for entry in map(entry_from_row, self.db.execute(f"{_SELECT} ORDER BY seq")):
            problem = ""
            if entry.seq != n + 1:
                problem = f"expected entry {n + 1}, found {entry.seq}: an entry is missing or out of order"
            elif entry.prev_hash != prev:
                problem = "its link to the previous entry is broken: an entry before it was removed or changed"
            elif key.authentic(entry):
                if not keyed and legacy and not seals_legacy(entry, legacy, prev):
                    problem = "unkeyed entries come before it, but it is not the reseal entry that binds them"
                keyed = True
            elif keyed or legacy_problem(entry, prev, n + 1):
                problem = "it is not sealed with the audit key: it was edited, forged, or written with another key"
            else:
                legacy += 1
            if problem:
                return VerifyResult(False, n, prev, entry.seq, problem, legacy)
            prev, n = entry.hash, n + 1
            seen_head = seen_head or head_matches(entry.hash, expect_head or "")
        if legacy and not keyed:
            return VerifyResult(
                False,
                n,
                prev,
                None,
                f"all {legacy} entries predate the audit key and nothing seals them: "
                "run `numbot audit reseal` (or they were rewritten without the key)",
                legacy,
            )
        if not seen_head:
            return VerifyResult(
                False,
                n,
                prev,
                None,
                f"{expect_head} is not an entry of this chain: entries were removed from the end, "
                "or the chain was rewritten",
                legacy,
            )
        return VerifyResult(True, n, prev, legacy=legacy)

    # -- export -------------------------------------------------------------------------

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
            writer.writerow([spreadsheet_safe(getattr(entry, c)) for c in COLUMNS])
            n += 1
        return n

"""The daily digest's bookkeeping: each UTC day is claimed once, then posted, or retried.

    claim(day)   one write transaction: no `digest` audit entry for the day yet (checked
                 under the write lock), so append the sealed entry that carries the day's
                 summary and insert the day's row with a lease. Whoever loses sees None.
    take(day)    a claimed day that was not posted, whose lease has run out: lease it again
                 (compare-and-set), so only one process retries it at a time.
    posted(day)  Slack took it: remember where, so nobody posts it again.
    failed(day)  Slack refused it: let a later sweep retry after `retry_at`.

Several numbot processes on one database post each day's digest once. A process that dies
after Slack took the post but before `posted` was written leaves the day unposted: it is
posted again once its lease runs out (at least once, never silently lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from storage.audit import AuditEntry, AuditLog
from storage.db import write_transaction
from storage.engine import Database

ACTION = "digest"  # the audit action of a day's claim; its subject is the day, YYYY-MM-DD
ACTOR = "numbot"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DigestRow:
    day: str
    seq: int  # the sealed `digest` entry that claimed the day and holds its summary
    lease_until: str
    attempts: int
    posted_at: str | None
    channel: str | None
    ts: str | None


_SELECT = "SELECT day, seq, lease_until, attempts, posted_at, channel, ts FROM digests"


class DigestStore:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit

    def get(self, day: str) -> DigestRow | None:
        row = self.db.execute(f"{_SELECT} WHERE day = ?", (day,)).fetchone()
        return DigestRow(*row) if row else None

    def claim(self, day: str, summary: str, *, lease_until: datetime) -> AuditEntry | None:
        """Claim `day`: append its sealed `digest` entry (detail: `summary`) and its row, in
        one transaction, if no process has; the entry, or None when the day was taken."""
        with write_transaction(self.db) as conn:
            taken = conn.execute("SELECT 1 FROM digests WHERE day = ?", (day,)).fetchone()
            if taken or self.audit.has(subject=day, action=ACTION):
                return None
            entry = self.audit.append_in(
                conn, actor=ACTOR, action=ACTION, subject=day, outcome="ok", detail=summary
            )
            conn.execute(
                "INSERT INTO digests (day, seq, lease_until) VALUES (?, ?, ?)",
                (day, entry.seq, _time(lease_until)),
            )
        return entry

    def unposted(self, now: datetime, limit: int = 5) -> list[DigestRow]:
        """Claimed days not yet posted whose lease has run out, oldest first."""
        rows = self.db.execute(
            f"{_SELECT} WHERE posted_at IS NULL AND lease_until <= ? ORDER BY lease_until LIMIT ?",
            (_time(now), limit),
        )
        return [DigestRow(*row) for row in rows]

    def take(self, row: DigestRow, *, lease_until: datetime) -> bool:
        """Lease an unposted day again, if nobody did since `row` was read."""
        with write_transaction(self.db) as conn:
            cursor = conn.execute(
                "UPDATE digests SET lease_until = ?, attempts = attempts + 1 "
                "WHERE day = ? AND posted_at IS NULL AND lease_until = ?",
                (_time(lease_until), row.day, row.lease_until),
            )
            return cursor.rowcount == 1

    def posted(self, day: str, *, channel: str, ts: str, at: datetime) -> None:
        with write_transaction(self.db) as conn:
            conn.execute(
                "UPDATE digests SET posted_at = ?, channel = ?, ts = ? WHERE day = ?",
                (_time(at), channel, ts, day),
            )

    def failed(self, day: str, *, retry_at: datetime) -> None:
        with write_transaction(self.db) as conn:
            conn.execute(
                "UPDATE digests SET lease_until = ? WHERE day = ? AND posted_at IS NULL",
                (_time(retry_at), day),
            )

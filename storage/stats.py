"""Counts for numbot's metrics, read at scrape time: one grouped COUNT and one index lookup."""

from __future__ import annotations

from storage.engine import Database


def requests_by_status(db: Database) -> dict[str, int]:
    rows = db.execute("SELECT status, COUNT(*) FROM requests GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in rows}


def audit_entries(db: Database) -> int:
    """The audit log's length: its last sequence number (entries are numbered from 1 and
    never deleted), read from the primary key rather than counted."""
    row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()
    return int(row[0])

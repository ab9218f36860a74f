"""Leases on work that one process at a time should do, such as the sweep.

    take(name, holder, now, until)  hold `name` until `until` if nobody else holds it past
                                    `now` (a holder renews its own lease the same way)
    release(name, holder)           let it go at a clean stop, so another takes over at once

One compare-and-set upsert in a write transaction, the same on both engines: whoever loses
sees False. A holder that dies stops renewing, and its lease runs out at `until`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from storage.db import write_transaction
from storage.engine import Database


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db

    def take(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        with write_transaction(self.db) as tx:
            cursor = tx.execute(
                "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until "
                "WHERE leases.holder = excluded.holder OR leases.until <= ?",
                (name, holder, _time(until), _time(now)),
            )
            return cursor.rowcount == 1

    def release(self, name: str, holder: str) -> None:
        with write_transaction(self.db) as tx:
            tx.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def holder(self, name: str, now: datetime) -> str | None:
        """Who holds `name` at `now` (None when nobody does)."""
        row = self.db.execute(
            "SELECT holder FROM leases WHERE name = ? AND until > ?", (name, _time(now))
        ).fetchone()
        return str(row[0]) if row else None

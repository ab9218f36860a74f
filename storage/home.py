"""Whose App Home numbot has drawn.

Home is redrawn when something changes for a person, but only for people who have opened
it at least once: publishing a Home for everyone a request concerns would draw tabs nobody
looks at. Kept in the database so that a restart (or another numbot process) does not forget.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from storage.db import write_transaction
from storage.engine import Database


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HomeSeen:
    def __init__(self, db: Database) -> None:
        self.db = db

    def mark(self, user_id: str, now: datetime) -> None:
        """`user_id` opened their Home at `now`."""
        with write_transaction(self.db) as conn:
            conn.execute(
                "INSERT INTO home_seen (user_id, first_seen_at, last_seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
                (user_id, _stamp(now), _stamp(now)),
            )

    def among(self, user_ids: Iterable[str]) -> set[str]:
        """Those of `user_ids` who have opened their Home."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return set()
        marks = ", ".join("?" for _ in wanted)
        rows = self.db.execute(
            f"SELECT user_id FROM home_seen WHERE user_id IN ({marks})",  # noqa: S608 - marks only
            wanted,
        ).fetchall()
        return {row[0] for row in rows}

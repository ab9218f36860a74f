"""What the sweep finds, by due time: each query is served by an index, and each claim is a
compare-and-set, so several processes share the work without doing it twice.

Each query names the index that serves it (Rows._requests_through). SQLite has no
statistics unless someone runs ANALYZE, and without them its planner takes an equality on
`status` as the most selective term: it read every pending request through
`requests_status_changed` to find the few whose hold had lapsed (20 ms a query at 100,000
open requests, on the storage thread that every click's write waits for). Named, each
query reads what is due and stops. PostgreSQL keeps statistics of its own (autovacuum) and
takes the partial indexes unaided.
"""

from __future__ import annotations

from datetime import datetime

from storage.db import write_transaction
from storage.rows import (
    Request,
    Rows,
    _parse_stamp,
    _parse_time,
    _stamp,
    _to_row,
)


class DueWork(Rows):
    def quiet_in_flight(self, changed_before: datetime, limit: int = 100) -> list[Request]:
        """Approved, purchasing or releasing, and unchanged since `changed_before`."""
        return self._select(
            "status IN ('approved', 'purchasing', 'releasing') AND updated_at <= ? "
            "ORDER BY updated_at",
            [_stamp(changed_before)],
            limit,
            table=self._requests_through("requests_status_changed"),
        )

    def checks_due(self, now: datetime, limit: int = 100) -> list[Request]:
        """`checking` requests whose next look at Flowyte is due."""
        return self._select(
            "status = 'checking' AND (next_check_at IS NULL OR next_check_at <= ?) "
            "ORDER BY next_check_at NULLS FIRST",
            [_to_row({"next_check_at": now})["next_check_at"]],
            limit,
            table=self._requests_through("requests_checks"),
        )

    def lapsed_holds(self, now: datetime, limit: int = 100) -> list[Request]:
        return self._select(
            "status IN ('held', 'pending', 'unfunded') AND hold_expires_at <= ? "
            "ORDER BY hold_expires_at",
            [_to_row({"hold_expires_at": now})["hold_expires_at"]],
            limit,
            table=self._requests_through("requests_hold_expiry"),
        )

    def cardless(self, changed_before: datetime, limit: int = 100) -> list[Request]:
        """Pending requests whose card was never posted (Slack was down, or a crash)."""
        return self._select(
            "status = 'pending' AND card_ts IS NULL AND updated_at <= ? ORDER BY updated_at",
            [_stamp(changed_before)],
            limit,
            table=self._requests_through("requests_cardless"),
        )

    def stale_cards(self, changed_before: datetime, limit: int = 100) -> list[Request]:
        """Requests whose card does not show their current status (an update failed)."""
        return self._select(
            "card_ts IS NOT NULL AND (card_drawn IS NULL OR card_drawn != status) "
            "AND updated_at <= ? ORDER BY updated_at",
            [_stamp(changed_before)],
            limit,
            table=self._requests_through("requests_stale_cards"),
        )

    def reminders_due(
        self, now: datetime, lapse_before: datetime, limit: int = 100
    ) -> list[Request]:
        """Pending requests not yet reminded whose hold lapses after `now` but before
        `lapse_before` (a hold already lapsed is expired, not reminded)."""
        return self._select(
            "status = 'pending' AND reminded_at IS NULL "
            "AND hold_expires_at > ? AND hold_expires_at <= ? ORDER BY hold_expires_at",
            [
                _to_row({"hold_expires_at": now})["hold_expires_at"],
                _to_row({"hold_expires_at": lapse_before})["hold_expires_at"],
            ],
            limit,
            table=self._requests_through("requests_reminders"),
        )

    def claim_reminder(self, request_id: str, now: datetime) -> bool:
        """Remind once, even with several processes: compare-and-set on `reminded_at`."""
        with write_transaction(self.db) as conn:
            cursor = conn.execute(
                "UPDATE requests SET reminded_at = ? "
                "WHERE id = ? AND status = 'pending' AND reminded_at IS NULL",
                (_to_row({"reminded_at": now})["reminded_at"], request_id),
            )
            return cursor.rowcount == 1

    def claim_check(self, request_id: str, due: datetime | None, until: datetime) -> bool:
        """Take the next look at a `checking` request, if nobody else took it since it fell
        due at `due`: move its next look to `until` (a lease), compare-and-set."""
        row = _to_row({"next_check_at": until})
        with write_transaction(self.db) as conn:
            cursor = conn.execute(
                "UPDATE requests SET next_check_at = ? "
                "WHERE id = ? AND status = 'checking' AND next_check_at IS NOT DISTINCT FROM ?",
                (
                    row["next_check_at"],
                    request_id,
                    _to_row({"next_check_at": due})["next_check_at"],
                ),
            )
            return cursor.rowcount == 1

    def next_due(self) -> dict[str, datetime | None]:
        """The earliest moment each kind of sweep work falls due (before its quiet window)."""
        requests = self._requests_through
        row = self.db.execute(
            "SELECT "  # noqa: S608 - fixed clauses and index names
            f"(SELECT min(updated_at) FROM {requests('requests_status_changed')} "
            " WHERE status IN ('approved', 'purchasing', 'releasing')), "
            f"(SELECT min(next_check_at) FROM {requests('requests_checks')} "
            " WHERE status = 'checking'), "
            f"(SELECT min(hold_expires_at) FROM {requests('requests_hold_expiry')} "
            " WHERE status IN ('held', 'pending', 'unfunded')), "
            f"(SELECT min(updated_at) FROM {requests('requests_cardless')} "
            " WHERE status = 'pending' AND card_ts IS NULL), "
            f"(SELECT min(hold_expires_at) FROM {requests('requests_reminders')} "
            " WHERE status = 'pending' AND reminded_at IS NULL)"
        ).fetchone()
        return {
            "in_flight": _parse_stamp(row[0]),
            "check": _parse_time(row[1]),
            "hold": _parse_time(row[2]),
            "cardless": _parse_stamp(row[3]),
            "reminder": _parse_time(row[4]),  # when the hold lapses; remind that much earlier
        }

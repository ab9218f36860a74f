"""One person's work (holds, requests, what waits for them) and what the digest and Home count."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from storage.rows import (
    FINAL_STATUSES,
    IN_FLIGHT_STATUSES,
    OPEN_STATUSES,
    Request,
    Rows,
    _from_row,
    _stamp,
    _to_row,
)


class PeopleReads(Rows):
    def open_of(self, requester: str, now: datetime) -> list[Request]:
        """`requester`'s holds and requests waiting for approval, whose hold (if any) has not
        lapsed at `now`; soonest to lapse first (served by requests_open_by_requester)."""
        rows = self.db.query(
            "SELECT * FROM requests WHERE requester = ? AND status IN ('held', 'pending') "
            "AND (hold_expires_at IS NULL OR hold_expires_at > ?) "
            "ORDER BY hold_expires_at IS NULL, hold_expires_at, created_at",
            [requester, _to_row({"hold_expires_at": now})["hold_expires_at"]],
        )
        return [_from_row(r) for r in rows]

    def open_hold(self, requester: str, e164: str, now: datetime) -> Request | None:
        """`requester`'s live hold on `e164` (held, or pending approval), if there is one."""
        rows = self._select(
            "requester = ? AND e164 = ? AND kind = 'purchase' "
            "AND status IN ('held', 'pending') AND hold_expires_at > ? "
            "ORDER BY created_at DESC",
            [requester, e164, _to_row({"hold_expires_at": now})["hold_expires_at"]],
            1,
        )
        return rows[0] if rows else None

    def count_checking(self) -> int:
        """Requests whose outcome numbot is still checking with Flowyte."""
        row = self.db.execute("SELECT count(*) FROM requests WHERE status = 'checking'").fetchone()
        return int(row[0])

    def open_for_number(self, e164: str, kind: str) -> list[Request]:
        """Requests of `kind` for this number that have not reached a final status, oldest
        first (served by requests_by_number: a number has few requests, however many are
        open)."""
        statuses = (*OPEN_STATUSES, *IN_FLIGHT_STATUSES)
        marks = ", ".join("?" for _ in statuses)
        by_number = self._requests_through("requests_by_number")
        rows = self.db.query(
            f"SELECT * FROM {by_number} WHERE e164 = ? AND kind = ? "  # noqa: S608 - fixed
            f"AND status IN ({marks}) ORDER BY created_at",
            [e164, kind, *statuses],
        )
        return [_from_row(r) for r in rows]

    # -- one person's App Home (served by requests_requester_status, requests_requester and
    #    requests_status_changed) ----------------------------------------------------------

    def holds_of(self, user: str, now: datetime, limit: int) -> tuple[list[Request], int]:
        """`user`'s live holds (not yet requested, not lapsed), soonest to lapse first."""
        return self._counted(
            "requester = ? AND status = 'held' "
            "AND (hold_expires_at IS NULL OR hold_expires_at > ?) "
            "ORDER BY hold_expires_at, created_at",
            [user, _to_row({"hold_expires_at": now})["hold_expires_at"]],
            limit,
        )

    def requests_of(self, user: str, *, open_limit: int, settled_limit: int) -> list[Request]:
        """`user`'s requests still under way (newest first), then the last few settled."""
        under_way = ("pending", *IN_FLIGHT_STATUSES)
        marks = ", ".join("?" for _ in under_way)
        finals = ", ".join("?" for _ in FINAL_STATUSES)
        # Not counted: a count reads every request the person ever made (each lapsed hold
        # is one), where the first rows need only the newest.
        open_rows = self._select(
            f"requester = ? AND status IN ({marks}) ORDER BY created_at DESC",
            [user, *under_way],
            open_limit,
        )
        settled = self._select(
            f"requester = ? AND status IN ({finals}) ORDER BY updated_at DESC",
            [user, *FINAL_STATUSES],
            settled_limit,
        )
        return open_rows + settled

    def waiting_for(self, approver: str, limit: int) -> tuple[list[Request], int]:
        """Pending requests `approver` may decide (never their own), those they have not yet
        approved first (a cap cuts the ones that wait on others): within each, those whose
        hold lapses soonest first, then releases (no hold), oldest first."""
        return self._counted(
            "status = 'pending' AND requester != ? "
            "ORDER BY EXISTS (SELECT 1 FROM approvals WHERE approvals.request_id = requests.id "
            "AND approvals.approver = ?), hold_expires_at IS NULL, hold_expires_at, created_at",
            [approver, approver],
            limit,
        )

    def spent_between(self, start: datetime, end: datetime) -> tuple[Decimal, int]:
        """What purchases that completed in [start, end) cost (setup and first month), and
        how many there were. Summed as Decimal here: SQLite's sum() would use floats."""
        rows = self.db.execute(
            "SELECT setup_cost, monthly_cost FROM requests "
            "WHERE status = 'purchased' AND updated_at >= ? AND updated_at < ?",
            [_stamp(start), _stamp(end)],
        ).fetchall()
        total = Decimal(0)
        for setup, monthly in rows:
            total += Decimal(setup or 0) + Decimal(monthly or 0)
        return total, len(rows)

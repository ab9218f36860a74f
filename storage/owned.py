"""The index of the organization's owned numbers, and the state of its last refresh.

Flowyte lists owned numbers only page by page (100 at a time) and cannot look one up by
+E.164, so at tens of thousands of numbers nothing a person waits for can walk that list.
This table is numbot's index of it: e164 -> Flowyte id, agent, monthly cost, status, and when
it was last seen. It is a cache, never proof (a decision about money still asks Flowyte):

    put(rows, seen_at)        upsert what a page of Flowyte's list, or numbot's own call, showed
    remove(e164)              numbot released it, or Flowyte says it is not ours
    find(e164) / page(...)    read it; `count()`, `unrouted()` for the summaries
    refresh_started(now)      a walk of Flowyte's whole list begins (`seen` counts its rows)
    refresh_seen(count)       how far it has got
    refresh_finished(now, started, complete)
                              it ended; only a complete walk (its last page said it was the
                              last) removes the rows it did not see (seen before it started)
    refresh_state()           the above, for "as of" and "still reading"

Times are UTC text with microseconds, so text order is time order on both engines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from storage.db import write_transaction
from storage.engine import Database


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class OwnedRow:
    e164: str
    number_id: str
    agent_id: str | None = None
    monthly_cost: Decimal | None = None
    status: str | None = None
    seen_at: datetime | None = None


@dataclass(frozen=True)
class RefreshState:
    """The last walk of Flowyte's list: `started_at` / `finished_at` (None while it runs or
    before the first), whether it was `complete`, the rows it has `seen`; and the last
    complete one's end (`complete_at`, the index's "as of") and count."""

    started_at: datetime | None
    finished_at: datetime | None
    complete: bool
    seen: int
    complete_at: datetime | None
    complete_count: int | None

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.finished_at is None


_COLUMNS = "e164, number_id, agent_id, monthly_cost, status, seen_at"


def _row(values: tuple[object, ...]) -> OwnedRow:
    e164, number_id, agent_id, cost, status, seen_at = values
    return OwnedRow(
        e164=str(e164),
        number_id=str(number_id),
        agent_id=None if agent_id is None else str(agent_id),
        monthly_cost=None if cost is None else Decimal(str(cost)),
        status=None if status is None else str(status),
        seen_at=_parse(None if seen_at is None else str(seen_at)),
    )


class OwnedIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writes ---------------------------------------------------------------------------

    def put(self, rows: Iterable[OwnedRow], seen_at: datetime) -> int:
        """Upsert `rows` as seen at `seen_at`, in one transaction; how many."""
        params = [
            (
                r.e164,
                r.number_id,
                r.agent_id,
                None if r.monthly_cost is None else str(r.monthly_cost),
                r.status,
                _time(seen_at),
            )
            for r in rows
        ]
        if not params:
            return 0
        with write_transaction(self.db) as tx:
            for values in params:
                tx.execute(
                    f"INSERT INTO owned_numbers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "  # noqa: S608
                    "ON CONFLICT (e164) DO UPDATE SET number_id = excluded.number_id, "
                    "agent_id = excluded.agent_id, monthly_cost = excluded.monthly_cost, "
                    "status = excluded.status, seen_at = excluded.seen_at",
                    values,
                )
        return len(params)

    def remove(self, e164: str) -> bool:
        with write_transaction(self.db) as tx:
            return tx.execute("DELETE FROM owned_numbers WHERE e164 = ?", (e164,)).rowcount == 1

    def refresh_started(self, now: datetime) -> None:
        with write_transaction(self.db) as tx:
            tx.execute(
                "UPDATE owned_refresh SET started_at = ?, finished_at = NULL, complete = 0, "
                "seen = 0 WHERE id = 1",
                (_time(now),),
            )

    def refresh_seen(self, seen: int) -> None:
        with write_transaction(self.db) as tx:
            tx.execute("UPDATE owned_refresh SET seen = ? WHERE id = 1", (seen,))

    def refresh_finished(self, now: datetime, started: datetime, *, complete: bool) -> int:
        """End the walk that began at `started`. A complete one removes every row last seen
        before it began (Flowyte no longer lists them) and records the count; an incomplete
        one removes nothing. Returns how many rows were removed."""
        with write_transaction(self.db) as tx:
            removed = 0
            if complete:
                removed = tx.execute(
                    "DELETE FROM owned_numbers WHERE seen_at < ?", (_time(started),)
                ).rowcount
                count = tx.execute("SELECT count(*) FROM owned_numbers").fetchone()[0]
                tx.execute(
                    "UPDATE owned_refresh SET finished_at = ?, complete = 1, complete_at = ?, "
                    "complete_count = ? WHERE id = 1",
                    (_time(now), _time(now), int(count)),
                )
            else:
                tx.execute(
                    "UPDATE owned_refresh SET finished_at = ?, complete = 0 WHERE id = 1",
                    (_time(now),),
                )
            return int(removed)

    # -- reads ----------------------------------------------------------------------------

    def find(self, e164: str) -> OwnedRow | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM owned_numbers WHERE e164 = ?",  # noqa: S608
            (e164,),
        ).fetchone()
        return _row(tuple(row)) if row else None

    def page(self, offset: int, limit: int) -> list[OwnedRow]:
        """Rows `offset` .. `offset + limit` in +E.164 order."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM owned_numbers ORDER BY e164 LIMIT ? OFFSET ?",  # noqa: S608
            (max(0, limit), max(0, offset)),
        ).fetchall()
        return [_row(tuple(r)) for r in rows]

    def unrouted(self, limit: int) -> list[OwnedRow]:
        """The first `limit` numbers that ring no agent, in +E.164 order."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM owned_numbers WHERE agent_id IS NULL "  # noqa: S608
            "ORDER BY e164 LIMIT ?",
            (max(0, limit),),
        ).fetchall()
        return [_row(tuple(r)) for r in rows]

    def counts(self) -> tuple[int, int]:
        """(numbers in the index, of which ringing no agent)."""
        row = self.db.execute(
            "SELECT count(*), count(*) - count(agent_id) FROM owned_numbers"
        ).fetchone()
        return int(row[0]), int(row[1])

    def refresh_state(self) -> RefreshState:
        row = self.db.execute(
            "SELECT started_at, finished_at, complete, seen, complete_at, complete_count "
            "FROM owned_refresh WHERE id = 1"
        ).fetchone()
        started, finished, complete, seen, complete_at, complete_count = tuple(row)
        return RefreshState(
            started_at=_parse(started),
            finished_at=_parse(finished),
            complete=bool(complete),
            seen=int(seen),
            complete_at=_parse(complete_at),
            complete_count=None if complete_count is None else int(complete_count),
        )

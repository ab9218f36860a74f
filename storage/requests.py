"""Purchase and release requests, and their state machine, in SQLite.

A request's status only moves by compare-and-set inside one write transaction, together
with the audit entry that records the move. Whoever loses the race (a second click, a
second process, a Slack retry) sees `None` and changes nothing.

    purchase:  held -> pending -> approved -> purchasing -> purchased | failed | checking
               checking -> purchased | failed
               held | pending -> rejected | cancelled | expired
               approved | purchasing -> pending      (nothing happened: try again)
    release:   pending -> approved -> releasing -> released | failed | checking
               checking -> released | failed
               pending -> rejected | cancelled

Each move writes a sealed audit entry carrying the new state (`state`), so the workflow
can check a request's state against the log before anything spends.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlite_utils

from storage.audit import AuditLog, Outcome, storable
from storage.db import write_transaction

OPEN_STATUSES = ("held", "pending")
IN_FLIGHT_STATUSES = ("approved", "purchasing", "releasing", "checking")
FINAL_STATUSES = ("purchased", "released", "failed", "rejected", "expired", "cancelled")


@dataclass(frozen=True)
class Request:
    id: str
    kind: str
    status: str
    e164: str
    requester: str
    created_at: str
    updated_at: str
    number_id: str | None = None
    reservation_id: str | None = None
    setup_cost: Decimal | None = None
    monthly_cost: Decimal | None = None
    reason: str = ""
    decided_by: str | None = None
    card_channel: str | None = None
    card_ts: str | None = None
    hold_expires_at: datetime | None = None
    detail: str = ""
    card_drawn: str | None = None  # the status the card last showed (None: never drawn)
    next_check_at: datetime | None = None  # `checking`: when to ask Flowyte again
    check_attempts: int = 0
    last_sent_at: datetime | None = None  # when numbot last sent a call that can spend
    reminded_at: datetime | None = None  # when approvers were reminded that the hold lapses

    @property
    def total_cost(self) -> Decimal | None:
        if self.setup_cost is None or self.monthly_cost is None:
            return None
        return self.setup_cost + self.monthly_cost

    @property
    def last_change(self) -> datetime:
        return datetime.strptime(self.updated_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def hold_expired(self, now: datetime) -> bool:
        return self.hold_expires_at is not None and now >= self.hold_expires_at

    @property
    def idempotency_key(self) -> str:
        """Stable per request, so a resent purchase replays instead of buying again."""
        return f"numbot-{self.kind}-{self.id}"


_COLUMNS = tuple(f.name for f in fields(Request))


def _to_row(values: dict[str, Any]) -> dict[str, Any]:
    """Column values as SQLite stores them; only the dataclass's fields are columns."""
    unknown = set(values) - set(_COLUMNS)
    if unknown:
        raise ValueError(f"not request columns: {sorted(unknown)}")
    row = {}
    for key, value in values.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, str):
            value = storable(value)
        elif isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        row[key] = value
    return row


def _from_row(row: dict[str, Any]) -> Request:
    values = dict(row)
    for key in ("setup_cost", "monthly_cost"):
        if values.get(key) is not None:
            values[key] = Decimal(values[key])
    for key in ("hold_expires_at", "next_check_at", "last_sent_at", "reminded_at"):
        if values.get(key):
            values[key] = datetime.strptime(values[key], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return Request(**{k: values[k] for k in _COLUMNS})


def _stamp(moment: datetime) -> str:
    """`updated_at`'s format (storage.audit.utc_now), for comparisons in SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_stamp(value: str | None) -> datetime | None:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) if value else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if value else None


def new_request_id() -> str:
    return "req_" + secrets.token_hex(6)


@dataclass(frozen=True)
class Copy:
    """A copy of a request's card in someone's DM (an approver's), and what it last showed."""

    request_id: str
    recipient: str
    channel: str
    ts: str
    drawn: str | None


@dataclass(frozen=True)
class AuditNote:
    """The audit entry that goes with a change, written in the same transaction."""

    actor: str
    action: str
    outcome: Outcome = "ok"
    detail: str = ""


def _real_now() -> datetime:
    return datetime.now(UTC)


class RequestStore:
    def __init__(
        self,
        db: sqlite_utils.Database,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime] = _real_now,
    ) -> None:
        """`clock` stamps `created_at`/`updated_at`; the workflow measures quiet windows
        with the same clock (tests move it instead of sleeping)."""
        self.db = db
        self.audit = audit
        self.clock = clock

    def create(self, note: AuditNote, **values: Any) -> Request:
        now = _stamp(self.clock())
        values = {"id": new_request_id(), "created_at": now, "updated_at": now, **values}
        row = _to_row(values)
        with write_transaction(self.db) as conn:
            cols = ", ".join(row)
            conn.execute(
                f"INSERT INTO requests ({cols}) VALUES ({', '.join('?' for _ in row)})",  # noqa: S608
                tuple(row.values()),
            )
            self.audit.append_in(
                conn,
                actor=note.actor,
                action=note.action,
                subject=row["id"],
                outcome=note.outcome,
                detail=note.detail,
                state=row["status"],
            )
        return self.get(values["id"])  # type: ignore[return-value]

    def get(self, request_id: str) -> Request | None:
        rows = list(self.db.query("SELECT * FROM requests WHERE id = ?", [request_id]))
        return _from_row(rows[0]) if rows else None

    def transition(
        self,
        request_id: str,
        *,
        from_statuses: tuple[str, ...],
        to_status: str,
        note: AuditNote,
        **changes: Any,
    ) -> Request | None:
        """Move the request to `to_status` if it is in one of `from_statuses`.

        Returns the updated request, or None when it was not in those states (someone else
        got there first); then nothing is written, and the caller audits the refusal.
        """
        row = _to_row({**changes, "status": to_status, "updated_at": _stamp(self.clock())})
        assignments = ", ".join(f"{col} = ?" for col in row)
        marks = ", ".join("?" for _ in from_statuses)
        with write_transaction(self.db) as conn:
            cursor = conn.execute(
                f"UPDATE requests SET {assignments} WHERE id = ? AND status IN ({marks})",  # noqa: S608
                (*row.values(), request_id, *from_statuses),
            )
            if cursor.rowcount != 1:
                return None
            self.audit.append_in(
                conn,
                actor=note.actor,
                action=note.action,
                subject=request_id,
                outcome=note.outcome,
                detail=note.detail,
                state=to_status,
            )
        return self.get(request_id)

    def set_fields(self, request_id: str, **changes: Any) -> None:
        """Change bookkeeping fields (where the card is, what it shows, when to check again)
        without touching the status or `updated_at`, which is when the status last moved."""
        if "status" in changes or "updated_at" in changes:
            raise ValueError("the status only moves by transition()")
        row = _to_row(changes)
        assignments = ", ".join(f"{col} = ?" for col in row)
        with write_transaction(self.db) as conn:
            sql = f"UPDATE requests SET {assignments} WHERE id = ?"  # noqa: S608 - names checked by _to_row
            conn.execute(sql, (*row.values(), request_id))

    def with_status(self, *statuses: str) -> list[Request]:
        marks = ", ".join("?" for _ in statuses)
        rows = self.db.query(
            f"SELECT * FROM requests WHERE status IN ({marks}) ORDER BY created_at",  # noqa: S608
            list(statuses),
        )
        return [_from_row(r) for r in rows]

    # -- what the sweep finds by due time (each query is served by an index) -----------------

    def _select(self, where: str, params: list[Any], limit: int) -> list[Request]:
        sql = f"SELECT * FROM requests WHERE {where} LIMIT ?"  # noqa: S608 - fixed clauses
        return [_from_row(r) for r in self.db.query(sql, [*params, limit])]

    def quiet_in_flight(self, changed_before: datetime, limit: int = 100) -> list[Request]:
        """Approved, purchasing or releasing, and unchanged since `changed_before`."""
        return self._select(
            "status IN ('approved', 'purchasing', 'releasing') AND updated_at <= ? "
            "ORDER BY updated_at",
            [_stamp(changed_before)],
            limit,
        )

    def checks_due(self, now: datetime, limit: int = 100) -> list[Request]:
        """`checking` requests whose next look at Flowyte is due."""
        return self._select(
            "status = 'checking' AND (next_check_at IS NULL OR next_check_at <= ?) "
            "ORDER BY next_check_at",
            [_to_row({"next_check_at": now})["next_check_at"]],
            limit,
        )

    def lapsed_holds(self, now: datetime, limit: int = 100) -> list[Request]:
        return self._select(
            "status IN ('held', 'pending') AND hold_expires_at <= ? ORDER BY hold_expires_at",
            [_to_row({"hold_expires_at": now})["hold_expires_at"]],
            limit,
        )

    def cardless(self, changed_before: datetime, limit: int = 100) -> list[Request]:
        """Pending requests whose card was never posted (Slack was down, or a crash)."""
        return self._select(
            "status = 'pending' AND card_ts IS NULL AND updated_at <= ? ORDER BY updated_at",
            [_stamp(changed_before)],
            limit,
        )

    def stale_cards(self, changed_before: datetime, limit: int = 100) -> list[Request]:
        """Requests whose card does not show their current status (an update failed)."""
        return self._select(
            "card_ts IS NOT NULL AND (card_drawn IS NULL OR card_drawn != status) "
            "AND updated_at <= ? ORDER BY updated_at",
            [_stamp(changed_before)],
            limit,
        )

    # -- copies of the card, and reminders ---------------------------------------------------

    def add_copy(self, request_id: str, recipient: str, channel: str, ts: str, drawn: str) -> None:
        with write_transaction(self.db) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO request_messages (request_id, recipient, channel, ts, drawn) "
                "VALUES (?, ?, ?, ?, ?)",
                (request_id, recipient, channel, ts, drawn),
            )

    def copies(self, request_id: str) -> list[Copy]:
        rows = self.db.conn.execute(
            "SELECT request_id, recipient, channel, ts, drawn FROM request_messages "
            "WHERE request_id = ? ORDER BY recipient, ts",
            (request_id,),
        )
        return [Copy(*row) for row in rows]

    def copy_drawn(self, copy: Copy, drawn: str) -> None:
        with write_transaction(self.db) as conn:
            conn.execute(
                "UPDATE request_messages SET drawn = ? "
                "WHERE request_id = ? AND channel = ? AND ts = ?",
                (drawn, copy.request_id, copy.channel, copy.ts),
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
                "WHERE id = ? AND status = 'checking' AND next_check_at IS ?",
                (
                    row["next_check_at"],
                    request_id,
                    _to_row({"next_check_at": due})["next_check_at"],
                ),
            )
            return cursor.rowcount == 1

    def next_due(self) -> dict[str, datetime | None]:
        """The earliest moment each kind of sweep work falls due (before its quiet window)."""
        row = self.db.execute(
            "SELECT "
            "(SELECT min(updated_at) FROM requests "
            " WHERE status IN ('approved', 'purchasing', 'releasing')), "
            "(SELECT min(next_check_at) FROM requests WHERE status = 'checking'), "
            "(SELECT min(hold_expires_at) FROM requests WHERE status IN ('held', 'pending')), "
            "(SELECT min(updated_at) FROM requests WHERE status = 'pending' AND card_ts IS NULL), "
            "(SELECT min(hold_expires_at) FROM requests "
            " WHERE status = 'pending' AND reminded_at IS NULL)"
        ).fetchone()
        return {
            "in_flight": _parse_stamp(row[0]),
            "check": _parse_time(row[1]),
            "hold": _parse_time(row[2]),
            "cardless": _parse_stamp(row[3]),
            "reminder": _parse_time(row[4]),  # when the hold lapses; remind that much earlier
        }

    # -- a person's own work, and what the digest counts --------------------------------------

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
        """Requests for this number that have not reached a final status."""
        return [
            r
            for r in self.with_status(*OPEN_STATUSES, *IN_FLIGHT_STATUSES)
            if r.e164 == e164 and r.kind == kind
        ]

    # -- one person's App Home (served by requests_requester, requests_status and
    #    requests_status_changed) ----------------------------------------------------------

    def _counted(self, where: str, params: list[Any], limit: int) -> tuple[list[Request], int]:
        """The first `limit` rows and how many match in all, in one query."""
        sql = f"SELECT *, count(*) OVER () AS matched FROM requests WHERE {where} LIMIT ?"  # noqa: S608 - fixed clauses
        rows = list(self.db.query(sql, [*params, limit]))
        return [_from_row(r) for r in rows], (int(rows[0]["matched"]) if rows else 0)

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
        open_rows, _ = self._counted(
            f"requester = ? AND status IN ({marks}) ORDER BY created_at DESC",
            [user, *under_way],
            open_limit,
        )
        settled, _ = self._counted(
            f"requester = ? AND status IN ({finals}) ORDER BY updated_at DESC",
            [user, *FINAL_STATUSES],
            settled_limit,
        )
        return open_rows + settled

    def waiting_for(self, approver: str, limit: int) -> tuple[list[Request], int]:
        """Pending requests `approver` may decide (never their own): those whose hold lapses
        soonest first, then releases (no hold), oldest first."""
        return self._counted(
            "status = 'pending' AND requester != ? "
            "ORDER BY hold_expires_at IS NULL, hold_expires_at, created_at",
            [approver],
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

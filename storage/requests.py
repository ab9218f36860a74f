"""Purchase and release requests, and their state machine, in SQLite.

A request's status only moves by compare-and-set inside one write transaction, together
with the audit entry that records the move. Whoever loses the race (a second click, a
second process, a Slack retry) sees `None` and changes nothing.

    purchase:  held -> pending -> approved -> purchasing -> purchased | failed
               held | pending -> rejected | cancelled | expired
    release:   pending -> approved -> releasing -> released | failed
               pending -> rejected | cancelled
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlite_utils

from storage.audit import Outcome, append_in, utc_now
from storage.db import write_transaction

OPEN_STATUSES = ("held", "pending")
IN_FLIGHT_STATUSES = ("approved", "purchasing", "releasing")
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
        elif isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        row[key] = value
    return row


def _from_row(row: dict[str, Any]) -> Request:
    values = dict(row)
    for key in ("setup_cost", "monthly_cost"):
        if values.get(key) is not None:
            values[key] = Decimal(values[key])
    if values.get("hold_expires_at"):
        values["hold_expires_at"] = datetime.strptime(
            values["hold_expires_at"], "%Y-%m-%dT%H:%M:%SZ"
        ).replace(tzinfo=UTC)
    return Request(**{k: values[k] for k in _COLUMNS})


def new_request_id() -> str:
    return "req_" + secrets.token_hex(6)


@dataclass(frozen=True)
class AuditNote:
    """The audit entry that goes with a change, written in the same transaction."""

    actor: str
    action: str
    outcome: Outcome = "ok"
    detail: str = ""


class RequestStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def create(self, note: AuditNote, **values: Any) -> Request:
        now = utc_now()
        values = {"id": new_request_id(), "created_at": now, "updated_at": now, **values}
        row = _to_row(values)
        with write_transaction(self.db) as conn:
            cols = ", ".join(row)
            conn.execute(
                f"INSERT INTO requests ({cols}) VALUES ({', '.join('?' for _ in row)})",  # noqa: S608
                tuple(row.values()),
            )
            append_in(
                conn,
                actor=note.actor,
                action=note.action,
                subject=row["id"],
                outcome=note.outcome,
                detail=note.detail,
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
        row = _to_row({**changes, "status": to_status, "updated_at": utc_now()})
        assignments = ", ".join(f"{col} = ?" for col in row)
        marks = ", ".join("?" for _ in from_statuses)
        with write_transaction(self.db) as conn:
            cursor = conn.execute(
                f"UPDATE requests SET {assignments} WHERE id = ? AND status IN ({marks})",  # noqa: S608
                (*row.values(), request_id, *from_statuses),
            )
            if cursor.rowcount != 1:
                return None
            append_in(
                conn,
                actor=note.actor,
                action=note.action,
                subject=request_id,
                outcome=note.outcome,
                detail=note.detail,
            )
        return self.get(request_id)

    def set_fields(self, request_id: str, **changes: Any) -> None:
        """Change bookkeeping fields (the card's location) without touching the status."""
        row = _to_row({**changes, "updated_at": utc_now()})
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

    def open_for_number(self, e164: str, kind: str) -> list[Request]:
        """Requests for this number that have not reached a final status."""
        return [
            r
            for r in self.with_status(*OPEN_STATUSES, *IN_FLIGHT_STATUSES)
            if r.e164 == e164 and r.kind == kind
        ]

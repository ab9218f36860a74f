"""Purchase and release requests, and their state machine, in the database (either engine).

A request's status only moves by compare-and-set inside one write transaction, together
with the audit entry that records the move. Whoever loses the race (a second click, a
second process, a Slack retry) sees `None` and changes nothing. Each move writes a sealed
audit entry carrying the new state (`state`), so the workflow can check a request's state
against the log before anything spends. The state machine is drawn in storage/rows.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from storage.approvals import Approvals
from storage.copies import Copies
from storage.db import write_transaction
from storage.due import DueWork
from storage.engine import Database
from storage.people import PeopleReads
from storage.rows import (
    FINAL_STATUSES,
    IN_FLIGHT_STATUSES,
    OPEN_STATUSES,
    AuditNote,
    Copy,
    Request,
    _from_row,
    _stamp,
    _to_row,
    new_request_id,
)

__all__ = [
    "FINAL_STATUSES",
    "IN_FLIGHT_STATUSES",
    "OPEN_STATUSES",
    "AuditNote",
    "Copy",
    "Request",
    "RequestStore",
]


class RequestStore(DueWork, Copies, PeopleReads, Approvals):
    """Requests in the database: created and moved here (each move with its sealed audit entry in
    the same transaction); the reads live with the parts that need them."""

    def create(self, note: AuditNote, **values: Any) -> Request:
        with write_transaction(self.db) as conn:
            request_id = self._insert(conn, note, values)
        return self.get(request_id)  # type: ignore[return-value]

    def create_hold(
        self, note: AuditNote, *, max_open: int | None, now: datetime, **values: Any
    ) -> Request | list[str]:
        """Create a held purchase unless its requester already holds `max_open` numbers
        (None: no limit). The count and the write are one write transaction, so reserves at
        once, in however many processes, never leave more holds than the limit. Refused:
        the numbers the requester holds already (nothing is written)."""
        with write_transaction(self.db) as conn:
            if max_open is not None:
                held = [
                    str(e164)
                    for (e164,) in conn.execute(
                        "SELECT e164 FROM requests WHERE requester = ? AND status = 'held' "
                        "AND (hold_expires_at IS NULL OR hold_expires_at > ?) ORDER BY created_at",
                        (values["requester"], _to_row({"hold_expires_at": now})["hold_expires_at"]),
                    )
                ]
                if len(held) >= max_open:
                    return held
            request_id = self._insert(conn, note, values)
        return self.get(request_id)  # type: ignore[return-value]

    def _insert(self, conn: Database, note: AuditNote, values: dict[str, Any]) -> str:
        now = _stamp(self.clock())
        row = _to_row({"id": new_request_id(), "created_at": now, "updated_at": now, **values})
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
        return str(row["id"])

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
        clear_approvals: bool = False,
        **changes: Any,
    ) -> Request | None:
        """Move the request to `to_status` if it is in one of `from_statuses`.

        Returns the updated request, or None when it was not in those states (someone else
        got there first); then nothing is written, and the caller audits the refusal.
        """
        with write_transaction(self.db) as conn:
            return self._move(
                conn, request_id, from_statuses, to_status, note, clear_approvals, changes
            )

    def file_purchase(
        self,
        request_id: str,
        *,
        note: AuditNote,
        month_start: datetime,
        refusal: Callable[[Decimal, Decimal, Decimal], tuple[str, str] | None],
        **changes: Any,
    ) -> Request | tuple[str, str] | None:
        """Put a held purchase up for approval (`held -> pending`) unless `refusal`, asked
        with this month's (charged, being bought, waiting for approval), says why not. The
        figures are read and the move written in one write transaction, so purchases filed at
        once, in however many processes, are counted one after the other against the budget.
        None when the request was not held (someone else moved it first)."""
        with write_transaction(self.db) as conn:
            refused = refusal(*self.month_spend(month_start))
            if refused is not None:
                return refused
            return self._move(conn, request_id, ("held",), "pending", note, False, changes)

    def _move(
        self,
        conn: Database,
        request_id: str,
        from_statuses: tuple[str, ...],
        to_status: str,
        note: AuditNote,
        clear_approvals: bool,
        changes: dict[str, Any],
    ) -> Request | None:
        row = _to_row({**changes, "status": to_status, "updated_at": _stamp(self.clock())})
        assignments = ", ".join(f"{col} = ?" for col in row)
        marks = ", ".join("?" for _ in from_statuses)
        moved = list(
            conn.query(
                f"UPDATE requests SET {assignments} "  # noqa: S608
                f"WHERE id = ? AND status IN ({marks}) RETURNING *",
                (*row.values(), request_id, *from_statuses),
            )
        )
        if len(moved) != 1:
            return None
        request = _from_row(moved[0])
        if clear_approvals:  # back to waiting: a new round of approvals
            conn.execute("DELETE FROM approvals WHERE request_id = ?", (request_id,))
            conn.execute("UPDATE requests SET approved_by = '' WHERE id = ?", (request_id,))
            request = replace(request, approved_by="")
        self.audit.append_in(
            conn,
            actor=note.actor,
            action=note.action,
            subject=request_id,
            outcome=note.outcome,
            detail=note.detail,
            state=to_status,
        )
        return request

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

"""Approvals counted toward a quorum, and this month's money: each approval lands in one
transaction that checks the request still waits, counts the distinct approvers, checks the
budget when it is the last one needed, and moves the request to `approved` only then.

Whoever clicks twice, in however many processes, counts once (a primary key); two last
approvals racing for the same budget take the write lock one after the other, and the second
sees the first's purchase as being bought.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from storage.db import write_transaction
from storage.rows import Request, Rows, _from_row, _stamp

ApprovalOutcome = Literal["not_pending", "duplicate", "counted", "approved", "over_budget"]


@dataclass(frozen=True)
class Approval:
    outcome: ApprovalOutcome
    request: Request | None  # as it stands after this click
    count: int = 0  # distinct approvals so far
    needed: int = 1
    refusal: str = ""  # why the budget refused the last approval


def _total(setup: str | None, monthly: str | None) -> Decimal:
    return Decimal(setup or 0) + Decimal(monthly or 0)


class Approvals(Rows):
    def approve(
        self,
        request_id: str,
        approver: str,
        *,
        detail: Callable[[Request, int, int], str],
        month_start: datetime,
        needed: int,
        revoked: frozenset[str] = frozenset(),
        budget: Callable[[Request, Decimal], str | None] | None = None,
    ) -> Approval:
        """Count `approver`'s approval of a pending request; approve it at the last one needed.

        `needed`: the distinct approvals it needs now (the strictest of what it was filed
        needing and what the policy in force asks); approvals by people in `revoked`, who
        may no longer approve, are not counted. `detail(request, count, needed)` is the sealed
        audit entry's detail for this approval; `budget(request, committed)` is asked only
        for the last one, with what this month has charged or is buying, and refuses with a
        sentence (then nothing is written).
        """
        with write_transaction(self.db) as conn:
            row = self._row(request_id)
            if row is None or row.status != "pending":
                return Approval("not_pending", row)
            inserted = conn.execute(
                "INSERT INTO approvals (request_id, approver, at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (request_id, approver, _stamp(self.clock())),
            ).rowcount
            approvers = [
                a
                for (a,) in conn.execute(
                    "SELECT approver FROM approvals WHERE request_id = ? ORDER BY at, approver",
                    (request_id,),
                )
            ]
            count = len([a for a in approvers if a not in revoked])
            if not inserted:
                return Approval("duplicate", row, count, needed)
            if count < needed:
                conn.execute(
                    "UPDATE requests SET approved_by = ? WHERE id = ?",
                    (",".join(approvers), request_id),
                )
                self.audit.append_in(
                    conn,
                    actor=approver,
                    action="approve",
                    subject=request_id,
                    outcome="ok",
                    detail=detail(row, count, needed),
                )
                return Approval("counted", self._row(request_id), count, needed)
            if budget is not None:
                refusal = budget(row, self._committed(month_start, request_id))
                if refusal:
                    conn.execute(
                        "DELETE FROM approvals WHERE request_id = ? AND approver = ?",
                        (request_id, approver),
                    )
                    return Approval("over_budget", row, count - 1, needed, refusal)
            conn.execute(
                "UPDATE requests SET status = 'approved', decided_by = ?, approved_by = ?, "
                "detail = '', updated_at = ? WHERE id = ? AND status = 'pending'",
                (approver, ",".join(approvers), _stamp(self.clock()), request_id),
            )
            self.audit.append_in(
                conn,
                actor=approver,
                action="approve",
                subject=request_id,
                outcome="ok",
                detail=detail(row, count, needed),
                state="approved",
            )
            return Approval("approved", self._row(request_id), count, needed)

    def _row(self, request_id: str) -> Request | None:
        rows = list(self.db.query("SELECT * FROM requests WHERE id = ?", [request_id]))
        return _from_row(rows[0]) if rows else None

    def _committed(self, month_start: datetime, excluding: str) -> Decimal:
        """Charged this month (purchases done since `month_start`) and being bought now."""
        rows = self.db.execute(
            "SELECT setup_cost, monthly_cost FROM requests WHERE kind = 'purchase' AND id != ? "
            "AND ((status = 'purchased' AND updated_at >= ?) OR status IN "
            "('approved', 'purchasing', 'releasing', 'checking', 'unfunded'))",
            [excluding, _stamp(month_start)],
        ).fetchall()
        return sum((_total(s, m) for s, m in rows), Decimal(0))

    def month_spend(self, month_start: datetime) -> tuple[Decimal, Decimal, Decimal]:
        """(charged this month, being bought, waiting for approval), for purchases; an approved
        purchase waiting for a top-up (`unfunded`) counts as being bought."""
        rows = self.db.execute(
            "SELECT status, setup_cost, monthly_cost FROM requests WHERE kind = 'purchase' "
            "AND ((status = 'purchased' AND updated_at >= ?) OR status IN "
            "('pending', 'approved', 'purchasing', 'checking', 'unfunded'))",
            [_stamp(month_start)],
        ).fetchall()
        spent = in_flight = pending = Decimal(0)
        for status, setup, monthly in rows:
            if status == "purchased":
                spent += _total(setup, monthly)
            elif status == "pending":
                pending += _total(setup, monthly)
            else:
                in_flight += _total(setup, monthly)
        return spent, in_flight, pending

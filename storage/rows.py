"""A request as the database stores it: the record, its columns, and the base every query part shares.

purchase:  held -> pending -> approved -> purchasing -> purchased | failed | checking
           checking -> purchased | failed | unfunded
           purchasing -> unfunded -> purchasing   (402: the hold kept, tried again once topped up)
           held | pending | unfunded -> rejected | cancelled | expired
           approved | purchasing -> pending      (nothing happened: try again)
release:   pending -> approved -> releasing -> released | failed | checking
           checking -> released | failed
           pending -> rejected | cancelled
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from storage.audit import AuditLog, Outcome, storable
from storage.engine import Database

OPEN_STATUSES = ("held", "pending")
IN_FLIGHT_STATUSES = ("approved", "purchasing", "releasing", "checking")
# Approved, refused for want of balance (402): the hold and the approvals are kept until an
# approver tries again or the hold lapses. Neither waiting for approval nor being carried out.
UNFUNDED = "unfunded"
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
    approvals_needed: int = 1  # distinct approvals the policy asked for when requested
    approved_by: str = ""  # comma-separated approvers so far (storage/approvals.py)
    wallet_usd: Decimal | None = None  # the wallet's balance when the card was first drawn
    wallet_seen_at: datetime | None = None  # and when it was read

    @property
    def approvals(self) -> tuple[str, ...]:
        return tuple(a for a in self.approved_by.split(",") if a)

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
    """Column values as both engines store them (text, integers, NULL); only the dataclass's fields are columns."""
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
    for key in ("setup_cost", "monthly_cost", "wallet_usd"):
        if values.get(key) is not None:
            values[key] = Decimal(values[key])
    for key in (
        "hold_expires_at",
        "next_check_at",
        "last_sent_at",
        "reminded_at",
        "wallet_seen_at",
    ):
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


def real_now() -> datetime:
    return datetime.now(UTC)


class Rows:
    """What every part of the request store shares: the database, the audit log that records
    each move in the same transaction, and the clock that stamps `updated_at`."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime] = real_now,
    ) -> None:
        """`clock` stamps `created_at`/`updated_at`; the workflow measures quiet windows
        with the same clock (tests move it instead of sleeping)."""
        self.db = db
        self.audit = audit
        self.clock = clock

    def _requests_through(self, index: str) -> str:
        """The requests table, read through `index` on SQLite. Without statistics (nobody
        runs ANALYZE) SQLite's planner takes an equality on `status` as the most selective
        term and reads every request in that status, however selective the rest of the
        query is (storage/due.py). PostgreSQL keeps statistics and chooses well unaided."""
        return f"requests INDEXED BY {index}" if self.db.dialect == "sqlite" else "requests"

    def _select(
        self, where: str, params: list[Any], limit: int, *, table: str = "requests"
    ) -> list[Request]:
        sql = f"SELECT * FROM {table} WHERE {where} LIMIT ?"  # noqa: S608 - fixed clauses
        return [_from_row(r) for r in self.db.query(sql, [*params, limit])]

    def _counted(self, where: str, params: list[Any], limit: int) -> tuple[list[Request], int]:
        """The first `limit` rows and how many match in all, in one query."""
        sql = f"SELECT *, count(*) OVER () AS matched FROM requests WHERE {where} LIMIT ?"  # noqa: S608 - fixed clauses
        rows = list(self.db.query(sql, [*params, limit]))
        return [_from_row(r) for r in rows], (int(rows[0]["matched"]) if rows else 0)

    def with_status(self, *statuses: str) -> list[Request]:
        marks = ", ".join("?" for _ in statuses)
        rows = self.db.query(
            f"SELECT * FROM requests WHERE status IN ({marks}) ORDER BY created_at",  # noqa: S608
            list(statuses),
        )
        return [_from_row(r) for r in rows]

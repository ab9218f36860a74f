"""What the owned numbers keep costing, read from the owned-number index, and the little state
the low-wallet warning, the idle list and the spend report keep:

    price_counts()                    (monthly cost, how many numbers) over the whole index
    idle_price_counts(unpublished)    the same over the numbers that reach nobody: routed to
                                      no agent, or to one of the `unpublished` agents
    idle_page(unpublished, offset, limit), idle_count(unpublished)
    track_idle(unpublished, now)      remember since when each number reaches nobody (the
                                      first time ever: the baseline, never "new")
    idle_since(moment, limit)         the numbers that began to reach nobody at or after it
    claim_warning(day, now)           the low-wallet warning for `day`: True for one caller
    claim_clear(now)                  the wallet is no longer low: True for one caller
    give_back(claimed, before)        a claim whose message could not be posted, undone
    month_usage(month) / month_usages(months) / put_month_usage(...)
                                      Flowyte's number charges in a month, as last read
    wallet_seen() / put_wallet_seen(...)        the wallet as last read from Flowyte

Prices are summed in Python from a GROUP BY, never by the database: the index keeps each
monthly cost as text, and SQL's SUM would go through floating point. A price numbot cannot
read is counted apart (None), never as $0.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from storage.db import write_transaction
from storage.engine import Database
from storage.owned import OwnedRow

_COLUMNS = "e164, number_id, agent_id, monthly_cost, status, seen_at"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: object) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _price(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return None
    return price if price.is_finite() else None


def _idle_where(unpublished: Collection[str]) -> tuple[str, list[str]]:
    """The condition "reaches nobody" and its parameters."""
    agents = sorted(unpublished)
    if not agents:
        return "agent_id IS NULL", []
    marks = ", ".join("?" for _ in agents)
    return f"(agent_id IS NULL OR agent_id IN ({marks}))", agents


@dataclass(frozen=True)
class MonthUsage:
    month: str  # YYYY-MM
    number_credits: Decimal
    items: int  # usage items read, every channel
    read_at: datetime
    complete: bool  # read long enough after the month ended (a grace) that it will not change


@dataclass(frozen=True)
class AlertState:
    low: bool
    warned_on: str | None  # YYYY-MM-DD (UTC) of the last warning
    changed_at: datetime | None


@dataclass(frozen=True)
class WalletSeen:
    balance_usd: Decimal
    reload_enabled: bool | None
    reload_threshold: Decimal | None
    reload_amount: Decimal | None
    seen_at: datetime


class CostBook:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the bill, from the index ---------------------------------------------------------

    def price_counts(self) -> list[tuple[Decimal | None, int]]:
        return self._price_counts("1 = 1", [])

    def idle_price_counts(self, unpublished: Collection[str]) -> list[tuple[Decimal | None, int]]:
        return self._price_counts(*_idle_where(unpublished))

    def _price_counts(self, where: str, params: list[str]) -> list[tuple[Decimal | None, int]]:
        rows = self.db.execute(
            f"SELECT monthly_cost, count(*) FROM owned_numbers WHERE {where} "  # noqa: S608
            "GROUP BY monthly_cost",
            params,
        ).fetchall()
        counts: dict[Decimal | None, int] = {}
        for cost, count in rows:
            price = _price(cost)
            counts[price] = counts.get(price, 0) + int(count)
        return list(counts.items())

    # -- numbers that reach nobody --------------------------------------------------------

    def idle_count(self, unpublished: Collection[str]) -> int:
        where, params = _idle_where(unpublished)
        row = self.db.execute(
            f"SELECT count(*) FROM owned_numbers WHERE {where}",  # noqa: S608
            params,
        ).fetchone()
        return int(row[0])

    def idle_page(self, unpublished: Collection[str], offset: int, limit: int) -> list[OwnedRow]:
        """Numbers that reach nobody, `offset` .. `offset + limit`, in +E.164 order."""
        where, params = _idle_where(unpublished)
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM owned_numbers WHERE {where} "  # noqa: S608
            "ORDER BY e164 LIMIT ? OFFSET ?",
            [*params, max(0, limit), max(0, offset)],
        ).fetchall()
        return [_owned(tuple(r)) for r in rows]

    def track_idle(self, unpublished: Collection[str], now: datetime) -> None:
        """Remember since when each number reaches nobody; forget those that reach someone
        again (or are no longer owned). The first time ever is the baseline: the numbers
        found then were idle before numbot looked, and idle_since never calls them new."""
        where, params = _idle_where(unpublished)
        with write_transaction(self.db) as tx:
            tx.execute(
                "UPDATE runway_alert SET idle_baseline_at = ? "
                "WHERE id = 1 AND idle_baseline_at IS NULL",
                (_time(now),),
            )
            tx.execute(
                "INSERT INTO idle_numbers (e164, since) "  # noqa: S608
                f"SELECT e164, ? FROM owned_numbers WHERE {where} "
                "ON CONFLICT (e164) DO NOTHING",
                [_time(now), *params],
            )
            tx.execute(
                "DELETE FROM idle_numbers WHERE e164 NOT IN "  # noqa: S608
                f"(SELECT e164 FROM owned_numbers WHERE {where})",
                params,
            )

    def idle_since(
        self, start: datetime, end: datetime | None = None, limit: int = 10
    ) -> tuple[list[str], int]:
        """The first `limit` numbers (by +E.164) that began to reach nobody in [start, end)
        (no end: up to now) and still do, and how many there are. Those found by the first
        track_idle ever (the baseline) did not begin then, and are never among them."""
        where, params = "since >= ?", [_time(start)]
        if end is not None:
            where, params = "since >= ? AND since < ?", [_time(start), _time(end)]
        where += " AND since > (SELECT idle_baseline_at FROM runway_alert WHERE id = 1)"
        rows = self.db.execute(
            f"SELECT e164 FROM idle_numbers WHERE {where} ORDER BY e164 LIMIT ?",  # noqa: S608
            [*params, max(0, limit)],
        ).fetchall()
        count = self.db.execute(
            f"SELECT count(*) FROM idle_numbers WHERE {where}",  # noqa: S608
            params,
        ).fetchone()[0]
        return [str(r[0]) for r in rows], int(count)

    # -- the low-wallet warning -----------------------------------------------------------

    def alert_state(self) -> AlertState:
        low, warned_on, changed_at = self.db.execute(
            "SELECT low, warned_on, changed_at FROM runway_alert WHERE id = 1"
        ).fetchone()
        return AlertState(
            bool(low), None if warned_on is None else str(warned_on), _parse(changed_at)
        )

    def claim_warning(self, day: str, now: datetime) -> bool:
        """The warning of `day` (YYYY-MM-DD): True for exactly one caller a day, however
        many processes ask (a compare-and-set on the day last warned). At most one warning
        a day, even when the wallet was topped up and ran low again the same day."""
        with write_transaction(self.db) as tx:
            claimed = tx.execute(
                "UPDATE runway_alert SET low = 1, warned_on = ?, "
                "changed_at = CASE WHEN low = 1 THEN changed_at ELSE ? END "
                "WHERE id = 1 AND (warned_on IS NULL OR warned_on < ?)",
                (day, _time(now), day),
            ).rowcount
        return claimed == 1

    def give_back(self, claimed: str | None, before: AlertState) -> bool:
        """What a claim (claim_warning of day `claimed`, or claim_clear: None) could not post
        is given back: the state as it was `before` the claim, so a later look claims and
        posts it again. Only while nobody has claimed anything since."""
        # Still as the claim left it: low with `claimed` the day warned, or cleared.
        day = claimed if claimed is not None else before.warned_on
        same_day = "warned_on IS NULL" if day is None else "warned_on = ?"
        with write_transaction(self.db) as tx:
            given = tx.execute(
                "UPDATE runway_alert SET low = ?, warned_on = ?, changed_at = ? "  # noqa: S608
                f"WHERE id = 1 AND low = ? AND {same_day}",
                (
                    int(before.low),
                    before.warned_on,
                    None if before.changed_at is None else _time(before.changed_at),
                    int(claimed is not None),
                    *(() if day is None else (day,)),
                ),
            ).rowcount
        return given == 1

    def claim_clear(self, now: datetime) -> bool:
        """The wallet is no longer low: True for the one caller that says so."""
        with write_transaction(self.db) as tx:
            cleared = tx.execute(
                "UPDATE runway_alert SET low = 0, changed_at = ? WHERE id = 1 AND low = 1",
                (_time(now),),
            ).rowcount
        return cleared == 1

    # -- Flowyte's number charges, a month at a time -------------------------------------

    def month_usage(self, month: str) -> MonthUsage | None:
        return self.month_usages([month]).get(month)

    def month_usages(self, months: Collection[str]) -> dict[str, MonthUsage]:
        """The months of `months` that were read, by YYYY-MM."""
        wanted = sorted(set(months))
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        rows = self.db.execute(
            "SELECT month, number_credits, items, read_at, complete FROM usage_months "  # noqa: S608
            f"WHERE month IN ({marks})",
            wanted,
        ).fetchall()
        kept = {}
        for row in rows:
            month_, credits, items, read_at, complete = tuple(row)
            read = _parse(read_at)
            assert read is not None
            kept[str(month_)] = MonthUsage(
                str(month_), Decimal(str(credits)), int(items), read, bool(complete)
            )
        return kept

    # -- the wallet as last read -------------------------------------------------------------

    def wallet_seen(self) -> WalletSeen | None:
        row = self.db.execute(
            "SELECT balance_usd, reload_enabled, reload_threshold, reload_amount, seen_at "
            "FROM wallet_seen WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        balance, enabled, threshold, amount, seen_at = tuple(row)
        seen = _parse(seen_at)
        price = _price(balance)
        if seen is None or price is None:
            return None
        return WalletSeen(
            price,
            None if enabled is None else bool(enabled),
            _price(threshold),
            _price(amount),
            seen,
        )

    def put_wallet_seen(self, wallet: WalletSeen) -> None:
        """Keep the newest read only: an older one arriving late changes nothing."""
        with write_transaction(self.db) as tx:
            tx.execute(
                "INSERT INTO wallet_seen (id, balance_usd, reload_enabled, reload_threshold, "
                "reload_amount, seen_at) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                "SET balance_usd = excluded.balance_usd, "
                "reload_enabled = excluded.reload_enabled, "
                "reload_threshold = excluded.reload_threshold, "
                "reload_amount = excluded.reload_amount, seen_at = excluded.seen_at "
                "WHERE wallet_seen.seen_at <= excluded.seen_at",
                (
                    str(wallet.balance_usd),
                    None if wallet.reload_enabled is None else int(wallet.reload_enabled),
                    _optional(wallet.reload_threshold),
                    _optional(wallet.reload_amount),
                    _time(wallet.seen_at),
                ),
            )

    def put_month_usage(self, usage: MonthUsage) -> None:
        """Keep the newest read only: a read begun earlier that ends later (another process's,
        say) changes nothing."""
        with write_transaction(self.db) as tx:
            tx.execute(
                "INSERT INTO usage_months (month, number_credits, items, read_at, complete) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (month) DO UPDATE SET "
                "number_credits = excluded.number_credits, items = excluded.items, "
                "read_at = excluded.read_at, complete = excluded.complete "
                "WHERE usage_months.read_at <= excluded.read_at",
                (
                    usage.month,
                    str(usage.number_credits),
                    usage.items,
                    _time(usage.read_at),
                    int(usage.complete),
                ),
            )


def _optional(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _owned(values: tuple[object, ...]) -> OwnedRow:
    e164, number_id, agent_id, cost, status, seen_at = values
    return OwnedRow(
        e164=str(e164),
        number_id=str(number_id),
        agent_id=None if agent_id is None else str(agent_id),
        monthly_cost=_price(cost),
        status=None if status is None else str(status),
        seen_at=_parse(seen_at),
    )

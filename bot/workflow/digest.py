"""The daily digest: yesterday (UTC) in the approval channel, and the audit log's head.

    due_day, next_due_at, day_bounds     when a digest falls due, and which day it covers
    summarise, to_detail, from_detail    what happened that day, from sealed audit entries
    Digests.run                          claim the day, post it, retry what Slack refused

The digest for day D falls due at NUMBOT_DIGEST_HOUR (UTC) on D+1. numbot posts the most
recent digest that has fallen due; a day missed while no numbot ran is not backfilled. A day
on which nothing happened (no request moved, nobody was refused), the day before numbot
held any data among them, has no digest at all.
The day is claimed in SQLite before anything is posted (storage/digests.py): the claim is
a sealed `digest` audit entry holding the summary, so the head hash the digest shows is
that entry's own, and `numbot audit verify --expect-head <it>` checks the log against
the copy in Slack. The pure functions here take facts and return decisions; only
`Digests` does I/O.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from bot.kernel.money import to_decimal
from bot.kernel.outcomes import DaySummary, Digest
from bot.workflow.context import SYSTEM, Context, detail, logger
from storage.audit import AuditEntry, stamp
from storage.digests import DigestStore

OUTCOMES = ("purchased", "released", "failed", "rejected", "cancelled", "expired")
REQUEST_ACTIONS = frozenset({"request_purchase", "request_release"})
LEASE = timedelta(minutes=2)  # longer than one Slack post can take, its retries included
RETRY_AFTER = timedelta(seconds=10)  # after Slack first refused a digest; doubled each time
IDLE_NAMED = 10  # new idle numbers a digest names; it counts the rest
RETRY_CAP = timedelta(hours=1)  # a channel that stays broken is tried hourly, not hammered


# -- when -------------------------------------------------------------------------------------


def due_day(now: datetime, hour: int) -> date:
    """The most recent day whose digest has fallen due at `now`: yesterday once `hour`
    (UTC) has struck today, else the day before yesterday."""
    now = now.astimezone(UTC)
    return now.date() - timedelta(days=1 if now.hour >= hour else 2)


def next_due_at(now: datetime, hour: int) -> datetime:
    """The moment the next day's digest falls due, after `now`."""
    now = now.astimezone(UTC)
    today = datetime.combine(now.date(), time(hour), tzinfo=UTC)
    return today if now < today else today + timedelta(days=1)


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th refused post a digest is tried again."""
    return min(RETRY_CAP, RETRY_AFTER * (1 << min(max(attempts - 1, 0), 16)))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


# -- what -------------------------------------------------------------------------------------


def _charged(entry: AuditEntry) -> Decimal | None:
    try:
        return to_decimal(entry.detail_fields().get("charged"))
    except (TypeError, ValueError):
        return None


def summarise(
    day: date,
    entries: list[AuditEntry],
    *,
    still_checking: int,
    new_idle: tuple[list[str], int] = ([], 0),
) -> DaySummary:
    """The day's facts from its audit entries; entries outside the day are ignored.

    A request's move to a final state is one sealed entry (its compare-and-set), so each
    request counts once, on the day it ended; a purchase's cost is the `charged` amount
    sealed with it. A new request is its move to `pending` by the requester.
    """
    start, end = (stamp(moment) for moment in day_bounds(day))
    outcomes: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    spent, unpriced, requested = Decimal(0), 0, 0
    for entry in entries:
        if not start <= entry.at < end:
            continue
        if entry.outcome == "refused":
            refusals[entry.action] += 1
        if entry.state in OUTCOMES:
            outcomes[entry.state] += 1
        if entry.state == "purchased":
            charged = _charged(entry)
            if charged is None:
                unpriced += 1
            else:
                spent += charged
        if entry.state == "pending" and entry.action in REQUEST_ACTIONS:
            requested += 1
    return DaySummary(
        day=day,
        spent=spent,
        unpriced=unpriced,
        requested=requested,
        outcomes={state: outcomes[state] for state in OUTCOMES},
        still_checking=still_checking,
        refusals=dict(sorted(refusals.items(), key=lambda item: (-item[1], item[0]))),
        new_idle=tuple(new_idle[0]),
        new_idle_total=new_idle[1],
    )


def to_detail(summary: DaySummary) -> str:
    """The summary as the `digest` entry's detail (amounts as strings)."""
    return detail(
        day=summary.day.isoformat(),
        spent=summary.spent,
        unpriced=summary.unpriced,
        requested=summary.requested,
        outcomes=summary.outcomes,
        still_checking=summary.still_checking,
        refusals=summary.refusals,
        new_idle=list(summary.new_idle),
        new_idle_total=summary.new_idle_total,
    )


def from_detail(text: str) -> DaySummary:
    """The summary a `digest` entry sealed (to post it again exactly as claimed)."""
    fields = json.loads(text)
    return DaySummary(
        day=date.fromisoformat(fields["day"]),
        spent=to_decimal(fields["spent"]),
        unpriced=int(fields["unpriced"]),
        requested=int(fields["requested"]),
        outcomes={str(k): int(v) for k, v in fields["outcomes"].items()},
        still_checking=int(fields["still_checking"]),
        refusals={str(k): int(v) for k, v in fields["refusals"].items()},
        # Digests sealed before idle numbers were counted have neither field.
        new_idle=tuple(str(e) for e in fields.get("new_idle", [])),
        new_idle_total=int(fields.get("new_idle_total", 0)),
    )


def _why(exc: Exception) -> str:
    """An exception in a few words: its type and, for Slack's, the error code."""
    response: Any = getattr(exc, "response", None)
    error = response.get("error") if response is not None and hasattr(response, "get") else None
    code = str(error or exc)[:120]
    return f"{type(exc).__name__}: {code}" if code else type(exc).__name__


# -- doing it ---------------------------------------------------------------------------------


class Digests:
    """Called by every sweep pass: cheap when there is nothing to do (one comparison, and
    one indexed look for a digest Slack refused)."""

    def __init__(self, ctx: Context, hour: int | None) -> None:
        self.ctx = ctx
        self.hour = hour
        self.store = DigestStore(ctx.storage.db, ctx.storage.audit)
        self._claimed: date | None = None  # the latest day this process saw claimed

    def next_due_at(self) -> datetime | None:
        """When the next day's digest falls due (None: no digests here)."""
        if self.hour is None or self.ctx.notifier is None:
            return None
        return next_due_at(self.ctx.clock(), self.hour)

    async def run(self) -> int:
        """Post the digest that has fallen due unless a process has, and retry any that
        Slack refused; how many digests were posted."""
        if self.hour is None or self.ctx.notifier is None:
            return 0
        now = self.ctx.clock()
        day = due_day(now, self.hour)
        posted = 0
        if day != self._claimed:
            posted += await self._claim_and_post(day, now)
            self._claimed = day
        storage = self.ctx.storage
        for row in await storage.run(self.store.unposted, now):
            if await storage.run(self.store.take, row, lease_until=now + LEASE):
                entry = await storage.run(storage.audit.entry, row.seq)
                if entry is not None:
                    digest = Digest(from_detail(entry.detail), entry.hash, row.seq)
                    posted += await self._post(digest, attempt=row.attempts + 1)
        return posted

    async def _claim_and_post(self, day: date, now: datetime) -> int:
        storage, key = self.ctx.storage, day.isoformat()
        if await storage.run(self.store.get, key) is not None:
            logger.info("the digest for %s is already claimed", key)
            return 0
        entries = await storage.run(storage.audit.digest_facts, *day_bounds(day))
        idle = await storage.run(storage.costs.idle_since, *day_bounds(day), IDLE_NAMED)
        if not entries and not idle[1]:
            # Nothing happened that day (or numbot held no data yet): no post to read.
            logger.info("no digest for %s: nothing happened that day", key)
            return 0
        checking = await storage.run(storage.requests.count_checking)
        summary = summarise(day, entries, still_checking=checking, new_idle=idle)
        entry = await storage.run(
            self.store.claim, key, to_detail(summary), lease_until=now + LEASE
        )
        if entry is None:
            logger.info("the digest for %s is already claimed", key)
            return 0
        return await self._post(Digest(summary, entry.hash, entry.seq), attempt=1)

    async def _post(self, digest: Digest, *, attempt: int) -> int:
        ctx, key = self.ctx, digest.summary.day.isoformat()
        assert ctx.notifier is not None  # run() checked
        try:
            channel, ts = await ctx.notifier.post_digest(digest)
        except Exception as exc:
            logger.warning(  # one line, with the cause: Slack refusing a post is no bug
                "could not post the digest for %s (%s); a later sweep retries",
                key,
                _why(exc),
            )
            await ctx.audit(SYSTEM, "post_digest", key, "failed", attempt=attempt)
            retry_at = ctx.clock() + retry_delay(attempt)
            await ctx.storage.run(self.store.failed, key, retry_at=retry_at)
            return 0
        await ctx.storage.run(self.store.posted, key, channel=channel, ts=ts, at=ctx.clock())
        logger.info("posted the digest for %s (audit head %s)", key, digest.head)
        return 1

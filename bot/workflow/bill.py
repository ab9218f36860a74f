"""What the owned numbers keep costing: the wallet with its runway, the numbers that reach
nobody, the low-wallet warning, and months of spend. The decisions are pure (costs.py); this
reads the index, the wallet and Flowyte's usage, and says things through the Notifier.

Everything here reads numbot's index of owned numbers (storage/costs.py), never Flowyte's
list page by page: at 50,000 numbers a command still answers in milliseconds. Flowyte is
asked for the wallet (one call) and, for `/numbers spend`, for a month's usage items, which
are kept once the month has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bot.flowyte import errors as fe
from bot.flowyte.models import Agent, Wallet
from bot.kernel.costs import (
    MonthlyBill,
    credits_to_usd,
    lasts,
    monthly_bill,
    runs_low,
    runway_days,
)
from bot.kernel.home import HomeCosts
from bot.kernel.money import usd
from bot.kernel.outcomes import IdleList, Refused, SpendMonth, SpendReport, WalletView
from bot.workflow.authority import Step, Tampered, sealed_terms
from bot.workflow.context import SYSTEM, Context, logger
from bot.workflow.home import month_bounds
from bot.workflow.policy import budget_line
from storage.costs import MonthUsage, WalletSeen

DEFAULT_ALERT_DAYS = 14
LOOK_EVERY = timedelta(minutes=10)  # how often the sweep's holder reads the wallet
SPEND_MONTHS = 6
IDLE_PAGE = 20
TOP_REQUESTERS = 5
# How long a usage read of the month under way is reused before Flowyte is asked again.
CURRENT_MONTH_FRESH = timedelta(minutes=15)


@dataclass(frozen=True)
class IdleSummary:
    count: int
    bill: MonthlyBill
    agents_known: bool  # False: the agents could not be read, only unrouted numbers counted


class Bill:
    def __init__(
        self,
        ctx: Context,
        agents: Callable[[], Awaitable[list[Agent]]],
        *,
        alert_days: int = DEFAULT_ALERT_DAYS,
        look_every: timedelta = LOOK_EVERY,
    ) -> None:
        self.ctx = ctx
        self._agents = agents
        self.alert_days = alert_days
        self.look_every = look_every
        self._looked_at: datetime | None = None

    # -- reads ------------------------------------------------------------------------------

    async def monthly(self) -> MonthlyBill:
        storage = self.ctx.storage
        return monthly_bill(await storage.run(storage.costs.price_counts))

    async def unpublished(self) -> tuple[frozenset[str], bool]:
        """The agents that were never published, and whether the agents could be read."""
        agents = await self._agents()
        return frozenset(a.id for a in agents if not a.published), bool(agents)

    async def idle_summary(self) -> IdleSummary:
        storage = self.ctx.storage
        unpublished, known = await self.unpublished()
        counts = await storage.run(storage.costs.idle_price_counts, unpublished)
        bill = monthly_bill(counts)
        return IdleSummary(bill.numbers, bill, known)

    async def home_costs(self) -> HomeCosts:
        bill, idle = await asyncio.gather(self.monthly(), self.idle_summary())
        return HomeCosts(bill, idle.count, idle.bill)

    async def seen(self, wallet: Wallet) -> None:
        """Keep the wallet as just read, for App Home and the cards."""
        storage = self.ctx.storage
        await storage.run(
            storage.costs.put_wallet_seen,
            WalletSeen(
                wallet.balance_usd,
                wallet.auto_reload_enabled,
                wallet.auto_reload_threshold_usd,
                wallet.auto_reload_amount_usd,
                self.ctx.clock(),
            ),
        )

    async def last_wallet(self) -> WalletSeen | None:
        storage = self.ctx.storage
        return await storage.run(storage.costs.wallet_seen)

    async def wallet(self, actor: str) -> WalletView | Refused:
        """`/numbers wallet`: the balance, auto-reload, the numbers' monthly cost, how long
        the balance lasts at that rate, and the month's spend against the budget."""
        # The wallet and the agents (for the idle numbers) are read from Flowyte at once.
        wallet, bill, idle = await asyncio.gather(
            self._wallet_or_error(), self.monthly(), self.idle_summary()
        )
        if isinstance(wallet, fe.FlowyteError):
            return await self.ctx.flowyte_failed(actor, "wallet", "wallet", wallet)
        await self.seen(wallet)
        policy = self.ctx.policy
        budget = None
        if policy.monthly_budget_usd is not None:
            budget = budget_line(policy, await self.ctx.month_spend())
        await self.ctx.audit(actor, "wallet", "wallet", "ok")
        return WalletView(
            wallet, bill, lasts(wallet.balance_usd, bill), budget, idle.count, idle.bill
        )

    async def _wallet_or_error(self) -> Wallet | fe.FlowyteError:
        try:
            return await self.ctx.flowyte.wallet()
        except fe.FlowyteError as exc:
            return exc

    async def idle(self, actor: str, page: int = 0) -> IdleList:
        """`/numbers idle`: the numbers that reach nobody, a page at a time, with their cost."""
        storage = self.ctx.storage
        unpublished, known = await self.unpublished()
        rows, summary = await asyncio.gather(
            storage.run(storage.costs.idle_page, unpublished, page * IDLE_PAGE, IDLE_PAGE),
            self.idle_summary(),
        )
        await self.ctx.audit(actor, "idle", "numbers", "ok", count=summary.count)
        return IdleList(rows, summary.count, summary.bill, page, unpublished, known)

    # -- the low-wallet warning (the sweep's holder only) -------------------------------------

    async def look(self) -> None:
        """Every `look_every`: read the wallet, note the numbers that reach nobody, and warn
        (once a day) while the balance covers fewer than `alert_days` days of the numbers
        and auto-reload will not refill it; say so once when that is over."""
        now = self.ctx.clock()
        if self._looked_at is not None and now - self._looked_at < self.look_every:
            return
        self._looked_at = now
        storage = self.ctx.storage
        unpublished, known = await self.unpublished()
        if known:  # a list of agents that could not be read would make every number "new"
            await storage.run(storage.costs.track_idle, unpublished, now)
        try:
            wallet = await self.ctx.flowyte.wallet()
        except fe.FlowyteError as exc:
            logger.warning("the wallet could not be read for its runway (%s)", type(exc).__name__)
            return
        await self.seen(wallet)
        bill = await self.monthly()
        if runs_low(wallet, bill, self.alert_days):
            if await storage.run(storage.costs.claim_warning, now.date().isoformat(), now):
                await self._warn(wallet, bill)
        elif await storage.run(storage.costs.claim_clear, now):
            await self._cleared(wallet, bill)

    async def _warn(self, wallet: Wallet, bill: MonthlyBill) -> None:
        days = runway_days(wallet.balance_usd, bill.total)
        text = low_wallet_text(wallet, bill, days, self.alert_days)
        await self.ctx.audit(
            SYSTEM,
            "wallet_low",
            "wallet",
            "ok",
            balance=str(wallet.balance_usd),
            monthly=str(bill.total),
            days=days,
        )
        await self.ctx.notice(text)

    async def _cleared(self, wallet: Wallet, bill: MonthlyBill) -> None:
        await self.ctx.audit(SYSTEM, "wallet_ok", "wallet", "ok", balance=str(wallet.balance_usd))
        await self.ctx.notice(
            f":white_check_mark: The wallet is no longer running low: it holds "
            f"{usd(wallet.balance_usd)} and {lasts(wallet.balance_usd, bill)}."
        )

    # -- months of spend ------------------------------------------------------------------

    async def spend(self, actor: str, months: int = SPEND_MONTHS) -> SpendReport:
        """`/numbers spend`: month by month, what Flowyte charged for numbers beside what
        numbot bought and released (from the sealed log), and the top requesters."""
        now = self.ctx.clock()
        starts = month_starts(now, months)
        rows = list(await asyncio.gather(*(self.month(start) for start in starts)))
        top: dict[str, Decimal] = {}
        for row in rows:
            for person, amount in row.by_requester.items():
                top[person] = top.get(person, Decimal(0)) + amount
        ranked = sorted(top.items(), key=lambda item: (-item[1], item[0]))[:TOP_REQUESTERS]
        await self.ctx.audit(actor, "spend", "report", "ok", months=months)
        return SpendReport(rows, ranked)

    async def month(self, start: datetime) -> SpendMonth:
        """One month: Flowyte's number charges and numbot's own purchases and releases."""
        end = next_month(start)
        charged, unreadable = await self._charged(start, end)
        moves = await self.moves(start, end)
        setup = monthly = Decimal(0)
        bought = released = unpriced = 0
        by_requester: dict[str, Decimal] = {}
        for move in moves:
            if move.kind == "release":
                released += 1
                continue
            bought += 1
            if move.setup is None or move.monthly is None:
                unpriced += 1
                continue
            setup += move.setup
            monthly += move.monthly
            by_requester[move.requester] = (
                by_requester.get(move.requester, Decimal(0)) + move.setup + move.monthly
            )
        return SpendMonth(
            start.strftime("%Y-%m"),
            charged,
            unreadable,
            bought,
            released,
            setup,
            monthly,
            unpriced,
            by_requester,
        )

    async def _charged(self, start: datetime, end: datetime) -> tuple[Decimal | None, str]:
        """Flowyte's `number` charges in [start, end), in USD; None and why when unreadable.
        A month that had ended when it was read is kept; the month under way is reused for
        CURRENT_MONTH_FRESH."""
        storage, key, now = self.ctx.storage, start.strftime("%Y-%m"), self.ctx.clock()
        kept = await storage.run(storage.costs.month_usage, key)
        if kept is not None and (kept.complete or now - kept.read_at < CURRENT_MONTH_FRESH):
            return credits_to_usd(kept.number_credits), ""
        credits, items = Decimal(0), 0
        try:
            async for page in self.ctx.flowyte.usage_pages(start, end):
                for item in page:
                    items += 1
                    if item.channel == "number":
                        credits += item.credits
        except fe.FlowyteError as exc:
            logger.warning("usage for %s could not be read (%s)", key, type(exc).__name__)
            return None, exc.explain()
        await storage.run(
            storage.costs.put_month_usage, MonthUsage(key, credits, items, now, now >= end)
        )
        return credits_to_usd(credits), ""

    async def moves(self, start: datetime, end: datetime) -> list[Move]:
        """From the sealed log: the purchases and releases completed in [start, end), each
        with the terms sealed when it was requested (a price that cannot be read: None)."""
        storage = self.ctx.storage
        moved = await storage.run(
            storage.audit.moves_between, start, end, ("purchased", "released")
        )
        key = storage.audit.key
        moves = []
        for entry in moved:
            entries = await storage.run(storage.audit.transitions, entry.subject)
            steps = [
                Step(
                    e.seq,
                    e.actor,
                    e.state or "",
                    e.detail_fields(),
                    key is not None and key.authentic(e),
                    e.action,
                )
                for e in entries
            ]
            terms = sealed_terms(steps)
            kind = "purchase" if entry.state == "purchased" else "release"
            if isinstance(terms, Tampered):
                moves.append(Move(entry.at, kind, "", "", None, None, entry.subject))
                continue
            setup = terms.setup if kind == "purchase" else None
            moves.append(
                Move(
                    entry.at,
                    kind,
                    terms.e164,
                    terms.requester,
                    setup,
                    terms.monthly,
                    entry.subject,
                )
            )
        return moves


@dataclass(frozen=True)
class Move:
    """A purchase or release completed, as the sealed log has it."""

    at: str  # when it completed (the audit entry's time)
    kind: str  # purchase | release
    e164: str  # "" when its sealed terms could not be read
    requester: str
    setup: Decimal | None  # a release has none
    monthly: Decimal | None  # a purchase's monthly cost; what a release saves a month
    request_id: str


def low_wallet_text(wallet: Wallet, bill: MonthlyBill, days: int | None, alert_days: int) -> str:
    """The warning: the balance, the monthly cost, the days left and how to top up."""
    left = "no day" if not days else ("1 day" if days == 1 else f"about {days} days")
    reload = (
        "Auto-reload is off"
        if wallet.auto_reload_enabled is not True
        else "Auto-reload is on but adds nothing"
    )
    return (
        f":warning: The Flowyte wallet is running low: {usd(wallet.balance_usd)} pays for "
        f"{left} of the numbers' {bill.words()} (numbot warns below {alert_days} days). "
        f"{reload}. Top up in the Flowyte dashboard (Billing → Top up), or turn auto-reload "
        "on, before numbers go unpaid."
    )


def next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def month_starts(now: datetime, months: int) -> list[datetime]:
    """The first instants of the last `months` UTC months, oldest first, this one last."""
    start, _ = month_bounds(now)
    starts = [start]
    for _ in range(months - 1):
        previous = (starts[0] - timedelta(days=1)).replace(day=1)
        starts.insert(0, previous)
    return starts

"""What the owned numbers keep costing: the wallet with its runway, the numbers that reach
nobody, and the low-wallet warning (months of spend: spend.py). The decisions are pure
(bot/kernel/costs.py); this reads the index and the wallet, and says things through the
Notifier.

Everything here reads numbot's index of owned numbers (storage/costs.py), never Flowyte's
list page by page: at 50,000 numbers a command still answers in milliseconds. Flowyte is
asked for the wallet (one call) and the agents (a shared, cached read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.flowyte import errors as fe
from bot.flowyte.models import Agent, Wallet
from bot.kernel.costs import (
    NO_NUMBERS,
    MonthlyBill,
    lasts,
    monthly_bill,
    runs_low,
    runway_days,
)
from bot.kernel.home import HomeCosts
from bot.kernel.money import usd
from bot.kernel.outcomes import IdleList, Refused, WalletView
from bot.workflow.context import SYSTEM, Context, logger
from bot.workflow.policy import budget_line
from storage.costs import WalletSeen

DEFAULT_ALERT_DAYS = 14
LOOK_EVERY = timedelta(minutes=10)  # how often the sweep's holder reads the wallet
IDLE_PAGE = 20


@dataclass(frozen=True)
class IdleSummary:
    count: int
    bill: MonthlyBill
    agents_known: bool  # False: the agents could not be read, only unrouted numbers counted


class Bill:
    def __init__(
        self,
        ctx: Context,
        agents: Callable[[], Awaitable[list[Agent] | None]],
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
        """The agents that were never published, and whether the agents could be read (an
        organization with no agent at all has none unpublished, and was read)."""
        agents = await self._agents()
        if agents is None:
            return frozenset(), False
        return frozenset(a.id for a in agents if not a.published), True

    async def idle_summary(self) -> IdleSummary:
        storage = self.ctx.storage
        unpublished, known = await self.unpublished()
        counts = await storage.run(storage.costs.idle_price_counts, unpublished)
        bill = monthly_bill(counts)
        return IdleSummary(bill.numbers, bill, known)

    async def reading(self) -> int | None:
        """While numbot's first complete read of Flowyte's owned list is under way, how many
        numbers it has seen: the index is not whole yet, so no bill is claimed from it (never
        "$0 a month" for numbers not read yet). None once a read has completed."""
        storage = self.ctx.storage
        state = await storage.run(storage.owned.refresh_state)
        return state.seen if state.complete_at is None else None

    async def home_costs(self) -> HomeCosts | None:
        """For App Home; None while the index is not whole yet (Home says nothing of costs)."""
        if await self.reading() is not None:
            return None
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
        wallet, bill, idle, reading = await asyncio.gather(
            self._wallet_or_error(), self.monthly(), self.idle_summary(), self.reading()
        )
        if isinstance(wallet, fe.FlowyteError):
            return await self.ctx.flowyte_failed(actor, "wallet", "wallet", wallet)
        await self.seen(wallet)
        policy = self.ctx.policy
        budget = None
        if policy.monthly_budget_usd is not None:
            budget = budget_line(policy, await self.ctx.month_spend())
        await self.ctx.audit(actor, "wallet", "wallet", "ok")
        if reading is not None:
            return WalletView(wallet, budget=budget, reading=reading)
        return WalletView(
            wallet, bill, lasts(wallet.balance_usd, bill), budget, idle.count, idle.bill
        )

    async def _wallet_or_error(self) -> Wallet | fe.FlowyteError:
        try:
            return await self.ctx.flowyte.wallet()
        except fe.FlowyteError as exc:
            return exc

    async def idle(self, actor: str, page: int = 0, *, rows: int = IDLE_PAGE) -> IdleList:
        """`/numbers idle`: page `page` (`rows` a page) of the numbers that reach nobody, by
        number, with their cost; a page past the end is the last one."""
        storage = self.ctx.storage
        unpublished, known = await self.unpublished()
        reading = await self.reading()
        if reading is not None:
            await self.ctx.audit(actor, "idle", "numbers", "ok", reading=reading)
            return IdleList([], 0, NO_NUMBERS, 0, unpublished, known, reading)
        counts = await storage.run(storage.costs.idle_price_counts, unpublished)
        bill = monthly_bill(counts)
        pages = max(1, -(-bill.numbers // rows))
        page = min(max(page, 0), pages - 1)
        shown = await storage.run(storage.costs.idle_page, unpublished, page * rows, rows)
        await self.ctx.audit(actor, "idle", "numbers", "ok", count=bill.numbers, page=page)
        return IdleList(shown, bill.numbers, bill, page, unpublished, known)

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
        # Agents that could not be read, or an index not read whole yet, would make numbers
        # "new" that are not (the first read of 50,000 numbers takes minutes).
        if known and await self.reading() is None:
            await storage.run(storage.costs.track_idle, unpublished, now)
        try:
            wallet = await self.ctx.flowyte.wallet()
        except fe.FlowyteError as exc:
            logger.warning("the wallet could not be read for its runway (%s)", type(exc).__name__)
            return
        await self.seen(wallet)
        bill = await self.monthly()
        costs = storage.costs
        before = await storage.run(costs.alert_state)
        if runs_low(wallet, bill, self.alert_days):
            day = now.astimezone(UTC).date().isoformat()  # the UTC day, whatever the clock's zone
            claimed = await storage.run(costs.claim_warning, day, now)
            if claimed and not await self._warn(wallet, bill):
                await storage.run(costs.give_back, day, before)  # a later look tries again
        elif await storage.run(costs.claim_clear, now) and not await self._cleared(wallet, bill):
            await storage.run(costs.give_back, None, before)

    async def _warn(self, wallet: Wallet, bill: MonthlyBill) -> bool:
        """Post the warning, and audit what became of it; whether it was posted."""
        days = runway_days(wallet.balance_usd, bill.total)
        posted = await self.ctx.notice(low_wallet_text(wallet, bill, days, self.alert_days))
        await self.ctx.audit(
            SYSTEM,
            "wallet_low",
            "wallet",
            "ok" if posted else "failed",
            balance=str(wallet.balance_usd),
            monthly=str(bill.total),
            days=days,
        )
        return posted

    async def _cleared(self, wallet: Wallet, bill: MonthlyBill) -> bool:
        posted = await self.ctx.notice(
            f":white_check_mark: The wallet is no longer running low: it holds "
            f"{usd(wallet.balance_usd)} and {lasts(wallet.balance_usd, bill)}."
        )
        await self.ctx.audit(
            SYSTEM,
            "wallet_ok",
            "wallet",
            "ok" if posted else "failed",
            balance=str(wallet.balance_usd),
        )
        return posted


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

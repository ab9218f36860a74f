"""Reading what one person's App Home shows (bot/kernel/home.py): facts, nothing decided.

From SQLite: the person's live holds, their requests under way and the last few settled,
for approvers the pending requests they may decide (never their own), and what purchases
cost this calendar month (UTC). From Flowyte: the wallet balance; the owned numbers come
from numbot's index of them (bot/workflow/owned.py), so a redraw never walks Flowyte's list.
Flowyte may be slow or down; then `wallet` / `numbers` are None and Home says so, rather
than waiting on it or failing. Reads that several Homes need at once (one change redraws
the requester's and every approver's) are shared while they run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from bot.flowyte import errors as fe
from bot.flowyte.models import Agent, OwnedNumber, Wallet
from bot.kernel.home import Capped, Home, HomeCosts, MonthSpend
from bot.workflow.context import Context, logger
from bot.workflow.owned import OwnedBook
from storage.requests import Request

T = TypeVar("T")

MAX_HOLDS = 10
MAX_WAITING = 10
MAX_OPEN = 10  # of a person's requests under way
MAX_SETTLED = 5  # of their settled requests, newest first
MAX_NUMBERS = 15  # owned numbers read for Home (handlers/blocks/home.py shows as many)
FLOWYTE_WAIT = 5.0  # seconds Home waits for Flowyte before it says it could not reach it
AGENTS_MAX_AGE = 60.0  # seconds an agent list read for a menu or a Home is reused


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month `now` falls in, as [start, end)."""
    utc = now.astimezone(UTC)
    start = utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)


class SharedRead(Generic[T]):
    """One read at a time: callers arriving while it runs share its answer.

    Nothing is kept once the read is over, and `forget()` makes the next caller start a
    fresh read even while one runs (a request moved: what was being read may be stale).
    The read is shielded, so a caller that stops waiting does not cancel it for the others.
    """

    def __init__(self, read: Callable[[], Awaitable[T]], name: str) -> None:
        self._read = read
        self._name = name
        self._task: asyncio.Task[T] | None = None

    def forget(self) -> None:
        self._task = None

    async def get(self) -> T:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._call(), name=self._name)
            self._task.add_done_callback(_retrieve)
        return await asyncio.shield(self._task)

    async def _call(self) -> T:
        return await self._read()


def _retrieve(task: asyncio.Task[T]) -> None:
    """Collect the error of a read every caller gave up on (they each see their own)."""
    if not task.cancelled() and task.exception() is not None:
        logger.debug("a shared Home read failed: %r", task.exception())


class HomeReader:
    def __init__(
        self,
        ctx: Context,
        agents: Callable[[], Awaitable[list[Agent]]],
        book: OwnedBook,
        *,
        flowyte_wait: float = FLOWYTE_WAIT,
        costs: Callable[[], Awaitable[HomeCosts | None]] | None = None,
        wallet_seen: Callable[[Wallet], Awaitable[None]] | None = None,
    ) -> None:
        self.ctx = ctx
        self._costs = costs
        self._wallet_seen = wallet_seen
        self.flowyte_wait = flowyte_wait
        self._agents = agents
        self.book = book
        self._wallet = SharedRead(self._read_wallet, "numbot-home-wallet")
        self._numbers = SharedRead(self._read_numbers, "numbot-home-numbers")

    def forget(self) -> None:
        """Something changed: reads under way may predate it."""
        self._wallet.forget()
        self._numbers.forget()

    async def read(self, user: str) -> Home:
        now = self.ctx.clock()
        approver = await self.ctx.approvers.includes(user)
        (holds, mine, waiting, spend), wallet, numbers, agents, costs = await asyncio.gather(
            self._stored(user, now, approver),
            self._wallet_or_none(),
            self._numbers_or_none(),
            self._agents_or_none(),
            self._costs_or_none(),
        )
        return Home(
            user=user,
            approver=approver,
            now=now,
            holds=holds,
            requests=mine,
            waiting=waiting,
            spend=spend,
            wallet=wallet,
            numbers=numbers[0] if isinstance(numbers, tuple) else None,
            agents={a.id: a for a in agents},
            numbers_total=numbers[1] if isinstance(numbers, tuple) else None,
            numbers_unrouted=numbers[2] if isinstance(numbers, tuple) else None,
            numbers_reading=numbers if isinstance(numbers, int) else None,
            costs=costs,
            approvers=self.ctx.approvers.known_whole() if approver else None,
        )

    async def _stored(
        self, user: str, now: datetime, approver: bool
    ) -> tuple[Capped, list[Request], Capped, MonthSpend]:
        storage, requests = self.ctx.storage, self.ctx.storage.requests
        holds = Capped(*await storage.run(requests.holds_of, user, now, MAX_HOLDS))
        mine = await storage.run(
            requests.requests_of, user, open_limit=MAX_OPEN, settled_limit=MAX_SETTLED
        )
        waiting = Capped([], 0)
        if approver:
            waiting = Capped(*await storage.run(requests.waiting_for, user, MAX_WAITING))
        start, end = month_bounds(now)
        total, count = await storage.run(requests.spent_between, start, end)
        budget = self.ctx.policy.monthly_budget_usd
        committed = (await self.ctx.month_spend()).committed if budget is not None else None
        return holds, mine, waiting, MonthSpend(start, total, count, budget, committed)

    async def _read_wallet(self) -> Decimal:
        wallet = await self.ctx.flowyte.wallet()
        if self._wallet_seen is not None:
            await self._wallet_seen(wallet)
        return wallet.balance_usd

    async def _costs_or_none(self) -> HomeCosts | None:
        """The monthly bill and the idle numbers, from the index (agents as cached); None
        while the index's first complete read is under way, or when it takes too long."""
        if self._costs is None:
            return None
        try:
            return await asyncio.wait_for(self._costs(), self.flowyte_wait)
        except TimeoutError:
            return None

    async def _read_numbers(self) -> tuple[list[OwnedNumber], int, int] | int:
        """From the owned-number index, never a walk of Flowyte's list: the first few (those
        ringing no agent first) and the counts; or, while the index is empty and its first
        complete read of Flowyte's list is not done, how many numbers that read has seen."""
        numbers, total, unrouted = await self.book.summary(MAX_NUMBERS)
        if total == 0 and (await self.book.state()).complete_at is None:
            return (await self.book.state()).seen  # its first read is not done: not "none"
        return numbers, total, unrouted

    async def _wallet_or_none(self) -> Decimal | None:
        try:
            return await asyncio.wait_for(self._wallet.get(), self.flowyte_wait)
        except (fe.FlowyteError, TimeoutError) as exc:
            logger.warning("Home: the wallet could not be read (%s)", type(exc).__name__)
            return None

    async def _numbers_or_none(self) -> tuple[list[OwnedNumber], int, int] | int | None:
        try:
            return await asyncio.wait_for(self._numbers.get(), self.flowyte_wait)
        except (fe.FlowyteError, TimeoutError) as exc:
            logger.warning("Home: the owned numbers could not be read (%s)", type(exc).__name__)
            return None

    async def _agents_or_none(self) -> list[Agent]:
        """Agent names for the numbers' rows; without them, rows show agent ids."""
        try:
            return await asyncio.wait_for(self._agents(), self.flowyte_wait)
        except TimeoutError:
            return []

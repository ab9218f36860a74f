"""What one person's App Home shows: the facts the service reads for it (bot/workflow/home.py)
and the Slack side draws (handlers/blocks/home.py).

    Home(user, approver, holds, requests, waiting, spend, wallet, numbers, agents)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.flowyte.models import Agent, OwnedNumber
from bot.kernel.costs import MonthlyBill
from storage.requests import Request


@dataclass(frozen=True)
class Capped:
    """The first rows of a list, and how many there are in all."""

    rows: list[Request]
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.rows))


@dataclass(frozen=True)
class MonthSpend:
    """What purchases completed in the calendar month (UTC) that starts at `month`."""

    month: datetime
    total: Decimal
    purchases: int
    budget: Decimal | None = None  # the policy's monthly budget, when there is one
    committed: Decimal | None = None  # charged this month + being bought, against the budget


@dataclass(frozen=True)
class HomeCosts:
    """What the owned numbers cost a month, and those that reach nobody (from the index)."""

    bill: MonthlyBill
    idle: int
    idle_bill: MonthlyBill


@dataclass(frozen=True)
class Home:
    user: str
    approver: bool
    now: datetime
    holds: Capped
    requests: list[Request]  # under way (newest first), then the last few settled
    waiting: Capped  # pending requests this approver may decide; empty for others
    spend: MonthSpend
    wallet: Decimal | None  # None: Flowyte could not be read just now
    numbers: list[OwnedNumber] | None  # owned numbers (unrouted first); None: not read yet
    agents: dict[str, Agent]
    # From the owned-number index (bot/workflow/owned.py): how many there are, and how many
    # ring no agent, when `numbers` shows only the first few of them. None: len(numbers).
    numbers_total: int | None = None
    numbers_unrouted: int | None = None
    # numbot is still making its first complete read of the owned numbers: how many so far
    # (None: it has one, or it is not reading).
    numbers_reading: int | None = None
    costs: HomeCosts | None = None  # None: not read
    # Everyone who may approve, as numbot last read them, to name who a request still waits
    # for (None: not known, as while a user group was never read).
    approvers: frozenset[str] | None = None

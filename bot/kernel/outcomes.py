"""What the workflow service returns: a typed result, or a refusal with a code and a sentence.

Expected refusals (not an approver, already decided, hold expired, Flowyte said no) are
values, not exceptions; the Slack layer turns each into a reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from bot.flowyte.models import (
    Agent,
    AgentVersion,
    AvailableNumber,
    OwnedNumber,
    SearchQuery,
    Wallet,
)
from bot.kernel.costs import MonthlyBill
from storage.owned import OwnedRow
from storage.requests import Request


@dataclass(frozen=True)
class Refused:
    code: str  # not_approver, self_approval, unknown, already_decided, in_flight, expired, ...
    message: str


@dataclass(frozen=True)
class SearchResults:
    query: SearchQuery
    numbers: list[AvailableNumber]


@dataclass(frozen=True)
class Held:
    request: Request


@dataclass(frozen=True)
class Requested:
    request: Request
    balance: Decimal | None
    card_posted: bool


@dataclass(frozen=True)
class Decided:
    """Approve or reject went through; `request` is in its resulting state."""

    request: Request
    message: str
    agents: list[Agent] = field(default_factory=list)


@dataclass(frozen=True)
class Assigned:
    number: OwnedNumber
    agent: Agent | None

    @property
    def unpublished(self) -> bool:
        return self.agent is not None and not self.agent.published


@dataclass(frozen=True)
class Unassigned:
    number: OwnedNumber


@dataclass(frozen=True)
class Published:
    agent_id: str
    version: AgentVersion


@dataclass(frozen=True)
class Imported:
    number: OwnedNumber
    agent: Agent | None


@dataclass(frozen=True)
class NumberList:
    """One page of the owned numbers, from numbot's index of them (bot/workflow/owned.py):
    `numbers` are rows `page * rows_per_page`.. of `total`. `as_of`: when the last complete
    read of Flowyte's list ended (None: none has yet); `reading`: how many a read under way
    has seen, when no read has completed yet (so the list is not presented as complete)."""

    numbers: list[OwnedNumber]
    agents: dict[str, Agent]
    total: int = -1  # -1: `numbers` is the whole list
    page: int = 0
    as_of: datetime | None = None
    reading: int | None = None

    @property
    def count(self) -> int:
        return len(self.numbers) if self.total < 0 else self.total


@dataclass(frozen=True)
class WalletView:
    """`/numbers wallet`: the wallet, what the owned numbers cost a month (`bill`), how long
    the balance lasts at that rate (`runway`, a phrase), the month against the budget (None:
    no budget), and the numbers that reach nobody with what they cost. `reading`: numbot's
    first complete read of the owned numbers is still under way, having seen that many; the
    bill, the runway and the idle numbers are then not claimed (None, 0)."""

    wallet: Wallet
    bill: MonthlyBill | None = None
    runway: str | None = None
    budget: str | None = None
    idle: int = 0
    idle_bill: MonthlyBill | None = None
    reading: int | None = None


@dataclass(frozen=True)
class IdleList:
    """`/numbers idle`: page `page` of the numbers that reach nobody (`rows`), of `total`,
    costing `bill` a month. `unpublished`: the agents never published; `agents_known` False
    when the agents could not be read (then only numbers routed to no agent are counted).
    `reading`: numbot's first complete read of the owned numbers is still under way, having
    seen that many (then nothing is listed: the list would not be whole)."""

    rows: list[OwnedRow]
    total: int
    bill: MonthlyBill
    page: int
    unpublished: frozenset[str]
    agents_known: bool
    reading: int | None = None


@dataclass(frozen=True)
class SpendMonth:
    """One month of `/numbers spend`: Flowyte's charges for numbers (`charged`, as read at
    `read_at`, final when `complete`; None when its usage has not been read or could not be,
    `unreadable` says which) beside what numbot bought and released, with the purchases' setup
    and first-month costs and who asked (`by_requester`)."""

    month: str  # YYYY-MM
    charged: Decimal | None
    unreadable: str
    bought: int
    released: int
    setup: Decimal
    monthly: Decimal
    unpriced: int  # purchases whose sealed price could not be read
    by_requester: dict[str, Decimal] = field(default_factory=dict)
    read_at: datetime | None = None
    complete: bool = False

    @property
    def numbot_total(self) -> Decimal:
        return self.setup + self.monthly


@dataclass(frozen=True)
class SpendReport:
    months: list[SpendMonth]
    top: list[tuple[str, Decimal]]  # requester, what their purchases cost, largest first


@dataclass(frozen=True)
class AgentMatches:
    """Agents whose name or id matched a typed search: the first `agents` of `total` matches.

    `total` may exceed len(agents): a menu shows what fits and says how many more there are.
    """

    agents: list[Agent]
    total: int


@dataclass(frozen=True)
class AlreadyHeld:
    """Reserve, for a number the person already holds (held, or pending approval): nothing
    new was reserved; `request` is their hold."""

    request: Request


@dataclass(frozen=True)
class Holds:
    """A person's own open work: holds not yet requested, and requests waiting for approval,
    soonest to lapse first. `approvers`: who may approve their requests (not themselves)."""

    requests: list[Request]
    approvers: tuple[str, ...]


@dataclass(frozen=True)
class DaySummary:
    """What happened on one UTC day, from the sealed audit log.

    `outcomes`: requests that reached each final state that day; `spent`: the sum of what
    the day's purchases cost (`unpriced`: purchases with no recorded amount); `refusals`:
    refused actions, by action; `still_checking`: requests whose outcome numbot was still
    checking with Flowyte when the digest was made.
    """

    day: date
    spent: Decimal
    unpriced: int
    requested: int
    outcomes: dict[str, int]
    still_checking: int
    refusals: dict[str, int]
    # Numbers that began to reach nobody that day (the first few, by number), and how many.
    new_idle: tuple[str, ...] = ()
    new_idle_total: int = 0

    @property
    def quiet(self) -> bool:
        return not (
            self.requested
            or any(self.outcomes.values())
            or self.still_checking
            or self.refusals
            or self.new_idle_total
        )


@dataclass(frozen=True)
class Digest:
    """A day's summary, and the audit log as it stood once the digest was sealed into it:
    `entries` entries, the newest (the digest's own) with hash `head`."""

    summary: DaySummary
    head: str
    entries: int

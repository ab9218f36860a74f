"""What the owned numbers keep costing, decided without I/O: the monthly bill, the wallet's
runway, when it runs low, toll-free numbers, months of spend. Pure, and tested alone.

All money is Decimal USD; Flowyte's usage items count credits, and 1 credit is exactly $0.01.
A cost numbot cannot read is never taken for $0: a bill says how many numbers it could not
price, and a month whose usage could not be read says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from bot.flowyte.models import UsageItem, Wallet
from bot.kernel.money import usd

CREDIT = Decimal("0.01")  # USD per Flowyte credit [docs: concepts/billing]
DAYS_PER_MONTH = Decimal("30.4375")  # 365.25 / 12: the average month a rental is billed for
TOLL_FREE_SURCHARGE = Decimal("0.02")  # USD per inbound minute on a toll-free number [docs]
# North American toll-free area codes (8XX); Flowyte's toll-free numbers are these.
TOLL_FREE_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})
TOLL_FREE_NOTE = f"toll-free: every inbound minute costs {usd(TOLL_FREE_SURCHARGE)} more"
# How long after a month ends its usage may still change: a rental item may post days late.
USAGE_GRACE = timedelta(days=3)
OUTSIDE_THE_MONTH = "Flowyte answered charges outside the month asked for"
NOT_READ = "not read yet"  # a month whose usage numbot has not read (never $0)


def credits_to_usd(credits: Decimal) -> Decimal:
    return credits * CREDIT


def is_toll_free(e164: str) -> bool:
    return e164.startswith("+1") and len(e164) == 12 and e164[2:5] in TOLL_FREE_CODES


@dataclass(frozen=True)
class MonthlyBill:
    """What the owned numbers cost a month: `total` over the `priced` numbers, and how many
    more (`unpriced`) have no known monthly cost."""

    total: Decimal
    priced: int
    unpriced: int

    @property
    def numbers(self) -> int:
        return self.priced + self.unpriced

    def plus(self, monthly: Decimal | None) -> MonthlyBill:
        """The bill with one more number at `monthly` (None: its price is unknown)."""
        if monthly is None:
            return MonthlyBill(self.total, self.priced, self.unpriced + 1)
        return MonthlyBill(self.total + monthly, self.priced + 1, self.unpriced)

    def words(self) -> str:
        """`$34.50 a month`, or `at least $34.50 a month (2 numbers' cost unknown)`."""
        if not self.unpriced:
            return f"{usd(self.total)} a month"
        unknown = "1 number's" if self.unpriced == 1 else f"{self.unpriced} numbers'"
        return f"at least {usd(self.total)} a month ({unknown} cost unknown)"


NO_NUMBERS = MonthlyBill(Decimal(0), 0, 0)


def monthly_bill(price_counts: Iterable[tuple[Decimal | None, int]]) -> MonthlyBill:
    """The bill from (monthly cost, how many numbers at it) pairs, exactly."""
    total, priced, unpriced = Decimal(0), 0, 0
    for price, count in price_counts:
        if price is None:
            unpriced += count
        else:
            total += price * count
            priced += count
    return MonthlyBill(total, priced, unpriced)


def runway_days(balance: Decimal, monthly: Decimal) -> int | None:
    """Whole days `balance` pays `monthly` for (None when nothing is due each month)."""
    if monthly <= 0:
        return None
    if balance <= 0:
        return 0
    days = balance * DAYS_PER_MONTH / monthly
    return int(days.to_integral_value(rounding=ROUND_FLOOR))


def lasts_for(balance: Decimal, bill: MonthlyBill) -> str | None:
    """`lasts about 8 days` (`does not cover a day`), or None when nothing is due a month."""
    days = runway_days(balance, bill.total)
    if days is None:
        return None
    if days == 0:
        return "does not cover a day"
    return f"lasts about {'1 day' if days == 1 else f'{days} days'}"


def lasts(balance: Decimal, bill: MonthlyBill) -> str:
    """`lasts about 8 days at $34.50 a month`: the numbers alone (calls cost extra)."""
    days = runway_days(balance, bill.total)
    if days is None:
        if bill.unpriced:
            return f"the numbers' monthly cost is unknown ({bill.words()})"
        return "no number costs anything a month"
    if days == 0:
        return f"does not cover the numbers' {bill.words()}"
    span = "1 day" if days == 1 else f"{days} days"
    return f"lasts about {span} at {bill.words()}"


def auto_reload_covers(wallet: Wallet) -> bool:
    """Auto-reload tops the wallet up whenever it falls below its threshold: with it on, a
    positive amount and a positive threshold, a low balance is refilled before it is gone.

    Anything less covers nothing, and the runway alert stands: off or unknown; an amount of
    nothing; and a threshold unknown or 0, since a reload that waits for the balance to reach
    $0 comes only once there is nothing left to pay the numbers with (and one whose threshold
    Flowyte does not say cannot be counted on to come before that)."""
    amount, threshold = wallet.auto_reload_amount_usd, wallet.auto_reload_threshold_usd
    return (
        wallet.auto_reload_enabled is True
        and amount is not None
        and amount > 0
        and threshold is not None
        and threshold > 0
    )


def runs_low(wallet: Wallet, bill: MonthlyBill, alert_days: int) -> bool:
    """The balance covers fewer than `alert_days` days of the numbers, and auto-reload will
    not refill it."""
    days = runway_days(wallet.balance_usd, bill.total)
    return days is not None and days < alert_days and not auto_reload_covers(wallet)


def bill_after(
    bill: MonthlyBill, monthly: Decimal | None, balance: Decimal | None, cost: Decimal | None
) -> str:
    """The purchase card's line: `numbers: $34.50 → $35.65 a month; the wallet then lasts
    about 8 days`. "Then" is after the purchase: the balance less what it costs now (`cost`:
    setup and first month), at the bill with it. Either unknown: no days are claimed."""
    after = bill.plus(monthly)
    line = f"numbers: {usd(bill.total)} → {after.words()}"
    if balance is not None and cost is not None:
        days = runway_days(balance - cost, after.total)
        if days == 0:
            line += "; the wallet then does not cover a day"
        elif days is not None:
            span = "1 day" if days == 1 else f"{days} days"
            line += f"; the wallet then lasts about {span}"
    return line


def bar(amount: Decimal, largest: Decimal, width: int = 20) -> str:
    """A bar of `width` blocks at most, in proportion to `largest`; any spend shows one."""
    if largest <= 0 or amount <= 0:
        return ""
    blocks = int((amount * width / largest).to_integral_value(rounding=ROUND_FLOOR))
    return "█" * max(1, min(width, blocks))


# -- Flowyte's number charges, a month at a time -----------------------------------------------


@dataclass(frozen=True)
class UsageTally:
    """Flowyte's usage items for [start, end) as read so far: the credits of channel `number`,
    how many items were read (every channel), and how many lay outside the window asked for.

    Flowyte's date-range parameters are inferred, not documented: a Flowyte that ignored them
    would answer every charge ever made. An item whose `time` lies outside [start, end) is
    therefore never summed, and one such item makes the whole month unreadable (`outside`),
    never the all-time total. An item without a readable time cannot be checked and is
    counted (docs/flowyte-assumptions.md)."""

    start: datetime
    end: datetime
    number_credits: Decimal = Decimal(0)
    items: int = 0
    outside: int = 0

    def add(self, page: Iterable[UsageItem]) -> UsageTally:
        credits, items, outside = self.number_credits, self.items, self.outside
        for item in page:
            items += 1
            if item.time is not None and not self.start <= item.time < self.end:
                outside += 1
            elif item.channel == "number":
                credits += item.credits
        return UsageTally(self.start, self.end, credits, items, outside)


def usage_complete(end: datetime, read_at: datetime, grace: timedelta = USAGE_GRACE) -> bool:
    """A month's usage read at `read_at` (the read's start) will not change any more: the
    month ended at least `grace` before, so late rental items have posted."""
    return read_at >= end + grace


def usage_due(read_at: datetime | None, complete: bool, now: datetime, fresh: timedelta) -> bool:
    """Whether a month's usage should be read (again): never read, or not complete and read
    `fresh` or longer ago. A complete month is never read again."""
    if read_at is None:
        return True
    return not complete and now - read_at >= fresh

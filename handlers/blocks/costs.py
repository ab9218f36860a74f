"""What the numbers keep costing, as people read it: the wallet with its runway, the numbers
that reach nobody (each with Request release), and six months of spend drawn in text
(Slack renders no charts without an image host). Pure builders."""

from __future__ import annotations

from decimal import Decimal

from bot.flowyte.models import Wallet
from bot.kernel.costs import NOT_READ, bar, is_toll_free
from bot.kernel.money import usd
from bot.kernel.outcomes import IdleList, SpendMonth, SpendReport, WalletView
from handlers import ids
from handlers.blocks.common import (
    Block,
    Message,
    button,
    context,
    escape,
    flowyte_id,
    message,
    section,
    sections,
    slack_date,
)
from handlers.blocks.paging import IDLE_PAGE_ROWS, list_value, nav_blocks, page_of

BAR_WIDTH = 16


def build_wallet(view: WalletView | Wallet, *, sandbox: bool) -> Message:
    """The balance, auto-reload, the numbers' monthly cost and how long the balance lasts,
    the month against the budget, and the numbers that reach nobody."""
    if isinstance(view, Wallet):
        view = WalletView(view)
    wallet = view.wallet
    text = f":moneybag: Wallet balance: *{usd(wallet.balance_usd)}*"
    if view.runway:
        text += f": {view.runway}"
    lines = [text + "."]
    lines.append(reload_line(wallet))
    if view.reading is not None:
        lines.append(
            still_reading(view.reading, "what they cost a month and how long the balance lasts")
        )
    if view.bill is not None and view.bill.numbers:
        count = view.bill.numbers
        lines.append(
            f"{count} number{'s' if count != 1 else ''} owned: {view.bill.words()} (calls are "
            "billed on top)."
        )
    if view.budget:
        lines.append(view.budget + ".")
    if view.idle and view.idle_bill is not None:
        lines.append(
            f":warning: {idle_phrase(view.idle, view.idle_bill.words())}: `/numbers idle` lists them."
        )
    lines.append("Top-ups happen in the Flowyte dashboard (a card payment numbot cannot make).")
    return message(lines[0], [section("\n".join(lines))], sandbox=sandbox)


def reload_line(wallet: Wallet) -> str:
    if wallet.auto_reload_enabled is None:
        return "Auto-reload: Flowyte did not say."
    if not wallet.auto_reload_enabled:
        return "Auto-reload is off."
    amount, threshold = wallet.auto_reload_amount_usd, wallet.auto_reload_threshold_usd
    if amount is None or threshold is None:
        return "Auto-reload is on."
    return f"Auto-reload is on: it adds {usd(amount)} whenever the balance falls below {usd(threshold)}."


def still_reading(seen: int, then: str) -> str:
    """numbot has not read every owned number yet: nothing about them is claimed (not $0)."""
    return (
        f":hourglass_flowing_sand: numbot is still reading the organization's numbers from "
        f"Flowyte ({seen:,} so far): {then} follow once it has read them all."
    )


def idle_phrase(count: int, cost: str) -> str:
    """`3 numbers reach nobody: $3.45 a month`."""
    verb = "reaches" if count == 1 else "reach"
    return f"{count} number{'s' if count != 1 else ''} {verb} nobody: {cost}"


def build_idle(idle: IdleList, *, sandbox: bool) -> Message:
    """The numbers that reach nobody, a page of them (IDLE_PAGE_ROWS, by number), each with
    its monthly cost and Request release, and Previous / Next when there are more."""
    if idle.reading is not None:
        text = still_reading(idle.reading, "the numbers that reach nobody")
        return message(text, [section(text)], sandbox=sandbox)
    if not idle.total:
        text = ":white_check_mark: Every owned number reaches an agent that was published."
        if not idle.agents_known:
            text = (
                "No number is routed to no agent. numbot could not read the agents just now, "
                "so numbers routed to an agent never published are not checked."
            )
        return message(text, [section(text)], sandbox=sandbox)
    title = idle_phrase(idle.total, idle.bill.words())
    blocks: list[Block] = [section(f"*{title}*")]
    note = "Routed to no agent, or to one never published: callers reach nothing."
    if not idle.agents_known:
        note = "Routed to no agent (the agents could not be read just now)."
    blocks.append(context(note))
    for row in idle.rows:
        why = "no agent"
        if row.agent_id is not None:
            why = f"agent `{flowyte_id(row.agent_id)}` never published"
        cost = "cost unknown" if row.monthly_cost is None else f"{usd(row.monthly_cost)} a month"
        tolls = " · toll-free" if is_toll_free(row.e164) else ""
        blocks.append(
            section(
                f"*{flowyte_id(row.e164)}* · {why} · {cost}{tolls}",
                accessory=button(
                    "Request release",
                    ids.REQUEST_RELEASE,
                    row.e164,
                    spoken=f"Request release of {row.e164}",
                ),
            )
        )
    shown = page_of(idle.total, idle.page, IDLE_PAGE_ROWS)
    blocks += nav_blocks(
        shown,
        "numbers",
        (ids.IDLE_PREVIOUS, list_value(shown.index - 1)),
        (ids.IDLE_NEXT, list_value(shown.index + 1)),
    )
    blocks.append(
        context("A release goes to the approval channel: a second person must approve it.")
    )
    return message(title, blocks, sandbox=sandbox)


def _charged(month: SpendMonth) -> str:
    """What Flowyte charged for numbers, as of when it was read (final once complete); a
    month not read yet, or that could not be read, says so: never $0."""
    if month.charged is None:
        if month.unreadable == NOT_READ:
            return "Flowyte's charges: not read yet (numbot reads them in the background)"
        return f"Flowyte's charges could not be read: {escape(month.unreadable)}"
    said = f"Flowyte charged {usd(month.charged)} for numbers"
    if not month.complete and month.read_at is not None:
        said += f" (as of {slack_date(month.read_at)})"
    return said


def build_spend(report: SpendReport, *, sandbox: bool) -> Message:
    """Month by month: Flowyte's number charges, with a bar, beside what numbot bought."""
    charged = [m.charged for m in report.months if m.charged is not None]
    largest = max([*charged, *(m.numbot_total for m in report.months)], default=Decimal(0))
    rows = []
    for month in report.months:
        flowyte = _charged(month)
        drawn = bar(month.charged if month.charged is not None else Decimal(0), largest, BAR_WIDTH)
        bought = (
            f"numbot bought {month.bought} ({usd(month.setup)} setup + {usd(month.monthly)} "
            f"first months), released {month.released}"
        )
        if month.unpriced:
            bought += f"; {month.unpriced} without a readable price"
        rows.append(f"*{month.month}* `{drawn or '·'}`\n{flowyte} · {bought}")
    title = f"Spend on numbers, the last {len(report.months)} months"
    blocks: list[Block] = [section(f"*{title}*"), *sections(rows)]
    if report.top:
        top = ", ".join(f"<@{person}> {usd(amount)}" for person, amount in report.top)
        blocks.append(context(f"Top requesters: {top}"))
    blocks.append(
        context(
            "Flowyte's charges are its usage items for numbers (1 credit = $0.01); numbot's are "
            "the prices sealed when each purchase was requested."
        )
    )
    return message(title, blocks, sandbox=sandbox)

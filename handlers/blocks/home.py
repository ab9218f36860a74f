"""App Home: what one person sees in numbot's Home tab (the view for views.publish).

Top to bottom: the wallet and this month's spend, with a Search numbers button; your
holds, each with Request purchase and Cancel; for approvers, what waits for them, each
with Approve (the card's confirm dialog) and Reject, then what they approved that waits for
others, without buttons; your requests and their state; the
numbers owned, those routed to no agent flagged. Every button carries the action id and
request id of its twin on the hold message or the approval card, so it acts exactly like
it: who may do what is checked again on the server at click time.

Pure: facts in, a view out. Slack allows a Home 100 blocks: each list is capped, so the
whole stays well inside that however much there is, and says how many it left out.
What people wrote (a reason) is plain_text; what Flowyte names (numbers, agents) is
escaped mrkdwn.
"""

from __future__ import annotations

from decimal import Decimal

from bot.flowyte.models import OwnedNumber
from bot.kernel.costs import lasts_for
from bot.kernel.home import Capped, Home
from bot.kernel.money import usd
from bot.kernel.text import clean_user_text
from handlers.blocks.common import (
    SANDBOX_NOTE,
    Block,
    context,
    escape,
    literal,
    section,
    sections,
    slack_date,
)
from handlers.blocks.costs import idle_phrase
from handlers.blocks.requests import (
    approved_note,
    cancel_button,
    decision_actions,
    request_purchase_button,
)
from handlers.blocks.search_modal import build_search_button
from storage.requests import IN_FLIGHT_STATUSES, Request

MAX_BLOCKS = 100  # what Slack allows a Home view
MAX_NUMBERS = 15  # owned numbers listed; the rest are counted
UNREACHABLE = "numbot could not reach Flowyte just now"
_ID = 64  # characters of a number or id shown
_NAME = 80  # characters of an agent's name

# A request's state in a line of "Your requests"; {by} is who decided it.
STATES = {
    "pending": ":hourglass_flowing_sand: waiting for an approver",
    "approved": ":gear: approved by <@{by}>, under way",
    "purchasing": ":gear: approved by <@{by}>, buying now",
    "releasing": ":gear: approved by <@{by}>, releasing now",
    "checking": ":mag: approved by <@{by}>; still confirming with Flowyte whether it went through",
    "purchased": ":white_check_mark: bought (approved by <@{by}>)",
    "released": ":white_check_mark: released (approved by <@{by}>)",
    "failed": ":x: failed; nothing more will happen",
    "rejected": ":no_entry: rejected by <@{by}>",
    "cancelled": ":no_entry: cancelled",
    "expired": ":alarm_clock: the hold lapsed before approval",
}


def build_home(home: Home, *, sandbox: bool) -> Block:
    blocks = [
        *_top(home, sandbox),
        *_holds(home.holds),
        *(_waiting(home) if home.approver else []),
        *_requests(home.requests),
        *_numbers(home),
    ]
    if len(blocks) > MAX_BLOCKS:  # whatever it was given: Slack refuses a longer Home
        blocks = [
            *blocks[: MAX_BLOCKS - 1],
            context(
                "…and more than Home can show: `/numbers holds` and `/numbers list` have it all."
            ),
        ]
    return {"type": "home", "blocks": blocks}


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _divider() -> Block:
    return {"type": "divider"}


def _number(e164: str) -> str:
    return escape(clean_user_text(e164, max_length=_ID)).replace("`", "'")


def _money(amount: Decimal | None) -> str:
    return usd(amount) if amount is not None else "unknown"


def _more(count: int, what: str) -> list[Block]:
    return [context(f"…and {count} more {what}.")] if count else []


# -- the wallet, this month, search -----------------------------------------------------------


def _top(home: Home, sandbox: bool) -> list[Block]:
    wallet = (
        f":moneybag: *Wallet:* {usd(home.wallet)}"
        if home.wallet is not None
        else f":warning: *Wallet:* {UNREACHABLE}."
    )
    costs = home.costs
    if costs is not None and costs.bill.numbers:
        wallet += f" · numbers {costs.bill.words()}"
        runway = lasts_for(home.wallet, costs.bill) if home.wallet is not None else None
        if runway:
            wallet += f" · {runway}"
    spend = home.spend
    month = spend.month.strftime("%B %Y")
    bought = f"{spend.purchases} number{'s' if spend.purchases != 1 else ''}"
    lines = [wallet, f":receipt: *Spent in {month} (UTC):* {usd(spend.total)} on {bought}"]
    if spend.budget is not None and spend.committed is not None:
        lines.append(f":bar_chart: *This month:* {usd(spend.committed)} of {usd(spend.budget)}")
    if costs is not None and costs.idle:
        lines.append(
            f":warning: {idle_phrase(costs.idle, costs.idle_bill.words())} (`/numbers idle`)"
        )
    blocks: list[Block] = [context(SANDBOX_NOTE)] if sandbox else []
    return [*blocks, section("\n".join(lines)), build_search_button(), _divider()]


# -- your holds -------------------------------------------------------------------------------


def _holds(holds: Capped) -> list[Block]:
    blocks = [_header("Your holds")]
    if not holds.rows:
        blocks.append(
            context("None. Search for a number and *Reserve* it: a hold is free for ~30 minutes.")
        )
    for hold in holds.rows:
        until = slack_date(hold.hold_expires_at) if hold.hold_expires_at else "soon"
        text = (
            f":lock: *{_number(hold.e164)}*, held for you until {until}.\n"
            f"Buying it costs {_money(hold.total_cost)} now, then {_money(hold.monthly_cost)}/month."
        )
        blocks += [
            section(text, block_id=f"home_hold:{hold.id}"),
            {
                "type": "actions",
                "block_id": f"home_hold_actions:{hold.id}",
                "elements": [request_purchase_button(hold), cancel_button(hold)],
            },
        ]
    return [*blocks, *_more(holds.more, "holds"), _divider()]


# -- waiting for you (approvers) --------------------------------------------------------------


def _waiting(home: Home) -> list[Block]:
    """What waits for the viewer's decision, with the card's buttons; then what they approved
    that waits for others, without buttons (a second click would only be refused)."""
    blocks = [_header("Waiting for you")]
    waiting, viewer = home.waiting, home.user
    if all(viewer in r.approvals for r in waiting.rows):
        blocks.append(context("Nothing waits for your approval."))
    for request in waiting.rows:
        approved = approved_note(request, home.approvers) if viewer in request.approvals else None
        blocks += _decision(request, approved=approved)
    return [*blocks, *_more(waiting.more, "in the approval channel"), _divider()]


def _decision(request: Request, *, approved: str | None) -> list[Block]:
    """A pending request as an approver needs it, with the card's own buttons; or, once
    they approved it, who it still waits for."""
    who, number = f"<@{request.requester}>", _number(request.e164)
    if request.kind == "release":
        text = (
            f":wastebasket: *{who} asks to release {number}* to the carrier: it cannot be "
            f"undone. Saves {_money(request.monthly_cost)}/month."
        )
    else:
        until = slack_date(request.hold_expires_at) if request.hold_expires_at else "unknown"
        text = (
            f":shopping_trolley: *{who} asks to buy {number}*: {_money(request.total_cost)} now, "
            f"then {_money(request.monthly_cost)}/month. The hold lapses {until}."
        )
    return [
        section(text, block_id=f"home_card:{request.id}"),
        # The requester's words, labelled, in plain_text (as on the card): inert.
        {"type": "context", "elements": [literal(f"Why: {request.reason or 'none given'}")]},
        # The card's own buttons: the same ids, styles and confirm dialog.
        context(approved)
        if approved
        else decision_actions(request, block_id=f"home_decide:{request.id}"),
    ]


# -- your requests ----------------------------------------------------------------------------


def _requests(requests: list[Request]) -> list[Block]:
    blocks = [_header("Your requests")]
    if not requests:
        return [*blocks, context("None yet."), _divider()]
    return [*blocks, *sections([_request_row(r) for r in requests]), _divider()]


def _request_row(request: Request) -> str:
    what = "Release" if request.kind == "release" else "Purchase"
    state = STATES.get(request.status, request.status).format(by=request.decided_by or "?")
    under_way = request.status == "pending" or request.status in IN_FLIGHT_STATUSES
    when = ("since " if under_way else "") + slack_date(request.last_change)
    return f"• {what} of *{_number(request.e164)}*: {state} · {when}"


# -- numbers owned ----------------------------------------------------------------------------


def _numbers(home: Home) -> list[Block]:
    blocks = [_header("Numbers owned")]
    if home.numbers_reading is not None:
        so_far = f" ({home.numbers_reading} so far)" if home.numbers_reading else ""
        return [
            *blocks,
            section(
                f":hourglass_flowing_sand: numbot is still reading your numbers from "
                f"Flowyte{so_far}; they show here once it has read them all."
            ),
        ]
    if home.numbers is None:
        return [*blocks, section(f":warning: {UNREACHABLE}; open this tab again in a minute.")]
    if not home.numbers:
        return [*blocks, context("This organization owns no numbers yet.")]
    unrouted = [n for n in home.numbers if not n.default_agent_id]
    routed = [n for n in home.numbers if n.default_agent_id]
    total = len(home.numbers) if home.numbers_total is None else home.numbers_total
    ringing_none = len(unrouted) if home.numbers_unrouted is None else home.numbers_unrouted
    summary = f"*{total} number{'s' if total != 1 else ''} owned*"
    if ringing_none:
        summary += f", :warning: {ringing_none} ringing no agent"
    shown = (unrouted + routed)[:MAX_NUMBERS]
    rows = [_number_row(n, home) for n in shown]
    return [
        *blocks,
        section(summary),
        *sections(rows),
        *(
            [context(f"…and {total - len(shown)} more: `/numbers list`")]
            if total > len(shown)
            else []
        ),
    ]


def _number_row(number: OwnedNumber, home: Home) -> str:
    agent_id = number.default_agent_id
    if not agent_id:
        where = ":warning: _rings no agent_ (`/numbers assign`)"
    else:
        agent = home.agents.get(agent_id)
        label = f"`{_number(agent_id)}`"
        if agent is not None and agent.name:
            label = f"{escape(clean_user_text(agent.name, max_length=_NAME))} ({label})"
        where = f"→ {label}"
    return f"• *{_number(number.e164)}* {where}"

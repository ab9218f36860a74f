"""What approvers see outside the card: their DM copy, the reminder, and the card's thread."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC
from decimal import Decimal

from bot.kernel.money import usd
from handlers.blocks.common import Block, Message, context, literal, message, section, slack_date
from handlers.blocks.requests import (
    approvals_line,
    approved_note,
    decision_actions,
    fallback,
    mentions,
    reason_block,
    retry_actions,
    status_elements,
)
from storage.requests import Request


def _summary(request: Request, balance: Decimal | None) -> str:
    if request.kind == "release":
        return (
            f"*<@{request.requester}> asks to release {request.e164}* to the carrier "
            f"(saves {usd(request.monthly_cost) if request.monthly_cost is not None else 'unknown'}"
            "/month). :warning: This cannot be undone."
        )
    total = usd(request.total_cost) if request.total_cost is not None else "an unknown amount"
    monthly = usd(request.monthly_cost) if request.monthly_cost is not None else "unknown"
    line = f"*<@{request.requester}> asks to buy {request.e164}* for {total} now, then {monthly}/month."
    seen = ""
    if balance is None and request.wallet_usd is not None:
        # A redraw: the balance as the copy first showed it, and when it was read (as the card).
        balance = request.wallet_usd
        if request.wallet_seen_at is not None:
            seen = f" (as of {slack_date(request.wallet_seen_at, '{time}')})"
    if (
        balance is not None
        and request.total_cost is not None
        and request.status in ("pending", "unfunded")
    ):
        line += f" Wallet: {usd(balance)}{seen} → {usd(balance - request.total_cost)} after."
    return line


def build_approver_copy(
    request: Request,
    *,
    balance: Decimal | None,
    sandbox: bool,
    heading: str = "",
    viewer: str | None = None,
    approvers: Collection[str] | None = None,
) -> Message:
    """An approver's DM: the request in brief, and the same Approve / Reject as the card
    (same action ids, same request id: the service checks everything at click time). Once
    `viewer` has approved, their copy says so, and who it still waits for, instead
    (named from `approvers`, everyone who may approve as known, when they are few)."""
    lines = [heading] if heading else []
    lines.append(_summary(request, balance))
    if request.status == "pending" and request.hold_expires_at and request.kind == "purchase":
        lines.append(f"The hold lapses {slack_date(request.hold_expires_at)}.")
    quorum = approvals_line(request)
    if quorum:
        lines.append(quorum)
    if request.card_channel:
        lines.append(f"The card is in <#{request.card_channel}>.")
    blocks: list[Block] = [section("\n".join(lines)), reason_block(request)]
    if request.status == "pending" and viewer is not None and viewer in request.approvals:
        blocks.append(context(approved_note(request, approvers)))
    elif request.status == "pending":
        blocks.append(decision_actions(request, block_id=f"decide_dm:{request.id}"))
    elif request.status == "unfunded":
        blocks.append(retry_actions(request, block_id=f"retry_dm:{request.id}"))
    blocks.append({"type": "context", "elements": status_elements(request)})
    return message(fallback(request), blocks, sandbox=sandbox)


def build_reminder_for_requester(request: Request, *, sandbox: bool) -> Message:
    expires = slack_date(request.hold_expires_at) if request.hold_expires_at else "soon"
    text = (
        f":alarm_clock: Your request for {request.e164} is still waiting for an approver, and "
        f"the hold lapses {expires}. The approvers were reminded."
    )
    return message(f"Your hold on {request.e164} lapses soon", [section(text)], sandbox=sandbox)


def build_thread_reminder(
    request: Request, approvers: Collection[str], groups: Collection[str] = ()
) -> Message:
    """A reply under what the approvers already have (the card, or their copy): no second
    copy to act on. Its notification text says it is a reminder, and by when."""
    lapses = request.hold_expires_at
    expires = slack_date(lapses) if lapses else "soon"
    by = f" before {lapses.astimezone(UTC):%H:%M} UTC" if lapses else " soon"
    called = mentions(approvers, request.requester, groups)
    lead = f"{called} " if called else ""
    what = "release" if request.kind == "release" else "purchase"
    text = (
        f":alarm_clock: *Reminder*: {lead}the {what} of {request.e164} still waits for a "
        f"decision, and its hold lapses {expires}. Approve or reject it on the card before then."
    )
    return {"text": f"Reminder: decide on {request.e164}{by}", "blocks": [section(text)]}


_STORY = {
    "approved": ":gear: Approved by <@{by}>; {verb} now.",
    "checking": ":mag: Flowyte did not confirm in time: still confirming with Flowyte whether it went through.",
    "purchased": ":white_check_mark: Bought{cost}.",
    "released": ":white_check_mark: Released to the carrier.",
    "failed": ":x: Failed; nothing more will happen. Why:",
    "rejected": ":no_entry: Rejected by <@{by}>. Why:",
    "cancelled": ":no_entry: Cancelled by the requester.",
    "expired": ":alarm_clock: The hold lapsed before anyone approved; nothing was bought.",
    "pending": ":leftwards_arrow_with_hook: Nothing was bought, and the request waits for approval again. Why:",
    "unfunded": ":moneybag: Approved, but the wallet was short; nothing was bought yet. Why:",
}
_WITH_DETAIL = ("failed", "rejected", "pending", "unfunded")
# What a phone shows of a thread note: a sentence, not "+14155550612: purchased".
_TOLD = {
    "approved": "{e164} is approved; numbot is carrying it out.",
    "checking": "numbot is still confirming with Flowyte whether {e164} went through.",
    "purchased": "{e164} was bought{cost}.",
    "released": "{e164} was released to the carrier.",
    "failed": "The request for {e164} failed; nothing more will happen.",
    "rejected": "The request for {e164} was rejected.",
    "cancelled": "The request for {e164} was cancelled by the requester.",
    "expired": "The hold on {e164} lapsed; nothing was bought.",
    "pending": "Nothing was bought for {e164}; it waits for approval again.",
    "unfunded": "{e164} is approved, but the wallet was short; nothing was bought yet.",
}


def build_story_line(request: Request) -> Message | None:
    """One line for the card's thread when the request moves, or an approval is counted
    toward its quorum (None: nothing to tell)."""
    if request.status == "pending" and request.approvals:
        count, needed = len(request.approvals), request.approvals_needed
        text = (
            f":ballot_box_with_check: Approved by <@{request.approvals[-1]}>: {count} of "
            f"{needed}; waiting for another approver."
        )
        told = f"{count} of {needed} approvals are in for {request.e164}; it waits for another approver."
        return {"text": told, "blocks": [section(text)]}
    template = _STORY.get(request.status)
    if template is None:
        return None
    verb = "releasing" if request.kind == "release" else "buying"
    cost = f" for {usd(request.total_cost)}" if request.total_cost is not None else ""
    text = template.format(by=request.decided_by or "?", verb=verb, cost=cost)
    elements: list[Block] = [{"type": "mrkdwn", "text": text}]
    if request.status in _WITH_DETAIL:
        elements.append(literal(request.detail or "none given"))
    return {
        "text": _TOLD.get(request.status, "{e164} is now {status}.").format(
            e164=request.e164, status=request.status, cost=cost
        ),
        "blocks": [{"type": "context", "elements": elements}],
    }

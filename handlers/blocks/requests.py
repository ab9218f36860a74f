"""A held number, and the approval card of a purchase or release request."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from bot.kernel.costs import TOLL_FREE_NOTE, is_toll_free
from bot.kernel.money import usd
from bot.kernel.outcomes import Refused, Requested
from handlers import ids
from handlers.blocks.common import (
    Block,
    Message,
    button,
    literal,
    message,
    refusal,
    section,
    slack_date,
)
from storage.requests import Request

STATUS_LINES = {
    "held": ":hourglass_flowing_sand: Held, not yet requested.",
    "pending": ":hourglass_flowing_sand: Waiting for an approver.",
    "approved": ":gear: Approved by {approvers}; buying now…",
    "purchasing": ":gear: Approved by {approvers}; buying now…",
    "releasing": ":gear: Approved by {approvers}; releasing now…",
    "checking": ":mag: Approved by {approvers}. Flowyte did not confirm in time: still confirming "
    "with Flowyte whether it went through (it is never done twice).",
    "purchased": ":white_check_mark: Approved by {approvers}; *purchased*.",
    "released": ":white_check_mark: Approved by {approvers}; *released* to the carrier.",
    "unfunded": ":moneybag: Approved by {approvers}, but nothing was bought yet: {detail}",
    "failed": ":x: Failed: {detail}",
    "rejected": ":no_entry: Rejected by <@{by}>; nothing was charged. Why: {detail}",
    "cancelled": ":no_entry: Cancelled by the requester. Nothing was charged.",
    "expired": ":alarm_clock: The hold lapsed before anything was bought; nothing was charged. "
    "Reserve it again to request it again.",
}


def status_elements(request: Request) -> list[Block]:
    """The card's status as context elements; Flowyte's `{detail}` is shown as plain_text.

    A detail is whatever Flowyte (or a failed call) said: it is never mixed into mrkdwn,
    so it cannot bold, mention, link or fake a line such as "Approved by …".
    """
    template = STATUS_LINES.get(request.status, request.status)
    before, has_detail, after = template.partition("{detail}")
    names = {"by": request.decided_by or "?", "approvers": approvers_named(request)}
    elements: list[Block] = []
    if before.strip():
        elements.append({"type": "mrkdwn", "text": before.format(**names).rstrip()})
    if has_detail:
        elements.append(literal(request.detail or "no detail recorded"))
    if after.strip():
        elements.append({"type": "mrkdwn", "text": after.format(**names).strip()})
    return elements


def approvers_named(request: Request) -> str:
    """Everyone who approved, in the order they did ("<@bob> and <@carol>")."""
    people = list(request.approvals) or ([request.decided_by] if request.decided_by else [])
    if not people:
        return "?"
    named = [f"<@{p}>" for p in people]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _money(amount: Decimal | None) -> str:
    return usd(amount) if amount is not None else "unknown"


def request_purchase_button(request: Request) -> Block:
    """Request purchase on a held number; in a list of holds, a screen reader names which."""
    cost = f", {usd(request.total_cost)} now" if request.total_cost is not None else ""
    return button(
        "Request purchase",
        ids.REQUEST_PURCHASE,
        request.id,
        style="primary",
        spoken=f"Request purchase of {request.e164}{cost}",
    )


def cancel_button(request: Request, label: str = "Cancel") -> Block:
    """The requester's Cancel: the reject modal asks "Cancel your request…?" first, so no
    confirm dialog here. Spoken with the number, as it sits in a list."""
    spoken = (
        f"Cancel the hold on {request.e164}"
        if request.status == "held"
        else f"Cancel your request for {request.e164}"
    )
    return button(label, ids.REJECT, request.id, spoken=spoken)


def build_hold(request: Request, *, sandbox: bool) -> Message:
    expires = (
        slack_date(request.hold_expires_at) if request.hold_expires_at else "in about 30 minutes"
    )
    text = (
        f":lock: *{request.e164}* is held for you until {expires}. Holding is free.\n"
        f"Buying it costs {_money(request.total_cost)} now (setup {_money(request.setup_cost)} "
        f"+ first month), then {_money(request.monthly_cost)}/month, after another person approves."
    )
    blocks = [
        section(text, block_id=f"hold:{request.id}"),
        {"type": "actions", "elements": [request_purchase_button(request)]},
    ]
    return message(f"{request.e164} is held for you.", blocks, sandbox=sandbox)


def approve_confirm(request: Request) -> Block:
    if request.kind == "release":
        body = f"Release {request.e164} to the carrier for good? Calls to it stop. This cannot be undone."
    else:
        body = f"Buy {request.e164} for {_money(request.total_cost)} now ({_money(request.monthly_cost)}/month after)?"
    return {
        "title": {
            "type": "plain_text",
            "text": "Release for good?" if request.kind == "release" else "Approve?",
        },
        "text": {"type": "plain_text", "text": body},
        "confirm": {
            "type": "plain_text",
            "text": "Release it" if request.kind == "release" else "Approve",
        },
        **({"style": "danger"} if request.kind == "release" else {}),
        "deny": {"type": "plain_text", "text": "Back"},
    }


def fallback(request: Request) -> str:
    """What phones, notifications and screen readers show: who, what, how much."""
    if request.kind == "release":
        saves = f" (saves {_money(request.monthly_cost)}/month)" if request.monthly_cost else ""
        return f"<@{request.requester}> asks to release {request.e164}{saves}"
    return (
        f"<@{request.requester}> asks to buy {request.e164} for {_money(request.total_cost)} "
        f"(then {_money(request.monthly_cost)}/month)"
    )


def mentions(approvers: Collection[str], requester: str, groups: Collection[str] = ()) -> str:
    """The approvers a card calls on: each named approver but the requester, and each
    approver user group (Slack notifies its members)."""
    people = [f"<@{user}>" for user in sorted(approvers) if user != requester]
    return " ".join([*people, *(f"<!subteam^{group}>" for group in groups)])


def approvals_line(request: Request) -> str | None:
    """ "1 of 2 approvals: @bob" while a request needs more than one approver."""
    if request.approvals_needed <= 1 or request.status not in ("pending", "approved"):
        return None
    given = request.approvals
    who = ": " + " ".join(f"<@{a}>" for a in given) if given else ""
    return f"*Approvals:* {len(given)} of {request.approvals_needed}{who}"


MAX_NAMED = 3  # people a waiting note names; more than that, and it gives the count


def _joined(names: list[str], word: str) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {word} " + names[-1]


def approved_note(request: Request, approvers: Collection[str] | None = None) -> str:
    """What an approver who has approved a request still waiting sees instead of the buttons:
    who may still approve it, named when they are few ("waiting for <@carol> or <@dave>"),
    else how many approvals it still needs. `approvers`: everyone who may approve, as known
    (None: not known, as while a user group was never read)."""
    more = max(1, request.approvals_needed - len(request.approvals))
    others = sorted(
        {p for p in approvers or () if p != request.requester and p not in request.approvals}
    )
    if approvers is not None and more <= len(others) <= MAX_NAMED:
        named = [f"<@{p}>" for p in others]
        if more == len(named):
            who = _joined(named, "and")
        elif more == 1:
            who = _joined(named, "or")
        else:
            who = f"{more} of {_joined(named, 'and')}"
    else:
        who = f"{more} more approver{'s' if more != 1 else ''}"
    return f":ballot_box_with_check: You approved · waiting for {who}"


def decision_actions(request: Request, *, block_id: str) -> Block:
    """Approve and Reject, wherever a request is decided (card, DM, Home): the button values
    are only the request id; who may, and whether it still can be, is decided on the server.
    Releasing cannot be undone, so its Approve is the dangerous one."""
    releasing = request.kind == "release"
    cost = f" for {usd(request.total_cost)}" if request.total_cost is not None else ""
    what = f"releasing {request.e164}" if releasing else f"buying {request.e164}{cost}"
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            button(
                "Approve release" if releasing else "Approve",
                ids.APPROVE,
                request.id,
                style="danger" if releasing else "primary",
                confirm=approve_confirm(request),
                spoken=f"Approve {what}",
            ),
            button("Reject…", ids.REJECT, request.id, spoken=f"Reject {what}"),
        ],
    }


def retry_actions(request: Request, *, block_id: str) -> Block:
    """Try again (an approver, once the wallet is topped up) and Reject, for an approved
    purchase Flowyte refused for want of balance. Who may is decided on the server."""
    cost = f" for {usd(request.total_cost)}" if request.total_cost is not None else ""
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            button(
                "Try again",
                ids.RETRY_PURCHASE,
                request.id,
                style="primary",
                confirm={
                    "title": {"type": "plain_text", "text": "Try the purchase again?"},
                    "text": {
                        "type": "plain_text",
                        "text": f"Buy {request.e164} for {_money(request.total_cost)} now, "
                        "if the wallet now covers it?",
                    },
                    "confirm": {"type": "plain_text", "text": "Try again"},
                    "deny": {"type": "plain_text", "text": "Back"},
                },
                spoken=f"Try buying {request.e164}{cost} again",
            ),
            button("Reject…", ids.REJECT, request.id, spoken=f"Reject buying {request.e164}{cost}"),
        ],
    }


def build_approval_card(
    request: Request,
    *,
    balance: Decimal | None,
    sandbox: bool,
    approvers: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
    budget: str | None = None,
    bill: str | None = None,
) -> Message:
    """The card in the approval channel; redrawn in place as the request moves on.
    `budget` and `bill` (what the numbers cost a month with this one) show while it waits.

    Everything in mrkdwn is numbot's; the requester's reason has a block of its own, in
    plain_text, so no reason can add a line that looks like the card's. While it waits, it
    calls on the approvers by name.
    """
    if request.kind == "release":
        lines = [
            f"*<@{request.requester}> asks to release {request.e164}* to the carrier.",
            ":warning: *This cannot be undone*: the number is gone for good, and calls to it stop.",
            f"*Saves:* {_money(request.monthly_cost)}/month",
        ]
    else:
        total = request.total_cost
        seen = ""
        if balance is None and request.wallet_usd is not None:
            # A redraw: the balance as the card first showed it, and when it was read.
            balance = request.wallet_usd
            if request.wallet_seen_at is not None:
                seen = f" (as of {slack_date(request.wallet_seen_at, '{time}')})"
        after = balance - total if balance is not None and total is not None else None
        expires = slack_date(request.hold_expires_at) if request.hold_expires_at else "unknown"
        lines = [
            f"*<@{request.requester}> asks to buy {request.e164}.*",
            f"*Costs now:* {_money(total)} (setup {_money(request.setup_cost)} + first month)   "
            f"*Then:* {_money(request.monthly_cost)}/month",
        ]
        if is_toll_free(request.e164):
            lines.append(f":telephone_receiver: {TOLL_FREE_NOTE.capitalize()}.")
        if request.status in ("pending", "unfunded") and balance is not None:
            lines.insert(2, f"*Wallet:* {_money(balance)}{seen} → {_money(after)} after")
        if request.status == "pending":  # what an approver needs to decide; history after that
            lines.append(f"*Hold lapses:* {expires}")
        if request.status == "unfunded":
            lines.append(f"*Hold lapses:* {expires}. Top up the wallet, then *Try again* before.")
        if after is not None and after < 0 and request.status == "pending":
            lines.append(
                f":warning: The wallet is short by {usd(-after)}; top it up in the Flowyte dashboard first."
            )
    called = mentions(approvers, request.requester, groups)
    if request.status == "pending" and called:
        lines.append(f"*Approvers:* {called}")
    quorum = approvals_line(request)
    if quorum:
        lines.append(quorum)
    if budget and request.status == "pending":
        lines.append(f"*{budget}*")
    if bill and request.status == "pending":
        lines.append(f"*Bill:* {bill}")
    blocks: list[Block] = [
        section("\n".join(lines), block_id=f"card:{request.id}"),
        reason_block(request),
    ]
    if request.status == "pending":
        blocks.append(decision_actions(request, block_id=f"decide:{request.id}"))
    elif request.status == "unfunded":
        blocks.append(retry_actions(request, block_id=f"retry:{request.id}"))
    status = status_elements(request)
    status.append({"type": "mrkdwn", "text": f"·  request `{request.id}`"})
    blocks.append({"type": "context", "elements": status})
    return message(fallback(request), blocks, sandbox=sandbox)


def reason_block(request: Request) -> Block:
    """The requester's words, labelled, in one plain_text: the label and the reason share a
    text object, so the reason always reads as what follows "Why:", never as a line of its own.
    """
    reason = request.reason or "none given"
    return {
        "type": "section",
        "block_id": f"reason:{request.id}",
        "text": literal(f"Why: {reason}"),
    }


def build_requested(
    request: Request, channel: str | None, *, posted: bool, sandbox: bool
) -> Message:
    where = f"<#{channel}>" if channel else "the approval channel"
    what = "Release" if request.kind == "release" else "Purchase"
    if posted:
        text = f"{what} of {request.e164} requested. An approver will decide in {where}; you'll hear back here."
    else:
        # Slack calls are retried (429 after Retry-After, dropped connections) before this,
        # and the sweep posts a pending request's missing card every NUMBOT_SWEEP_SECONDS.
        text = (
            f"{what} of {request.e164} is requested, but Slack would not take the approval card in {where}, "
            "even after retrying. numbot keeps trying and posts it as soon as Slack takes it; "
            "if no card appears within a few minutes, tell your numbot admin."
        )
    return message(text, [section(text)], sandbox=sandbox)


def build_request_reply(requested: Requested | Refused, *, sandbox: bool) -> Message:
    """What the person who asked for a purchase or a release reads: where it waits, or why
    it was refused."""
    if isinstance(requested, Refused):
        return refusal(requested.message, sandbox=sandbox)
    request = requested.request
    return build_requested(
        request, request.card_channel, posted=requested.card_posted, sandbox=sandbox
    )

"""Your work, found again: `/numbers holds`, and Reserve on a number you already hold.

A held number gets Request purchase and Cancel (the requester's Reject is a cancel); a
request waiting for approval says where its card is and who may approve it.
"""

from __future__ import annotations

from decimal import Decimal

from bot.kernel.money import usd
from bot.kernel.outcomes import Holds
from handlers.blocks.common import Block, Message, context, message, section, slack_date
from handlers.blocks.requests import cancel_button, request_purchase_button
from storage.requests import Request

MAX_SHOWN = 20  # two blocks each, with the header and the note: inside Slack's 50
MAX_NAMED = 10  # approvers named on one line; the rest are counted

EMPTY = (
    "You hold no numbers and have no requests waiting for approval. Find one with "
    "`/numbers search 415` (or `/numbers` for the search form) and Reserve it: it is held "
    "for you for about 30 minutes, at no charge."
)


def _money(amount: Decimal | None) -> str:
    return usd(amount) if amount is not None else "an unknown amount"


def _until(request: Request) -> str:
    return slack_date(request.hold_expires_at) if request.hold_expires_at else "about 30 minutes"


def _where(request: Request) -> str:
    return f"<#{request.card_channel}>" if request.card_channel else "the approval channel"


def _who(approvers: tuple[str, ...]) -> str:
    if not approvers:
        return "an approver"
    named = [f"<@{a}>" for a in approvers[:MAX_NAMED]]
    more = len(approvers) - len(named)
    if more:
        return ", ".join(named) + f" or {more} other approver{'s' if more != 1 else ''}"
    if len(named) == 1:
        return named[0]
    return ", ".join(named[:-1]) + " or " + named[-1]


def _held(request: Request) -> list[Block]:
    text = (
        f":lock: *{request.e164}*: held for you until {_until(request)}, not yet requested.\n"
        f"Buying it costs {_money(request.total_cost)} now, then "
        f"{_money(request.monthly_cost)}/month, once another person approves."
    )
    return [
        section(text, block_id=f"holds:{request.id}"),
        {
            "type": "actions",
            "block_id": f"holds_actions:{request.id}",
            "elements": [
                request_purchase_button(request),
                cancel_button(request),
            ],
        },
    ]


def _pending(request: Request, approvers: tuple[str, ...]) -> list[Block]:
    if request.kind == "release":
        what = f"your request to *release* *{request.e164}*"
        lapse = ""
    else:
        what = f"your request to buy *{request.e164}* ({_money(request.total_cost)} now)"
        lapse = f"\nThe hold lapses {_until(request)}: unapproved by then, nothing is bought."
    text = (
        f":hourglass_flowing_sand: {what[0].upper()}{what[1:]} is waiting for approval in "
        f"{_where(request)}, by {_who(approvers)}.{lapse}"
    )
    return [
        section(text, block_id=f"holds:{request.id}"),
        {
            "type": "actions",
            "block_id": f"holds_actions:{request.id}",
            "elements": [cancel_button(request, "Cancel request")],
        },
    ]


def build_holds(holds: Holds, *, sandbox: bool) -> Message:
    """`/numbers holds`: held numbers first, then requests waiting, each soonest to lapse."""
    if not holds.requests:
        return message(
            "You have no holds and no requests waiting.", [section(EMPTY)], sandbox=sandbox
        )
    held = [r for r in holds.requests if r.status == "held"]
    waiting = [r for r in holds.requests if r.status != "held"]
    ordered = [*held, *waiting]
    shown = ordered[:MAX_SHOWN]
    counts = []
    if held:
        counts.append(f"{len(held)} held number{'s' if len(held) != 1 else ''}")
    if waiting:
        counts.append(f"{len(waiting)} request{'s' if len(waiting) != 1 else ''} waiting")
    title = "Your work: " + " and ".join(counts)
    blocks: list[Block] = [section(f"*{title}*")]
    for request in shown:
        if request.status == "held":
            blocks += _held(request)
        else:
            blocks += _pending(request, holds.approvers)
    hidden = len(ordered) - len(shown)
    if hidden:
        blocks.append(
            context(
                f"{hidden} more not shown: request or cancel some of these, then "
                "`/numbers holds` again."
            )
        )
    return message(title, blocks, sandbox=sandbox)


def build_already_held(request: Request, *, sandbox: bool) -> Message:
    """Reserve, on a number the person already holds: their hold, not a new one."""
    if request.status == "held":
        text = (
            f":lock: You already hold *{request.e164}*, until {_until(request)}: nothing new "
            "was reserved. Request its purchase when you are ready."
        )
        blocks: list[Block] = [
            section(text, block_id=f"hold:{request.id}"),
            {"type": "actions", "elements": [request_purchase_button(request)]},
        ]
        return message(f"You already hold {request.e164}.", blocks, sandbox=sandbox)
    text = (
        f":hourglass_flowing_sand: You already hold *{request.e164}*, and its purchase is "
        f"waiting for approval in {_where(request)}. The hold lapses {_until(request)}. "
        "`/numbers holds` shows all your holds and requests."
    )
    return message(
        f"You already hold {request.e164}; its purchase is waiting for approval.",
        [section(text, block_id=f"hold:{request.id}")],
        sandbox=sandbox,
    )

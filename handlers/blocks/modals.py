"""The modals asking why: why buy a number, why reject (or cancel) a request."""

from __future__ import annotations

from bot.kernel.money import usd
from bot.kernel.text import MAX_REASON
from handlers import ids
from handlers.blocks.common import Block, sentence
from storage.requests import Request


def reason_input(label: str, placeholder: str, *, optional: bool = False) -> Block:
    """The one field every reason is typed into (handlers/views/reasons.py reads it)."""
    block: Block = {
        "type": "input",
        "block_id": ids.REASON_BLOCK,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "plain_text_input",
            "action_id": ids.REASON_INPUT,
            "multiline": True,
            "max_length": MAX_REASON,
            "placeholder": {"type": "plain_text", "text": placeholder},
        },
    }
    if optional:
        block["optional"] = True
    return block


def build_reason_modal(request_id: str, e164: str | None = None) -> Block:
    """Why buy this number. Without `e164` it is the form as it opens, at once, before numbot
    has looked the hold up; it is redrawn with the number a moment later."""
    number = f"*{e164}*" if e164 else "this number"
    return {
        "type": "modal",
        "callback_id": ids.PURCHASE_REASON_VIEW,
        "private_metadata": request_id,
        "title": {"type": "plain_text", "text": "Request purchase"},
        "submit": {"type": "plain_text", "text": "Send for approval"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Why should the team buy {number}? An approver will see this.",
                },
            },
            reason_input("Reason", "e.g. new support line for the Bay Area"),
        ],
    }


def build_reject_modal(request: Request, *, cancelling: bool) -> Block:
    """Reject (an approver) or cancel (the requester), with an optional reason that the card
    and the requester will show. Closing the modal changes nothing."""
    if request.kind == "release":
        what = f"the release of {request.e164}"
    else:
        cost = f" for {usd(request.total_cost)}" if request.total_cost is not None else ""
        what = f"the purchase of {request.e164}{cost}"
    if cancelling:
        question = (
            f"Cancel your request for {what}? Nothing is charged, and the hold is given back."
        )
    else:
        question = f"Reject <@{request.requester}>'s request for {what}? Nothing is charged."
    return {
        "type": "modal",
        "callback_id": ids.REJECT_VIEW,
        "private_metadata": request.id,
        "title": {
            "type": "plain_text",
            "text": "Cancel request" if cancelling else "Reject request",
        },
        "submit": {"type": "plain_text", "text": "Cancel request" if cancelling else "Reject"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": question}},
            reason_input("Why (optional)", "Shown on the card and to the requester", optional=True),
        ],
    }


def build_reject_opening(request_id: str) -> Block:
    """The reject modal as it opens, at once, before numbot has looked anything up (a
    trigger_id lives 3 seconds): redrawn with the request's details a moment later, and
    whoever submits it is checked then."""
    return {
        "type": "modal",
        "callback_id": ids.REJECT_VIEW,
        "private_metadata": request_id,
        "title": {"type": "plain_text", "text": "Reject request"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Reject this request (or cancel it, if it is yours)? Nothing is charged.",
                },
            },
            reason_input("Why (optional)", "Shown on the card and to the requester", optional=True),
        ],
    }


def build_refused_modal(callback_id: str, title: str, request_id: str, why: str) -> Block:
    """A form that opened at once, for something numbot then found it may not do: why, and
    nothing to submit."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": request_id,
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": sentence(why)}}],
    }

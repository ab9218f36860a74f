"""The modal asking why a number should be bought."""

from __future__ import annotations

from handlers import ids
from handlers.blocks.common import Block


def build_reason_modal(request_id: str, e164: str) -> Block:
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
                    "text": f"Why should the team buy *{e164}*? An approver will see this.",
                },
            },
            {
                "type": "input",
                "block_id": ids.REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.REASON_INPUT,
                    "multiline": True,
                    "max_length": 300,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "e.g. new support line for the Bay Area",
                    },
                },
            },
        ],
    }

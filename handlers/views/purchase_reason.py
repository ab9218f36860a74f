"""The reason modal was submitted: file the purchase request and post the approval card."""

from __future__ import annotations

from typing import Any

from bot.outcomes import Refused
from bot.text import clean_user_text
from bot.workflow import NumbersService
from handlers import ids
from handlers.blocks.common import refusal
from handlers.blocks.requests import build_requested

MAX_REASON = 300


async def purchase_reason(
    ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any, service: NumbersService
) -> None:
    values = view.get("state", {}).get("values", {})
    typed = str(values.get(ids.REASON_BLOCK, {}).get(ids.REASON_INPUT, {}).get("value") or "")
    # What is stored, audited and shown is the cleaned reason, so the checks apply to it: a
    # reason of only zero-width characters is empty. One character over the limit is kept,
    # so that an over-long reason is refused rather than silently cut.
    reason = clean_user_text(typed, max_length=MAX_REASON + 1)
    if not reason:
        await ack(response_action="errors", errors={ids.REASON_BLOCK: "Say why, in a few words."})
        return
    if len(reason) > MAX_REASON:
        await ack(
            response_action="errors",
            errors={ids.REASON_BLOCK: f"Keep it under {MAX_REASON} characters."},
        )
        return
    await ack()
    actor = body["user"]["id"]
    requested = await service.request_purchase(actor, str(view.get("private_metadata", "")), reason)
    if isinstance(requested, Refused):
        reply = refusal(requested.message, sandbox=service.sandbox)
    else:
        reply = build_requested(
            requested.request,
            requested.request.card_channel,
            posted=requested.card_posted,
            sandbox=service.sandbox,
        )
    # A modal has no response_url: answer in the app's DM, where later news arrives too.
    await client.chat_postMessage(channel=actor, **reply)

"""The reason modal was submitted: file the purchase request and post the approval card."""

from __future__ import annotations

from typing import Any

from bot.workflow import NumbersService
from handlers import ids
from handlers.blocks.requests import build_request_reply
from handlers.views.reasons import submitted_reason


async def purchase_reason(
    ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any, service: NumbersService
) -> None:
    reason, too_long = submitted_reason(view)
    if not reason:
        await ack(response_action="errors", errors={ids.REASON_BLOCK: "Say why, in a few words."})
        return
    if too_long:
        await ack(response_action="errors", errors=too_long)
        return
    await ack()
    actor = body["user"]["id"]
    requested = await service.request_purchase(actor, str(view.get("private_metadata", "")), reason)
    reply = build_request_reply(requested, sandbox=service.sandbox)
    # A modal has no response_url: answer in the app's DM, where later news arrives too.
    await client.chat_postMessage(channel=actor, **reply)

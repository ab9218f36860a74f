"""Request release: an idle number's row asks to give it back, through the normal release
approval (a card, four eyes, the quorum and the policy in force)."""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers.blocks.common import refusal
from handlers.blocks.requests import build_requested

IDLE_REASON = "It reaches nobody: routed to no agent, or to one never published."


async def request_release(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    actor, number = body["user"]["id"], str(action.get("value", ""))
    requested = await service.request_release(actor, number, IDLE_REASON)
    if isinstance(requested, Refused):
        reply = refusal(requested.message, sandbox=service.sandbox)
    else:
        reply = build_requested(
            requested.request,
            requested.request.card_channel,
            posted=requested.card_posted,
            sandbox=service.sandbox,
        )
    await respond(response_type="ephemeral", replace_original=False, **reply)

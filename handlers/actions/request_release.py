"""Request release: an idle number's row asks to give it back, through the normal release
approval (a card, four eyes, the quorum and the policy in force)."""

from __future__ import annotations

from typing import Any

from bot.workflow import NumbersService
from handlers.blocks.requests import build_request_reply

IDLE_REASON = "It reaches nobody: routed to no agent, or to one never published."


async def request_release(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    actor, number = body["user"]["id"], str(action.get("value", ""))
    requested = await service.request_release(actor, number, IDLE_REASON)
    reply = build_request_reply(requested, sandbox=service.sandbox)
    await respond(response_type="ephemeral", replace_original=False, **reply)

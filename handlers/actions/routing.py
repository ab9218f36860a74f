"""Publish button, and the agent menu offered after a purchase."""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from bot.workflow.home import AGENTS_MAX_AGE
from handlers.blocks.common import refusal
from handlers.blocks.routing import build_published, build_routed


async def publish(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    published = await service.publish(body["user"]["id"], str(action.get("value", "")))
    if isinstance(published, Refused):
        reply = refusal(published.message, sandbox=service.sandbox)
    else:
        reply = build_published(published.agent_id, published.version.id, sandbox=service.sandbox)
    await respond(response_type="ephemeral", replace_original=False, **reply)


async def assign_agent(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    request_id = str(action.get("block_id", "")).removeprefix("assign:")
    agent_id = str((action.get("selected_option") or {}).get("value", ""))
    assigned = await service.assign_purchased(body["user"]["id"], request_id, agent_id)
    if isinstance(assigned, Refused):
        reply = refusal(assigned.message, sandbox=service.sandbox)
        await respond(response_type="ephemeral", replace_original=False, **reply)
        return
    # The message with the menu now says where the number rings, with Change….
    agents = await service.agents(max_age=AGENTS_MAX_AGE)
    routed = build_routed(
        assigned.number, assigned.agent, agent_id, request_id, agents, sandbox=service.sandbox
    )
    await respond(replace_original=True, **routed)

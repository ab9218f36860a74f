"""Approve and Reject on an approval card. The service checks who may; the card redraws itself."""

from __future__ import annotations

from typing import Any

from bot.outcomes import Refused
from bot.workflow import NumbersService
from handlers.blocks.common import plain, refusal


async def approve(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    decided = await service.approve(body["user"]["id"], str(action.get("value", "")))
    if isinstance(decided, Refused):
        reply = refusal(decided.message, sandbox=service.sandbox)
    else:
        reply = plain(f":white_check_mark: {decided.message}", sandbox=service.sandbox)
    await respond(response_type="ephemeral", replace_original=False, **reply)


async def reject(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    decided = await service.reject(body["user"]["id"], str(action.get("value", "")))
    if isinstance(decided, Refused):
        reply = refusal(decided.message, sandbox=service.sandbox)
    else:
        reply = plain(decided.message, sandbox=service.sandbox)
    await respond(response_type="ephemeral", replace_original=False, **reply)

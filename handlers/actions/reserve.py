"""Reserve: hold the number on this row for the person who clicked."""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import AlreadyHeld, Refused
from bot.workflow import NumbersService
from handlers.blocks.common import refusal
from handlers.blocks.holds import build_already_held
from handlers.blocks.requests import build_hold


async def reserve(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    held = await service.reserve(body["user"]["id"], str(action.get("value", "")))
    if isinstance(held, Refused):
        reply = refusal(held.message, sandbox=service.sandbox)
    elif isinstance(held, AlreadyHeld):
        reply = build_already_held(held.request, sandbox=service.sandbox)
    else:
        reply = build_hold(held.request, sandbox=service.sandbox)
    await respond(response_type="ephemeral", replace_original=False, **reply)

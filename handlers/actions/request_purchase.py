"""Request purchase: ask the holder why, in a modal; the submission files the request."""

from __future__ import annotations

from typing import Any

from bot.outcomes import Refused
from bot.workflow import NumbersService
from handlers.blocks.common import refusal
from handlers.blocks.modals import build_reason_modal


async def request_purchase(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Any,
    client: Any,
    service: NumbersService,
) -> None:
    await ack()
    request = await service.requestable(body["user"]["id"], str(action.get("value", "")))
    if isinstance(request, Refused):
        await respond(
            response_type="ephemeral",
            replace_original=False,
            **refusal(request.message, sandbox=service.sandbox),
        )
        return
    # trigger_id lives 3 seconds: open the modal before anything slow.
    await client.views_open(
        trigger_id=body["trigger_id"], view=build_reason_modal(request.id, request.e164)
    )

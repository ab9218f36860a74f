"""Request purchase: ask the holder why, in a modal; the submission files the request."""

from __future__ import annotations

from typing import Any

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
    actor = body["user"]["id"]
    request = await service.request(str(action.get("value", "")))
    if request is None or request.kind != "purchase":
        message = "That hold no longer exists. Search and reserve again."
    elif request.requester != actor:
        message = f"Only <@{request.requester}>, who holds this number, can request its purchase."
    elif request.status != "held":
        message = "That number's purchase was already requested."
    else:
        # trigger_id lives 3 seconds: open the modal before anything slow.
        await client.views_open(
            trigger_id=body["trigger_id"], view=build_reason_modal(request.id, request.e164)
        )
        return
    await respond(
        response_type="ephemeral",
        replace_original=False,
        **refusal(message, sandbox=service.sandbox),
    )

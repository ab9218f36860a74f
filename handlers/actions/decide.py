"""Approve and Reject, on a card, an approver's DM copy or Home. The service checks who may;
every copy redraws itself. Reject asks for an optional reason first (handlers/views/reject.py)."""

from __future__ import annotations

from typing import Any

from bot.outcomes import Refused
from bot.workflow import NumbersService
from handlers.blocks.common import plain, refusal
from handlers.blocks.modals import build_reject_modal
from handlers.replies import answer


async def approve(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Any,
    client: Any,
    service: NumbersService,
) -> None:
    await ack()
    decided = await service.approve(body["user"]["id"], str(action.get("value", "")))
    if isinstance(decided, Refused):
        reply = refusal(decided.message, sandbox=service.sandbox)
    else:
        reply = plain(f":white_check_mark: {decided.message}", sandbox=service.sandbox)
    await answer(body, respond, client, reply)


async def reject(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Any,
    client: Any,
    service: NumbersService,
) -> None:
    await ack()
    actor = body["user"]["id"]
    request = await service.rejectable(actor, str(action.get("value", "")))
    if isinstance(request, Refused):
        await answer(body, respond, client, refusal(request.message, sandbox=service.sandbox))
        return
    # trigger_id lives 3 seconds: open the modal before anything slow.
    await client.views_open(
        trigger_id=body["trigger_id"],
        view=build_reject_modal(request, cancelling=actor == request.requester),
    )

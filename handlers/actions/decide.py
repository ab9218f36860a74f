"""Approve and Reject, on a card, an approver's DM copy or Home. The service checks who may;
every copy redraws itself. Reject opens a form for an optional reason at once, then fills in
the request's details, or why it cannot be rejected (handlers/views/reject.py)."""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers import ids
from handlers.blocks.common import plain, refusal
from handlers.blocks.modals import build_refused_modal, build_reject_modal, build_reject_opening
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
    request_id = str(action.get("value", ""))
    # A trigger_id lives 3 seconds: the modal opens before anything that may wait (the
    # database, Slack's user groups); its details follow, and the submit is checked.
    opened = await client.views_open(
        trigger_id=body["trigger_id"], view=build_reject_opening(request_id[:64])
    )
    request = await service.rejectable(actor, request_id)
    if isinstance(request, Refused):
        view = build_refused_modal(
            ids.REJECT_VIEW, "Reject request", request_id[:64], request.message
        )
    else:
        view = build_reject_modal(request, cancelling=actor == request.requester)
    await client.views_update(view_id=opened["view"]["id"], view=view)

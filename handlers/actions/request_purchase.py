"""Request purchase: ask the holder why, in a modal; the submission files the request. The
form opens at once and is then filled in, or says why the hold cannot be requested (and the
hold message whose button was stale says where things stand instead)."""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers import ids
from handlers.blocks.common import plain
from handlers.blocks.modals import build_reason_modal, build_refused_modal

# Refusals that mean the button clicked belongs to a hold that moved on.
STALE = frozenset({"already_requested", "expired", "unknown"})


async def request_purchase(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Any,
    client: Any,
    service: NumbersService,
) -> None:
    await ack()
    request_id = str(action.get("value", ""))[:64]
    # A trigger_id lives 3 seconds: the form opens before numbot looks the hold up.
    opened = await client.views_open(
        trigger_id=body["trigger_id"], view=build_reason_modal(request_id)
    )
    request = await service.requestable(body["user"]["id"], request_id)
    if isinstance(request, Refused):
        view = build_refused_modal(
            ids.PURCHASE_REASON_VIEW, "Request purchase", request_id, request.message
        )
        await client.views_update(view_id=opened["view"]["id"], view=view)
        if body.get("response_url") and request.code in STALE:
            # The hold message's button is stale: the message now says where things stand.
            await respond(replace_original=True, **plain(request.message, sandbox=service.sandbox))
        return
    await client.views_update(
        view_id=opened["view"]["id"], view=build_reason_modal(request.id, request.e164)
    )

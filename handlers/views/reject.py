"""The reject (or cancel) modal was submitted: decide, with the optional reason."""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers import ids
from handlers.blocks.common import plain, refusal
from handlers.views.reasons import submitted_reason


async def reject_submitted(
    ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any, service: NumbersService
) -> None:
    reason, too_long = submitted_reason(view)
    if too_long:
        await ack(response_action="errors", errors=too_long)
        return
    actor = body["user"]["id"]
    request_id = str(view.get("private_metadata", ""))
    # Still possible? Checked before the modal closes, from what numbot holds (never asking
    # Slack: the ack has 3 seconds), so a late reject is told in place. Who may is checked
    # in full when the rejection is made.
    still = await service.rejectable(actor, request_id, ask_slack=False)
    if isinstance(still, Refused):
        await ack(response_action="errors", errors={ids.REASON_BLOCK: still.message[:150]})
        return
    await ack()
    decided = await service.reject(actor, request_id, reason)
    # The modal has closed: say what happened where they will see it, their DM with numbot.
    if isinstance(decided, Refused):  # decided by someone else in the meantime
        reply = refusal(decided.message, sandbox=service.sandbox)
    else:
        reply = plain(decided.message, sandbox=service.sandbox)
    await client.chat_postMessage(channel=actor, **reply)

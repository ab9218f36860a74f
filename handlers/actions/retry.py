"""Try again: an approved purchase Flowyte refused for want of balance, once the wallet is
topped up. The service checks who may, the sealed record, the policy, the price and the
wallet before anything is sent."""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers.blocks.common import plain, refusal
from handlers.replies import answer


async def retry_purchase(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Any,
    client: Any,
    service: NumbersService,
) -> None:
    await ack()
    tried = await service.retry(body["user"]["id"], str(action.get("value", "")))
    if isinstance(tried, Refused):
        reply = refusal(tried.message, sandbox=service.sandbox)
    else:
        reply = plain(f":white_check_mark: {tried.message}", sandbox=service.sandbox)
    await answer(body, respond, client, reply)

"""The search modal was submitted: check it in place, then search and DM the results.

Bad values are refused under their fields while the modal is still open
(`response_action: errors`), by the same checks as `/numbers search`. Once it closes there
is no response_url, so the results go to the person's DM with numbot, where paging and
Reserve work as anywhere else; a refusal goes there too, and an unexpected error reaches
them there through handlers.dm_errors.
"""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers.blocks.common import refusal
from handlers.blocks.search import build_search_results
from handlers.blocks.search_modal import check_search_form, read_search_form


async def search_submitted(
    ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any, service: NumbersService
) -> None:
    checked = check_search_form(read_search_form((view.get("state") or {}).get("values")))
    if isinstance(checked, dict):
        await ack(response_action="errors", errors=checked)
        return
    await ack()
    actor = body["user"]["id"]
    found = await service.search(actor, checked)
    if isinstance(found, Refused):
        reply = refusal(found.message, sandbox=service.sandbox)
    else:
        reply = build_search_results(found.query, found.numbers, sandbox=service.sandbox)
    await client.chat_postMessage(channel=actor, **reply)

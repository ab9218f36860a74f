"""Previous / Next under search results: run the same search again, show another page.

The button's value is the whole search (handlers/blocks/paging.py); it is read strictly
and checked like a typed search, and the page replaces the message it was clicked on.
"""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers.blocks.common import refusal
from handlers.blocks.paging import read_search_value
from handlers.blocks.search import build_search_results

STALE = "That page button is not one numbot can read. Search again with `/numbers search`."


async def search_page(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    sandbox = service.sandbox
    read = read_search_value(action.get("value"))
    if read is None:
        await respond(
            response_type="ephemeral", replace_original=False, **refusal(STALE, sandbox=sandbox)
        )
        return
    query, page = read
    found = await service.search(body["user"]["id"], query)
    if isinstance(found, Refused):
        # The page on screen stays; the refusal comes beside it.
        await respond(
            response_type="ephemeral",
            replace_original=False,
            **refusal(found.message, sandbox=sandbox),
        )
        return
    reply = build_search_results(found.query, found.numbers, page=page, sandbox=sandbox)
    await respond(replace_original=True, **reply)

"""Previous / Next under `/numbers list`: read another page of numbot's index of the owned
numbers (bot/workflow/owned.py), never Flowyte's whole list.

The button's value is only a page index, checked to be a small whole number; a page past
the end (numbers were released since) shows the last page.
"""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers.blocks.common import refusal
from handlers.blocks.paging import LIST_PAGE_ROWS, read_list_value
from handlers.blocks.routing import build_number_list

STALE = "That page button is not one numbot can read. List again with `/numbers list`."


async def list_page(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, service: NumbersService
) -> None:
    await ack()
    sandbox = service.sandbox
    page = read_list_value(action.get("value"))
    if page is None:
        await respond(
            response_type="ephemeral", replace_original=False, **refusal(STALE, sandbox=sandbox)
        )
        return
    listed = await service.list_numbers(
        body["user"]["id"], page=page, rows=LIST_PAGE_ROWS, fresh=False
    )
    if isinstance(listed, Refused):
        await respond(
            response_type="ephemeral",
            replace_original=False,
            **refusal(listed.message, sandbox=sandbox),
        )
        return
    reply = build_number_list(listed, sandbox=sandbox)
    await respond(replace_original=True, **reply)

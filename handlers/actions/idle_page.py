"""Previous / Next under `/numbers idle`: another page of the numbers that reach nobody, read
from numbot's index of the owned numbers (bot/workflow/bill.py), never Flowyte's list.

The button's value is only a page index, checked to be a small whole number; a page past
the end (numbers were released or routed since) shows the last page.
"""

from __future__ import annotations

from typing import Any

from bot.workflow import NumbersService
from handlers.blocks.common import refusal
from handlers.blocks.costs import build_idle
from handlers.blocks.paging import IDLE_PAGE_ROWS, read_list_value

STALE = "That page button is not one numbot can read. List them again with `/numbers idle`."


async def idle_page(
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
    idle = await service.idle(body["user"]["id"], page, rows=IDLE_PAGE_ROWS)
    await respond(replace_original=True, **build_idle(idle, sandbox=sandbox))

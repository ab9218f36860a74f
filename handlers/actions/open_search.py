"""A "Search numbers" button (and `/numbers` alone): open the search modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.workflow import NumbersService
from handlers.blocks.common import plain
from handlers.blocks.search_modal import build_search_modal

logger = logging.getLogger(__name__)

UNOPENED = (
    "numbot could not open the search form. Search by typing instead, like "
    "`/numbers search 415 city=San Francisco`, or see `/numbers help search`."
)


async def open_search_modal(
    client: Any, trigger_id: object, respond: Any, *, sandbox: bool
) -> None:
    """Open the modal on the interaction's trigger (valid for 3 seconds, so this comes before
    anything slow). If Slack will not open it, say how to search by typing instead."""
    if client is not None and isinstance(trigger_id, str) and trigger_id:
        try:
            await client.views_open(trigger_id=trigger_id, view=build_search_modal())
            return
        except SlackApiError as exc:
            logger.warning("could not open the search modal: %s", exc.response.get("error"))
    if respond is not None:
        await respond(
            response_type="ephemeral", replace_original=False, **plain(UNOPENED, sandbox=sandbox)
        )


async def open_search(
    ack: Any, body: dict[str, Any], respond: Any, client: Any, service: NumbersService
) -> None:
    await ack()
    await open_search_modal(client, body.get("trigger_id"), respond, sandbox=service.sandbox)

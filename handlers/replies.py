"""Answer the person who clicked, wherever they clicked.

A click on a message comes with a response_url: the answer is ephemeral, beside the message.
A click on App Home or in a modal has none: the answer goes to numbot's DM with them.
"""

from __future__ import annotations

from typing import Any

from handlers.blocks.common import Message


async def answer(body: dict[str, Any], respond: Any, client: Any, reply: Message) -> None:
    if body.get("response_url"):
        await respond(response_type="ephemeral", replace_original=False, **reply)
    else:
        await client.chat_postMessage(channel=body["user"]["id"], **reply)

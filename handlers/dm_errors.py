"""Errors after a modal has closed reach the person in numbot's DM.

handlers.errors answers an unexpected error on the request's response_url, and a view
submission has none: once numbot has acknowledged it (the modal closes), an error would
reach nobody. `told_by_dm` wraps such a listener: whatever it raises is acknowledged if it
was not yet, logged with a reference id (errbot's second tier, as handlers.errors does), and
the person who submitted is told that reference in numbot's DM.

    app.view(ids.SEARCH_VIEW)(guarded(told_by_dm(search_submitted)))
"""

from __future__ import annotations

import functools
import logging
import secrets
from typing import Any

from bot.kernel.redact import redact
from handlers.blocks.common import plain
from handlers.errors import Listener

logger = logging.getLogger(__name__)


def told_by_dm(listener: Listener) -> Listener:
    """`listener` must take `ack`, `body` and `client`; bolt's injection sees its own
    parameters (functools.wraps keeps the signature)."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception as error:
            ack = kwargs["ack"]
            if getattr(ack, "response", None) is None:
                await ack()
            await _tell(error, kwargs)

    return run


async def _tell(error: Exception, kwargs: dict[str, Any]) -> None:
    reference = secrets.token_hex(4)
    logger.error(
        "unhandled error after a modal, reference %s: %s",
        reference,
        redact(repr(error)),
        exc_info=error,
    )
    body = kwargs.get("body") or {}
    user = (body.get("user") or {}).get("id") if isinstance(body, dict) else None
    if not user:
        return
    service = kwargs.get("service")
    text = (
        f":warning: Something went wrong in numbot after your form closed (reference "
        f"`{reference}`). Nothing was spent unless an approval card says so. Try again, or give the reference to your numbot admin."
    )
    try:
        await kwargs["client"].chat_postMessage(
            channel=user, **plain(text, sandbox=bool(getattr(service, "sandbox", False)))
        )
    except Exception:
        logger.warning("could not tell %s about error %s by DM", user, reference)

"""One error handler for every listener: log the traceback, tell the person a reference id.

Expected refusals never get here (the service returns them as values); this is for bugs
and outages, errbot's second tier.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from bot.redact import redact
from handlers.blocks.common import plain

logger = logging.getLogger(__name__)


async def handle_error(
    error: Exception, body: dict[str, Any], respond: Any, context: dict[str, Any]
) -> None:
    reference = secrets.token_hex(4)
    logger.error(
        "unhandled error, reference %s: %s", reference, redact(repr(error)), exc_info=error
    )
    text = (
        f":warning: Something went wrong in numbot (reference `{reference}`). Nothing was spent "
        "unless an approval card says so. Try again, or give the reference to your numbot admin."
    )
    if respond is not None and isinstance(body, dict) and body.get("response_url"):
        try:
            service = context.get("service")
            reply = plain(text, sandbox=bool(getattr(service, "sandbox", False)))
            await respond(response_type="ephemeral", replace_original=False, **reply)
        except Exception:
            logger.warning("could not tell the user about error %s", reference)

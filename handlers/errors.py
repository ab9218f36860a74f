"""One error handler for every listener: log the traceback, tell the person a reference id.

Expected refusals never get here (the service returns them as values); this is for bugs
and outages, errbot's second tier.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from bot.kernel.redact import redact, scrub
from bot.ops.workload import Workload
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
    # The response_url, or the person's DM where there is none (bot/process/wiring.py sets respond).
    if respond is not None and isinstance(body, dict):
        try:
            service = context.get("service")
            reply = plain(text, sandbox=bool(getattr(service, "sandbox", False)))
            await respond(response_type="ephemeral", replace_original=False, **reply)
        except Exception:
            logger.warning("could not tell the user about error %s", reference)


Listener = Callable[..., Awaitable[None]]

BUSY_TEXT = (
    ":hourglass_flowing_sand: numbot is busy right now and did not start this. "
    "Nothing changed: try again in a moment."
)


def _may_turn_away(body: dict[str, Any]) -> bool:
    """Slash commands and button clicks can be asked again; a submitted modal (its typed
    reason would be lost), a menu search and an event are always taken."""
    return bool(body.get("command")) or body.get("type") == "block_actions"


async def _turn_away(ack: Any, body: dict[str, Any], respond: Any, service: Any) -> None:
    busy = plain(BUSY_TEXT, sandbox=bool(getattr(service, "sandbox", False)))
    if body.get("command"):
        await ack(**busy)  # the answer itself: no further call to Slack
        return
    await ack()
    if respond is not None:  # the click's response_url, or the person's DM where there is none
        try:
            await respond(response_type="ephemeral", replace_original=False, **busy)
        except Exception:
            logger.warning("could not tell a click that numbot is busy")


class _ScrubbedAck:
    """`ack`, with the same redaction as every other way out to Slack (an ack can carry a
    message: help, a usage error that echoes what was typed, modal errors)."""

    def __init__(self, ack: Any) -> None:
        self._ack = ack

    @property
    def response(self) -> Any:
        return getattr(self._ack, "response", None)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self._ack(*scrub(args), **scrub(kwargs))


def guarded(listener: Listener) -> Listener:
    """Run a listener so that nothing it raises reaches bolt: acknowledge, then report.

    bolt answers an exception raised right after ack() with a 3-second wait and a 404
    (its runner resets the recorded ack), so Slack would show the person a timeout on top
    of numbot's reply. Catching here keeps the ack, and the same error handler reports.
    The wrapper takes every argument the listeners use (bolt injects them by name) and
    hands each listener the ones it asks for.
    """
    wanted = list(inspect.signature(listener).parameters)

    async def run(
        ack: Any,
        body: dict[str, Any],
        respond: Any,
        client: Any,
        context: dict[str, Any],
        command: Any = None,
        action: Any = None,
        view: Any = None,
        service: Any = None,
    ) -> None:
        given = {
            "ack": _ScrubbedAck(ack),
            "body": body,
            "respond": respond,
            "client": client,
            "context": context,
            "command": command,
            "action": action,
            "view": view,
            "service": service,
        }
        workload: Workload | None = (context or {}).get("workload")
        if workload is None:
            await _carry_out(listener, wanted, given, ack, body, respond, context)
            return
        with workload.run(may_refuse=_may_turn_away(body or {})) as admitted:
            if admitted:
                await _carry_out(listener, wanted, given, ack, body, respond, context)
                return
        await _turn_away(given["ack"], body or {}, respond, service)

    run.__name__ = run.__qualname__ = getattr(listener, "__name__", "listener")
    return run


async def _carry_out(
    listener: Listener,
    wanted: list[str],
    given: dict[str, Any],
    ack: Any,
    body: dict[str, Any],
    respond: Any,
    context: dict[str, Any],
) -> None:
    try:
        await listener(**{name: given[name] for name in wanted})
    except Exception as error:
        if getattr(ack, "response", None) is None:
            await ack()
        await handle_error(error, body or {}, respond, context or {})

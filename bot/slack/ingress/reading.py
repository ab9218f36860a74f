"""Read a request body whole, or refuse it: bounded in size, in time, and across requests.

    raw = await read_body(request.stream(), limits, budget)   # bytes, or a Refusal
    ...
    budget.give(len(raw))                                     # once the request is done

Nothing here grows with what a client sends: a body is refused as soon as it passes the size
limit, the read is abandoned at the deadline, and the bytes held by all requests being read
at once are capped by a shared budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.requests import ClientDisconnect

from bot.slack.ingress.refusal import Refusal

TOO_LARGE = Refusal(413, "body over the size limit")
TOO_SLOW = Refusal(408, "body not complete within the read deadline")
BUSY = Refusal(503, "too many request bodies being read at once")
GONE = Refusal(400, "client went away before the body was complete")

_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Limits:
    """How much numbot reads of one request, and of all requests together.

    `max_body`: Slack's payloads to numbot are a slash command (a few hundred bytes plus the
    text) or an interaction on one of numbot's own messages or its one-field modal; the
    largest, a click on a 50-number search result (Slack's 50-block message limit), carries
    that whole message and is tens of KB. 1 MiB is more than ten times that, and small
    enough that reading it costs nothing.

    `read_seconds`: Slack sends a whole body in milliseconds and gives up on an answer after
    3 s, so a body still arriving after 5 s is of no use to anyone; the deadline frees the
    connection from a client that drips bytes.

    `in_flight`: the bodies held at once by requests being read, verified and dispatched.
    64 MiB is 64 bodies at the limit, thousands of real ones; beyond it numbot answers 503
    rather than let many clients together grow it by the size limit each.
    """

    max_body: int = 1024 * 1024
    read_seconds: float = 5.0
    in_flight: int = 64 * 1024 * 1024


class BodyBudget:
    """Bytes of request bodies held at once, across requests.

    Only touched from the event loop's thread, between awaits, so it needs no lock.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


def declared_too_large(content_length: str | None, limits: Limits) -> bool:
    """The client says, before sending it, that the body is over the limit.

    A malformed Content-Length is the HTTP server's to refuse (h11 answers 400); without a
    usable one (chunked), the body is counted as it is read.
    """
    return (
        content_length is not None
        and _DIGITS.fullmatch(content_length) is not None
        and int(content_length) > limits.max_body
    )


async def read_body(
    stream: AsyncGenerator[bytes, None], limits: Limits, budget: BodyBudget
) -> bytes | Refusal:
    """The whole body, its size taken from `budget` (the caller gives it back); or why not,
    with nothing taken."""
    body = bytearray()
    refusal: Refusal | None = None
    try:
        async with contextlib.aclosing(stream), asyncio.timeout(limits.read_seconds):
            async for chunk in stream:
                if len(body) + len(chunk) > limits.max_body:
                    refusal = TOO_LARGE
                    break
                if not budget.take(len(chunk)):
                    refusal = BUSY
                    break
                body += chunk
    except TimeoutError:
        refusal = TOO_SLOW
    except ClientDisconnect:
        refusal = GONE
    if refusal is not None:
        budget.give(len(body))
        return refusal
    return bytes(body)

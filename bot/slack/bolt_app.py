"""numbot's bolt app: bolt's AsyncApp, with each request it dispatches measured and named.

Every Slack request, over HTTP (through the ingress) or Socket Mode, reaches bolt through
`async_dispatch`; here it gets its log context (bot/ops/log_context.py: user, action, request
id) for everything logged while it is handled, and is reported to an observer (numbot's
metrics) with its kind, bolt's status and how long bolt took to answer, which is the ack.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.ops import log_context


class RequestObserver(Protocol):
    def slack_request(self, kind: str, status: int, seconds: float) -> None: ...


def request_kind(body: dict[str, Any]) -> str:
    """Which kind of Slack request a parsed body is: command, action, view, options, event
    or other."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind in ("block_actions", "interactive_message"):
        return "action"
    if kind in ("view_submission", "view_closed"):
        return "view"
    if kind == "block_suggestion":
        return "options"
    if kind == "event_callback":
        return "event"
    return "other"


class NumbotApp(AsyncApp):  # type: ignore[misc]
    observer: RequestObserver | None = None

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        token = log_context.bind(log_context.slack_fields(body))
        started = time.monotonic()
        status = 500
        try:
            response: BoltResponse = await super().async_dispatch(req)
            status = response.status
            return response
        finally:
            if self.observer is not None:
                self.observer.slack_request(request_kind(body), status, time.monotonic() - started)
            log_context.reset(token)

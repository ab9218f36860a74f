"""POST /slack/events in HTTP mode: admit a request or refuse it, then hand it to bolt."""

from __future__ import annotations

import http
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.slack.ingress.body import FORM, SSL_CHECK_MAX, BoltBody, for_bolt, is_ssl_check
from bot.slack.ingress.reading import TOO_LARGE, BodyBudget, Limits, declared_too_large, read_body
from bot.slack.ingress.refusal import Refusal
from bot.slack.ingress.signature import MISMATCH, check_headers, signature_matches

logger = logging.getLogger(__name__)


class RefusalObserver(Protocol):
    """Told the status of each request the ingress refused (numbot's metrics)."""

    def slack_refused(self, status: int) -> None: ...


class Dispatcher(Protocol):
    """What the ingress needs of bolt's AsyncApp."""

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse: ...


class SlackIngress:
    """Checks a request in the order that costs least, then hands it to bolt.

    First what the headers alone decide (declared size, signature headers), so refusing
    costs no reading; then the body, read within the size limit and the deadline; then the
    signature over its exact bytes; then its encoding and shape. A refusal is a short plain-text answer and one log line naming the reason and the
    client's address: never the body, nor any header value. What is refused never reaches
    bolt, so it is neither handled nor audited.
    """

    def __init__(
        self,
        app: Dispatcher,
        signing_secret: str,
        *,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
        observer: RefusalObserver | None = None,
    ) -> None:
        self._app = app
        self._observer = observer
        self._secret = signing_secret.encode()
        self._limits = limits or Limits()
        self._budget = BodyBudget(self._limits.in_flight)
        self._clock = clock

    async def handle(self, request: Request) -> Response:
        headers = request.headers
        # Refusals that need no body come first, so such a request costs numbot no reading.
        if declared_too_large(headers.get("content-length"), self._limits):
            return self._refuse(request, TOO_LARGE)
        signed = check_headers(
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
            now=self._clock(),
        )
        if isinstance(signed, Refusal):
            if await self._is_ssl_check(request):
                return Response(status_code=200)
            return self._refuse(request, signed)
        raw = await read_body(request.stream(), self._limits, self._budget)
        if isinstance(raw, Refusal):
            return self._refuse(request, raw)
        try:
            if not signature_matches(self._secret, signed, raw):
                return self._refuse(request, MISMATCH)
            body = for_bolt(raw, headers.get("content-type"))
            if isinstance(body, Refusal):
                return self._refuse(request, body)
            return await self._dispatch(request, body)
        finally:
            self._budget.give(len(raw))

    async def _is_ssl_check(self, request: Request) -> bool:
        """An unsigned request that declares a small form is read to see whether it is
        Slack's ssl_check; anything else unsigned is refused unread."""
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > SSL_CHECK_MAX:
            return False
        if not (request.headers.get("content-type") or "").lower().startswith(FORM):
            return False
        raw = await read_body(request.stream(), self._limits, self._budget)
        if isinstance(raw, Refusal):
            return False
        self._budget.give(len(raw))
        if is_ssl_check(raw, request.headers.get("content-type")):
            logger.info("answered Slack's ssl_check")
            return True
        return False

    def _refuse(self, request: Request, refusal: Refusal) -> Response:
        if self._observer is not None:
            self._observer.slack_refused(refusal.status)
        return _refuse(request, refusal)

    async def _dispatch(self, request: Request, body: BoltBody) -> Response:
        headers: dict[str, str | Sequence[str]] = {
            name: value
            for name, value in request.headers.items()
            # bolt's own headers (it sets them when it re-invokes itself for lazy listeners
            # on FaaS); Slack never sends them and the signature does not cover headers.
            # Content-Length no longer describes the body bolt gets.
            if not name.startswith("x-slack-bolt-") and name != "content-length"
        }
        headers["content-type"] = body.content_type
        bolt_request = AsyncBoltRequest(body=body.text, query=request.url.query, headers=headers)
        return to_starlette_response(await self._app.async_dispatch(bolt_request))


def _refuse(request: Request, refusal: Refusal) -> Response:
    client = request.client.host if request.client else "unknown"
    logger.warning(
        "refused a request to /slack/events from %s: %d %s", client, refusal.status, refusal.reason
    )
    headers = {
        # Part of the body may still be on its way: closing is the only way neither to read
        # it nor to keep the connection waiting for it.
        "Connection": "close",
    }
    if refusal.status == 503:
        headers["Retry-After"] = "1"
    phrase = http.HTTPStatus(refusal.status).phrase
    return PlainTextResponse(phrase + "\n", status_code=refusal.status, headers=headers)

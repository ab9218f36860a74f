"""The sandbox over HTTP: SandboxFlowyte, an ASGI app with the API mounted under /api/v1.

Every call is checked in this order: the API key and its scope (a missing scope is a 403
`insufficient_scope` with `requiredScope`, checked before the body is read or validated and
before anything is looked up; the order is [inferred]), the rate limit, the Idempotency-Key
header, the body. Then the handler does its state work synchronously under the
organization's lock, so concurrent requests (one event loop, or the server thread and a test
thread) cannot both take one number or spend one balance twice.

With a `rate_limit` variant, every answer carries `RateLimit-Limit`, `RateLimit-Remaining`
and `RateLimit-Reset` (seconds), per organization; a call over the limit is 429
`rate_limited`, with `Retry-After` too unless the variants switch it off.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from bot.sandbox.calls import Call, Handler, Result, api_key, idempotency_key, read_body
from bot.sandbox.endpoints import Endpoints
from bot.sandbox.idempotency import Replay, StillRunning, fingerprint, in_progress
from bot.sandbox.paging import envelope
from bot.sandbox.problems import ApiError, problem_response
from bot.sandbox.wire import JSON_MEDIA_TYPE, dumps_json

REPLAY_POLL: Final = 0.02  # seconds between a waiting replay's looks at the first call

API_PREFIX: Final = "/api/v1"

_Endpoint = Callable[[Request], Awaitable[Response]]


class SandboxFlowyte(Endpoints):
    """numbot's built-in Flowyte: one in-memory organization (see Organization for the state
    tests may inspect and poke) answering the numbers API over ASGI (`asgi()`)."""

    _app: Starlette | None = None

    def asgi(self) -> Starlette:
        """The ASGI app, with the API mounted under /api/v1 (built once)."""
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def _authorize(self, request: Request, scope: str) -> None:
        if scope not in self.scopes_for(api_key(request)):
            raise ApiError(
                403,
                "insufficient_scope",
                f"This API key lacks the {scope} scope.",
                extra={"requiredScope": scope},
            )

    def _admit(self, now: datetime) -> dict[str, str]:
        """Count one call against the organization's rate limit: the RateLimit-* headers to
        send, or a 429 (with them, and Retry-After unless switched off) when over it."""
        limit, window = self.variants.rate_limit, self.variants.rate_window
        if limit is None:
            return {}
        with self._lock:
            start, calls = self._window or (now, 0)
            if now >= start + timedelta(seconds=window):
                start, calls = now, 0
            calls += 1
            self._window = (start, calls)
        reset = max(0, math.ceil((start + timedelta(seconds=window) - now).total_seconds()))
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(0, limit - calls)),
            "RateLimit-Reset": str(reset),
        }
        if calls > limit:
            if self.variants.retry_after:
                headers["Retry-After"] = str(reset)
            raise ApiError(
                429,
                "rate_limited",
                f"More than {limit} calls in {window:g} seconds; wait and retry.",
                headers=headers,
            )
        return headers

    def _envelope(self, result: Result) -> dict[str, object]:
        body = envelope(result, self.variants.pagination)
        if self.variants.envelope == "documented":
            body = {**body, "message": "OK", "errors": []}
        return body

    def _problem(self, error: ApiError, instance: str) -> Response:
        return problem_response(error, instance, self.variants.problems)

    def _endpoint(self, handler: Handler, scope: str, *, idempotent: bool = False) -> _Endpoint:
        async def endpoint(request: Request) -> Response:
            limits: dict[str, str] = {}
            try:
                self._authorize(request, scope)
                limits = self._admit(self.now())
                key = idempotency_key(request) if idempotent else None
                body = await read_body(request)
                if key is None:
                    with self._lock:  # no await below: each request's state change is atomic
                        call = Call(
                            dict(request.path_params), request.query_params, body, self.now()
                        )
                        result = handler(call)
                        response = Response(
                            dumps_json(self._envelope(result)),
                            status_code=result.status,
                            media_type=JSON_MEDIA_TYPE,
                        )
                else:
                    response = await self._idempotent(key, request, body, handler)
            except ApiError as exc:
                response = self._problem(exc, request.url.path)
            response.headers.update(limits)
            return response

        return endpoint

    async def _idempotent(
        self, key: str, request: Request, body: dict[str, Any], handler: Handler
    ) -> Response:
        """Run a call under its Idempotency-Key (see idempotency.py): replay a stored
        success, refuse a key that is running or was used for another request, else claim
        the key, work, and store a success."""
        claimed = fingerprint(request.method, request.url.path, body)
        while True:
            try:
                with self._lock:
                    stored = self._idempotency.claim(key, claimed, self.now())
                break
            except StillRunning:
                if self.variants.replays == "conflict":
                    raise in_progress() from None
                await asyncio.sleep(REPLAY_POLL)  # the first call's result, when it has one
        if stored is not None:
            return Response(
                stored.payload,
                status_code=stored.status,
                media_type=JSON_MEDIA_TYPE,
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            if self.variants.processing_delay:
                await asyncio.sleep(self.variants.processing_delay)
            with self._lock:
                call = Call(dict(request.path_params), request.query_params, body, self.now())
                result = handler(call)
                payload = dumps_json(self._envelope(result))
                self._idempotency.store(key, Replay(claimed, result.status, payload, call.now))
        finally:
            with self._lock:
                self._idempotency.release(key)
        return Response(payload, status_code=result.status, media_type=JSON_MEDIA_TYPE)

    def _build_app(self) -> Starlette:
        read, write = "numbers:read", "numbers:write"
        ep = self._endpoint
        routes = [
            Route("/numbers/search", ep(self._search, read), methods=["GET"]),
            Route("/numbers/available/{e164}", ep(self._available, read), methods=["GET"]),
            Route("/numbers/reserve", ep(self._reserve, write), methods=["POST"]),
            Route("/numbers/reserve/{id}", ep(self._cancel_reservation, write), methods=["DELETE"]),
            Route(
                "/numbers/purchase", ep(self._purchase, write, idempotent=True), methods=["POST"]
            ),
            Route("/numbers/import", ep(self._import, write), methods=["POST"]),
            Route("/numbers", ep(self._list_numbers, read), methods=["GET"]),
            Route("/numbers/{id}", ep(self._get_number, read), methods=["GET"]),
            Route("/numbers/{id}", ep(self._release, write), methods=["DELETE"]),
            Route("/numbers/{id}/assign", ep(self._assign, write), methods=["POST"]),
            Route("/numbers/{id}/assign", ep(self._unassign, write), methods=["DELETE"]),
            Route("/agents", ep(self._list_agents, "agents:read"), methods=["GET"]),
            Route("/agents/{id}", ep(self._get_agent, "agents:read"), methods=["GET"]),
            Route(
                "/agents/{id}/publish",
                ep(self._publish, "agents:write", idempotent=True),
                methods=["POST"],
            ),
            Route("/billing/wallet", ep(self._get_wallet, "billing:read"), methods=["GET"]),
            Route("/billing/usage/items", ep(self._usage_items, "billing:read"), methods=["GET"]),
            Route(
                "/billing/wallet/topup",
                ep(self._topup, "billing:write", idempotent=True),
                methods=["POST"],
            ),
        ]
        return Starlette(
            routes=[Mount(API_PREFIX, routes=routes)],
            exception_handlers={ApiError: self._on_api_error, HTTPException: self._on_http_error},
        )

    async def _on_api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return self._problem(exc, request.url.path)

    async def _on_http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        codes = {404: "not_found", 405: "method_not_allowed"}
        error = ApiError(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=exc.headers,
        )
        return self._problem(error, request.url.path)

"""A thin async client for the Flowyte numbers API (see shared/flowyte-api.md).

    client = FlowyteClient.connect("https://builder.flowyte.com/api/v1", api_key)
    numbers = await client.search(SearchQuery(area_code="415"))

Reads (GET) and the release of a hold are retried with capped, jittered exponential
backoff that honours Retry-After, inside a total time budget. Nothing that moves money or
changes routing is retried here: when such a call's outcome is unknown the client raises
`OutcomeUnknown` (or `ServerError`) and the caller reconciles.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from bot.flowyte.errors import (
    FlowyteAPIError,
    FlowyteError,
    FlowyteUnavailable,
    OutcomeUnknown,
    Problem,
    UnexpectedAnswer,
    error_for,
)
from bot.flowyte.models import (
    Agent,
    AgentVersion,
    AvailableNumber,
    OwnedNumber,
    Reservation,
    SearchQuery,
    Wallet,
)
from bot.flowyte.transport import AiohttpTransport

logger = logging.getLogger(__name__)

USER_AGENT = "numbot/0.1 (+https://github.com/numbot)"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=256, keepalive_expiry=30.0)
_PAGE_LIMIT = 100
_MAX_PAGES = 50


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 2.0
    budget: float = 6.0  # seconds, all attempts and waits included

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: a random wait in [0, min(cap, base * 2**attempt)]."""
        return float(rng() * min(self.max_delay, self.base_delay * (2**attempt)))


NO_RETRY = RetryPolicy(attempts=1)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date, or garbage: fall back on our own backoff
    return max(0.0, seconds) if math.isfinite(seconds) else None


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: Any, *, changed: bool = False) -> M:
    """Read a 2xx answer. An answer numbot cannot read is an error; for a call that may have
    changed something at Flowyte, its outcome is then unknown."""
    try:
        return model.model_validate(data)
    except ValidationError:
        unreadable = OutcomeUnknown if changed else UnexpectedAnswer
        raise unreadable(f"Flowyte's answer is not a {model.__name__}") from None


def _parse_json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None


class FlowyteClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._http = http
        self._retry = retry
        self._sleep = sleep
        self._rng = rng

    @classmethod
    def connect(
        cls,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
    ) -> FlowyteClient:
        http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            timeout=timeout,
            limits=DEFAULT_LIMITS,
            # aiohttp's pool: httpcore's rescans every pooled connection per request (tests/bench).
            transport=transport or AiohttpTransport(DEFAULT_LIMITS),
        )
        return cls(http, retry=retry)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the endpoints ---------------------------------------------------------------

    async def search(self, query: SearchQuery) -> list[AvailableNumber]:
        data = await self._get("numbers/search", params=query.params())
        return [_parse(AvailableNumber, item) for item in data or []]

    async def get_available(self, e164: str) -> AvailableNumber:
        data = await self._get(f"numbers/available/{quote(e164, safe='')}")
        return _parse(AvailableNumber, data)

    async def reserve(self, e164: str) -> Reservation:
        data = await self._request("POST", "numbers/reserve", json_body={"e164": e164})
        return _parse(Reservation, data, changed=True)

    async def release_hold(self, reservation_id: str) -> None:
        await self._request(
            "DELETE", f"numbers/reserve/{quote(reservation_id, safe='')}", retry=self._retry
        )

    async def purchase(
        self, e164: str, reservation_id: str | None, *, idempotency_key: str
    ) -> OwnedNumber:
        body: dict[str, Any] = {"e164": e164}
        if reservation_id:
            body["reservationId"] = reservation_id
        data = await self._request(
            "POST", "numbers/purchase", json_body=body, headers={"Idempotency-Key": idempotency_key}
        )
        return _parse(OwnedNumber, data, changed=True)

    async def import_number(self, e164: str, agent_id: str | None = None) -> OwnedNumber:
        body: dict[str, Any] = {"e164": e164}
        if agent_id:
            body["agentId"] = agent_id
        data = await self._request("POST", "numbers/import", json_body=body)
        return _parse(OwnedNumber, data, changed=True)

    async def list_numbers(self) -> list[OwnedNumber]:
        return [_parse(OwnedNumber, item) for item in await self._get_all("numbers")]

    async def get_number(self, number_id: str) -> OwnedNumber:
        return _parse(OwnedNumber, await self._get(f"numbers/{quote(number_id, safe='')}"))

    async def assign(self, number_id: str, agent_id: str) -> OwnedNumber:
        data = await self._request(
            "POST", f"numbers/{quote(number_id, safe='')}/assign", json_body={"agentId": agent_id}
        )
        return _parse(OwnedNumber, data, changed=True)

    async def unassign(self, number_id: str) -> OwnedNumber | None:
        data = await self._request("DELETE", f"numbers/{quote(number_id, safe='')}/assign")
        return _parse(OwnedNumber, data, changed=True) if isinstance(data, dict) else None

    async def release_number(self, number_id: str) -> None:
        await self._request("DELETE", f"numbers/{quote(number_id, safe='')}")

    async def list_agents(self) -> list[Agent]:
        return [_parse(Agent, item) for item in await self._get_all("agents")]

    async def get_agent(self, agent_id: str) -> Agent:
        return _parse(Agent, await self._get(f"agents/{quote(agent_id, safe='')}"))

    async def publish(
        self, agent_id: str, *, idempotency_key: str, note: str | None = None
    ) -> AgentVersion:
        body = {"note": note} if note else {}
        data = await self._request(
            "POST",
            f"agents/{quote(agent_id, safe='')}/publish",
            json_body=body,
            headers={"Idempotency-Key": idempotency_key},
        )
        return _parse(AgentVersion, data, changed=True)

    async def wallet(self) -> Wallet:
        return _parse(Wallet, await self._get("billing/wallet"))

    # -- transport -------------------------------------------------------------------

    async def _get(self, path: str, *, params: dict[str, str] | None = None) -> Any:
        return await self._request("GET", path, params=params, retry=self._retry)

    async def _get_all(self, path: str) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params = {"limit": str(_PAGE_LIMIT)}
            if cursor:
                params["cursor"] = cursor
            body = await self._request("GET", path, params=params, retry=self._retry, envelope=True)
            page = body.get("data") if isinstance(body, dict) else body
            items.extend(page or [])
            cursor = body.get("nextCursor") if isinstance(body, dict) else None
            if not cursor:
                return items
        raise FlowyteError(f"{path}: more than {_MAX_PAGES} pages")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        retry: RetryPolicy = NO_RETRY,
        envelope: bool = False,
    ) -> Any:
        """Send one call; retry per `retry`; return `data` (or the whole body if `envelope`)."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, path, params=params, json=json_body, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                error: FlowyteError = FlowyteUnavailable(f"{method} {path}: {type(exc).__name__}")
                wait = None
            except httpx.TransportError as exc:  # sent, maybe processed: read timeout, reset
                unknown = OutcomeUnknown if method != "GET" else FlowyteUnavailable
                error = unknown(f"{method} {path}: {type(exc).__name__}")
                wait = None
            else:
                logger.debug("flowyte %s %s -> %s", method, path, response.status_code)
                if response.is_success:
                    body = _parse_json(response)
                    if envelope:
                        return body
                    return body.get("data") if isinstance(body, dict) and "data" in body else body
                problem = Problem.from_body(response.status_code, _parse_json(response))
                wait = _retry_after(response)
                error = error_for(problem, retry_after=wait, method=method, path=path)
                if response.status_code != 429 and response.status_code < 500:
                    raise error
            attempt += 1
            delay = retry.backoff(attempt - 1, self._rng) if wait is None else wait
            elapsed = time.monotonic() - started
            if attempt >= retry.attempts or elapsed + delay > retry.budget:
                if isinstance(error, FlowyteAPIError):
                    logger.warning("flowyte %s %s failed: %s", method, path, error.status)
                else:
                    logger.warning("flowyte %s %s failed: %s", method, path, error)
                raise error
            logger.info(
                "flowyte %s %s: retrying in %.2fs (attempt %d)", method, path, delay, attempt + 1
            )
            await self._sleep(delay)

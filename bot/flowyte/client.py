"""A thin async client for the Flowyte numbers API (see shared/flowyte-api.md).

    client = FlowyteClient.connect("https://builder.flowyte.com/api/v1", api_key, timeout=10)
    numbers = await client.search(SearchQuery(area_code="415"))

Time. Every HTTP exchange (connect, send, every byte of the answer) runs under one deadline,
`attempt_timeout` (from `timeout`; NUMBOT_FLOWYTE_TIMEOUT in numbot), not a per-read timeout
that a Flowyte dripping one byte at a time could stretch forever. Reads (GET) and the release
of a hold are retried with capped, jittered exponential backoff that honours `Retry-After`
(else `RateLimit-Reset`); a retry, or the next page of a list, is started only within the
policy's `budget` of the call's start. So no client call takes longer than
`max_call_seconds` = `budget + attempt_timeout`, which numbot's quiet window must exceed.

What a failure means (bot/flowyte/errors.py draws the tree):

- nothing sent (refused, connect or pool timeout): `FlowyteUnavailable`;
- sent, no usable answer (deadline, reset, 408, an unreadable 2xx): `OutcomeUnknown` for a
  call that may change something (POST, DELETE), `FlowyteUnavailable` for a read; a replay
  answered 409 `idempotency_in_progress` ([inferred] code) is `StillProcessing`, an
  `OutcomeUnknown`;
- an answer numbot cannot read on a read: `UnexpectedAnswer`, never "nothing".

Nothing that moves money or changes routing is retried here: when such a call's outcome is
unknown the caller reconciles (replaying a purchase with its Idempotency-Key is the
documented way).

Answers. A success is `{"success": true, "data": ...}` [docs]: a 2xx that is not JSON, has
no `data`, says `success: false`, or whose `data` has the wrong shape is unreadable. Calls
that need no data (releasing a hold or a number) accept an empty body too.

Lists. The docs promise cursor pagination without showing where the cursor lives. numbot reads
these, and only these (each unambiguous):

- `{"data": [...], "nextCursor": "c" | null}`                 the [inferred] shape
- `{"data": {"items": [...], "nextCursor": "c" | null}}`
- `{"data": [...], "pagination": {"nextCursor": ..., "hasMore"?: bool}}`
- `{"data": [...], "meta": {"nextCursor": ..., "hasMore"?: bool}}`
- any of them with `hasMore: false` and no cursor at all (the end, said plainly).

The end of a list must be stated (a null cursor or `hasMore: false`). These are
`UnexpectedAnswer`, never "that was everything": no cursor anywhere; `hasMore: true` without a
cursor; places that disagree; a cursor that is not a string; a `links.next`, a `Link: rel=next`
header or another "more" member (numbot does not follow URLs it did not build); a cursor seen
before in the same listing (a loop). There is no page cap that could silently truncate: a
listing that outlasts the budget fails as `FlowyteUnavailable`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from bot.flowyte.errors import (
    FlowyteAPIError,
    FlowyteError,
    FlowyteUnavailable,
    OutcomeUnknown,
    Problem,
    StillProcessing,
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
MAX_WAIT: Final = 3600.0  # seconds: a longer Retry-After / RateLimit-Reset is read as this
REQUIRED_SCOPES: Final = (
    "numbers:read",
    "numbers:write",
    "billing:read",
    "agents:read",
    "agents:write",
)
_PAGE_LIMIT = 100
_LINK_NEXT: Final = re.compile(r"""rel\s*=\s*"?[^";,]*\bnext\b""", re.IGNORECASE)
# Members that would say "there is more" somewhere numbot does not read.
_MORE_HINTS: Final = frozenset(
    {
        "next",
        "next_cursor",
        "nextPage",
        "next_page",
        "nextPageToken",
        "next_page_token",
        "nextToken",
        "continuationToken",
        "has_more",
        "hasNextPage",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 2.0
    # Seconds from a call's start within which another attempt (a retry, or the next page of
    # a list) may still be started; the waits count. The last attempt may then run for up to
    # the client's attempt_timeout, so a call ends within budget + attempt_timeout.
    budget: float = 6.0

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: a random wait in [0, min(cap, base * 2**attempt)]."""
        return float(rng() * min(self.max_delay, self.base_delay * (2**attempt)))


NO_RETRY = RetryPolicy(attempts=1)


def _seconds(value: str | None) -> float | None:
    """A header's delay in seconds, clamped to [0, MAX_WAIT]; None if it is not a number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date, or garbage: the next source, else our own backoff
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_WAIT)


def _retry_after(response: httpx.Response) -> float | None:
    """The wait Flowyte asks for: `Retry-After` (seconds), else `RateLimit-Reset` (seconds)."""
    wait = _seconds(response.headers.get("Retry-After"))
    if wait is None:
        wait = _seconds(response.headers.get("RateLimit-Reset"))
    return wait


def _timeout_seconds(timeout: httpx.Timeout) -> float | None:
    """The longest of a Timeout's parts: one whole exchange gets that long."""
    parts = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t]
    return max(parts) if parts else None


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: Any, *, changed: bool = False) -> M:
    """Read a 2xx answer. An answer numbot cannot read is an error; for a call that may have
    changed something at Flowyte, its outcome is then unknown."""
    try:
        return model.model_validate(data)
    except ValidationError:
        unreadable = OutcomeUnknown if changed else UnexpectedAnswer
        raise unreadable(f"Flowyte's answer is not a {model.__name__}") from None


_NOT_JSON: Final = object()


def _parse_json(response: httpx.Response) -> Any:
    """The body as JSON (amounts as Decimal); None if empty; _NOT_JSON if unreadable."""
    if not response.content.strip():
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:  # not JSON, or not UTF-8: an HTML maintenance page, a proxy's text
        return _NOT_JSON


@dataclass(frozen=True)
class _Answer:
    """A 2xx answer: its parsed body (None when empty) and headers."""

    method: str
    path: str
    body: Any
    headers: httpx.Headers

    @property
    def changed(self) -> bool:
        return self.method != "GET"

    def unreadable(self, why: str) -> FlowyteError:
        cls = OutcomeUnknown if self.changed else UnexpectedAnswer
        return cls(f"{self.method} {self.path}: {why}")

    def envelope(self) -> dict[str, Any]:
        """The success envelope; an answer that is not one is unreadable."""
        if self.body is _NOT_JSON:
            raise self.unreadable("the answer is not JSON")
        if not isinstance(self.body, dict):
            raise self.unreadable("the answer is not a JSON object")
        if "success" in self.body and self.body["success"] is not True:
            raise self.unreadable("the answer says success is not true")
        return self.body

    def data(self) -> Any:
        body = self.envelope()
        if "data" not in body:
            raise self.unreadable("the answer has no data")
        return body["data"]

    def items(self) -> list[Any]:
        data = self.data()
        if not isinstance(data, list):
            raise self.unreadable("the answer's data is not a list")
        return data

    def done(self) -> None:
        """For calls that need no data: an empty body, or an envelope that does not say no."""
        if self.body is not None:
            self.envelope()


def _is_more(value: object) -> bool:
    return value not in (None, False, "", [], {})


def _page(answer: _Answer) -> tuple[list[Any], str | None]:
    """One page of a list and the cursor of the next (None at the end); see the docstring."""
    body = answer.envelope()
    if "data" not in body:
        raise answer.unreadable("the list has no data")
    data = body["data"]
    places: list[Mapping[str, Any]] = [body]
    if isinstance(data, dict):
        items = data.get("items")
        places.append(data)
    else:
        items = data
    if not isinstance(items, list):
        raise answer.unreadable("the list's data is not a list")
    for name in ("pagination", "meta"):
        holder = body.get(name)
        if isinstance(holder, dict):
            places.append(holder)
        elif holder is not None:
            raise answer.unreadable(f"the list's {name} is not an object")
    cursors: set[str | None] = set()
    more: set[bool] = set()
    for place in places:
        if "nextCursor" in place:
            cursor = place["nextCursor"]
            if cursor is not None and not isinstance(cursor, str):
                raise answer.unreadable("the list's cursor is not a string")
            cursors.add(cursor or None)
        if "hasMore" in place:
            if not isinstance(place["hasMore"], bool):
                raise answer.unreadable("the list's hasMore is not true or false")
            more.add(place["hasMore"])
        links = place.get("links")
        if isinstance(links, dict) and _is_more(links.get("next")):
            raise answer.unreadable("the list points to its next page by a link")
        hints = [k for k in _MORE_HINTS if _is_more(place.get(k))]
        if hints:
            raise answer.unreadable(f"the list says there is more in {hints[0]!r}")
    if _LINK_NEXT.search(answer.headers.get("link", "")):
        raise answer.unreadable("the list points to its next page by a Link header")
    if len(cursors) > 1 or len(more) > 1:
        raise answer.unreadable("the list's pagination contradicts itself")
    cursor = next(iter(cursors)) if cursors else None
    if not cursors and more != {False}:
        raise answer.unreadable("the list does not say whether there is more")
    if more == {True} and cursor is None:
        raise answer.unreadable("the list has more but no cursor")
    if more == {False} and cursor is not None:
        raise answer.unreadable("the list has a cursor but no more")
    return items, cursor


@dataclass(frozen=True)
class ScopeCheck:
    """What `check_scopes()` learned: scopes Flowyte refused, and ones it could not check.

    `unchecked` maps a scope to why its probe was inconclusive (Flowyte unreachable, a 5xx,
    an answer that proves nothing): not evidence that the scope is missing.
    """

    missing: tuple[str, ...] = ()
    unchecked: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unchecked


class FlowyteClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        attempt_timeout: float | None = None,
    ) -> None:
        """`attempt_timeout` bounds one whole HTTP exchange; by default the longest part of
        the httpx client's own timeout (10 s if it has none)."""
        self._http = http
        self._retry = retry
        self._sleep = sleep
        self._rng = rng
        seconds = attempt_timeout if attempt_timeout is not None else _timeout_seconds(http.timeout)
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ValueError("attempt_timeout must be a positive number of seconds")
        self.attempt_timeout: float = seconds or _timeout_seconds(DEFAULT_TIMEOUT) or 10.0

    @classmethod
    def connect(
        cls,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
    ) -> FlowyteClient:
        """A client with its own pool; `timeout` (seconds, or an httpx.Timeout whose longest
        part is taken) bounds each whole exchange."""
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(3.0, timeout))
        http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            timeout=timeout,
            limits=DEFAULT_LIMITS,
            # aiohttp's pool: httpcore's rescans every pooled connection per request (tests/bench).
            transport=transport or AiohttpTransport(DEFAULT_LIMITS),
        )
        return cls(http, retry=retry)

    @property
    def max_call_seconds(self) -> float:
        """The longest any one call of this client can take, retries, waits and every page of
        a list included: a caller that must know a call is over waits longer than this."""
        return max(0.0, self._retry.budget) + self.attempt_timeout

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the endpoints ---------------------------------------------------------------

    async def search(self, query: SearchQuery) -> list[AvailableNumber]:
        """Available numbers; vanity letters in the digit patterns are sent as keypad digits."""
        answer = await self._send("GET", "numbers/search", params=query.api_params())
        return [_parse(AvailableNumber, item) for item in answer.items()]

    async def get_available(self, e164: str) -> AvailableNumber:
        answer = await self._send("GET", f"numbers/available/{quote(e164, safe='')}")
        return _parse(AvailableNumber, answer.data())

    async def reserve(self, e164: str) -> Reservation:
        """Hold `e164`. Flowyte promises only the hold's `id`; the e164 is filled in from the
        request when the answer leaves it out (price and expiry stay None: the caller knows)."""
        answer = await self._send("POST", "numbers/reserve", json_body={"e164": e164})
        hold = _parse(Reservation, answer.data(), changed=True)
        if hold.e164 is None:
            return hold.model_copy(update={"e164": e164})
        if hold.e164 != e164:
            raise OutcomeUnknown(f"POST numbers/reserve: Flowyte held another number for {e164}")
        return hold

    async def release_hold(self, reservation_id: str) -> None:
        answer = await self._send(
            "DELETE", f"numbers/reserve/{quote(reservation_id, safe='')}", retry=self._retry
        )
        answer.done()

    async def purchase(
        self, e164: str, reservation_id: str | None, *, idempotency_key: str
    ) -> OwnedNumber:
        """Buy `e164`. Sending the same body with the same `idempotency_key` again is how to
        learn the outcome of a purchase whose answer was lost: Flowyte replays the result."""
        body: dict[str, Any] = {"e164": e164}
        if reservation_id:
            body["reservationId"] = reservation_id
        answer = await self._send(
            "POST", "numbers/purchase", json_body=body, headers={"Idempotency-Key": idempotency_key}
        )
        return _parse(OwnedNumber, answer.data(), changed=True)

    async def import_number(self, e164: str, agent_id: str | None = None) -> OwnedNumber:
        body: dict[str, Any] = {"e164": e164}
        if agent_id:
            body["agentId"] = agent_id
        answer = await self._send("POST", "numbers/import", json_body=body)
        return _parse(OwnedNumber, answer.data(), changed=True)

    async def list_numbers(self) -> list[OwnedNumber]:
        """Every owned number, over every page; an unreadable page raises, never truncates."""
        return [_parse(OwnedNumber, item) for item in await self._get_all("numbers")]

    async def get_number(self, number_id: str) -> OwnedNumber:
        answer = await self._send("GET", f"numbers/{quote(number_id, safe='')}")
        return _parse(OwnedNumber, answer.data())

    async def assign(self, number_id: str, agent_id: str) -> OwnedNumber:
        answer = await self._send(
            "POST", f"numbers/{quote(number_id, safe='')}/assign", json_body={"agentId": agent_id}
        )
        return _parse(OwnedNumber, answer.data(), changed=True)

    async def unassign(self, number_id: str) -> OwnedNumber | None:
        """The number back in the pool, or None when Flowyte answered without it (204)."""
        answer = await self._send("DELETE", f"numbers/{quote(number_id, safe='')}/assign")
        if answer.body is None:
            return None
        data = answer.envelope().get("data")
        return None if data is None else _parse(OwnedNumber, data, changed=True)

    async def release_number(self, number_id: str) -> None:
        answer = await self._send("DELETE", f"numbers/{quote(number_id, safe='')}")
        answer.done()

    async def list_agents(self) -> list[Agent]:
        return [_parse(Agent, item) for item in await self._get_all("agents")]

    async def get_agent(self, agent_id: str) -> Agent:
        answer = await self._send("GET", f"agents/{quote(agent_id, safe='')}")
        return _parse(Agent, answer.data())

    async def publish(
        self, agent_id: str, *, idempotency_key: str, note: str | None = None
    ) -> AgentVersion:
        body = {"note": note} if note else {}
        answer = await self._send(
            "POST",
            f"agents/{quote(agent_id, safe='')}/publish",
            json_body=body,
            headers={"Idempotency-Key": idempotency_key},
        )
        return _parse(AgentVersion, answer.data(), changed=True)

    async def wallet(self) -> Wallet:
        return _parse(Wallet, (await self._send("GET", "billing/wallet")).data())

    # -- the key's scopes ------------------------------------------------------------

    async def check_scopes(self) -> ScopeCheck:
        """Which of the scopes numbot needs (REQUIRED_SCOPES) the key lacks, by cheap calls
        that change nothing. A 403 is "missing"; any other inconclusive answer is "could not
        check", never "missing". At most `max_call_seconds` (the probes run together).

        - numbers:read  GET /numbers?limit=1          2xx = granted
        - billing:read  GET /billing/wallet           2xx = granted
        - agents:read   GET /agents?limit=1           2xx = granted
        - numbers:write POST /numbers/reserve {}      400/422 = granted (no e164: nothing held)
        - agents:write  POST /agents/<made up>/publish  404 (no such agent), or 400/422 (an id
                                                      Flowyte will not even look up) = granted

        The write probes rely on Flowyte checking the scope before validating the body or
        looking the agent up. That order is [inferred] (it is how OAuth-scoped APIs work;
        Flowyte's docs do not say): were it the other way round, a key without the scope
        would pass these probes, and the first real call would then be refused with a 403
        that names the scope.
        """
        made_up = f"agt_numbot_scope_check_{secrets.token_hex(6)}"
        probes: dict[str, tuple[str, str, dict[str, Any], tuple[int, ...]]] = {
            "numbers:read": ("GET", "numbers", {"params": {"limit": "1"}}, ()),
            "numbers:write": ("POST", "numbers/reserve", {"json_body": {}}, (400, 422)),
            "billing:read": ("GET", "billing/wallet", {}, ()),
            "agents:read": ("GET", "agents", {"params": {"limit": "1"}}, ()),
            "agents:write": (
                "POST",
                f"agents/{made_up}/publish",
                {"json_body": {}, "headers": {"Idempotency-Key": f"numbot-scope-{made_up}"}},
                (400, 404, 422),
            ),
        }
        results = await asyncio.gather(
            *(
                self._probe(method, path, kw, granted)
                for method, path, kw, granted in probes.values()
            )
        )
        missing = tuple(
            scope for scope, result in zip(probes, results, strict=True) if result == "missing"
        )
        unchecked = {
            scope: result
            for scope, result in zip(probes, results, strict=True)
            if result not in ("granted", "missing")
        }
        return ScopeCheck(missing=missing, unchecked=unchecked)

    async def _probe(
        self, method: str, path: str, kw: dict[str, Any], granted_statuses: tuple[int, ...]
    ) -> str:
        """The probe's verdict: `granted`, `missing`, or why it proves neither."""
        retry = self._retry if method == "GET" else NO_RETRY
        try:
            answer = await self._send(method, path, retry=retry, **kw)
        except FlowyteAPIError as exc:
            if exc.status == 403:
                return "missing"
            if exc.status in granted_statuses:
                return "granted"
            if exc.status == 401:
                return "the key was refused (401)"
            return f"Flowyte answered {exc.status}{' ' + exc.code if exc.code else ''}"
        except FlowyteError as exc:
            return f"Flowyte could not be asked ({type(exc).__name__})"
        if granted_statuses:  # a write probe that succeeded: odd, but it proves the scope
            logger.warning("scope check: %s %s unexpectedly succeeded", method, path)
            return "granted"
        try:
            answer.envelope()
        except FlowyteError:
            return "Flowyte's answer could not be read"
        return "granted"

    # -- transport -------------------------------------------------------------------

    async def _get_all(self, path: str) -> list[Any]:
        """Every page of a list, within one time budget; see the module docstring."""
        started = time.monotonic()
        items: list[Any] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            params = {"limit": str(_PAGE_LIMIT)}
            if cursor:
                params["cursor"] = cursor
            answer = await self._send("GET", path, params=params, started=started)
            page, cursor = _page(answer)
            items.extend(page)
            if cursor is None:
                return items
            if cursor in seen:
                raise UnexpectedAnswer(f"GET {path}: the list's cursor came round again")
            seen.add(cursor)
            if time.monotonic() - started > self._retry.budget:
                raise FlowyteUnavailable(
                    f"GET {path}: {len(items)} items and more to come after "
                    f"{self._retry.budget:g}s; the list was not finished"
                )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        retry: RetryPolicy | None = None,
        started: float | None = None,
    ) -> _Answer:
        """Send one call (retried per `retry`: reads by default, nothing else) and return
        its 2xx answer; every other outcome raises (see the module docstring)."""
        if retry is None:
            retry = self._retry if method == "GET" else NO_RETRY
        if started is None:
            started = time.monotonic()
        attempt = 0
        changes = method != "GET"
        while True:
            wait: float | None = None
            try:
                async with asyncio.timeout(self.attempt_timeout):
                    response = await self._http.request(
                        method, path, params=params, json=json_body, headers=headers
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Never reached Flowyte: nothing was sent.
                error: FlowyteError = FlowyteUnavailable(f"{method} {path}: {type(exc).__name__}")
            except (httpx.RequestError, TimeoutError) as exc:
                # Sent, maybe processed: a read timeout, a reset, an undecodable body, the
                # whole-exchange deadline.
                unknown = OutcomeUnknown if changes else FlowyteUnavailable
                name = "deadline" if isinstance(exc, TimeoutError) else type(exc).__name__
                error = unknown(f"{method} {path}: {name} after {self.attempt_timeout:g}s")
            else:
                logger.debug("flowyte %s %s -> %s", method, path, response.status_code)
                if response.is_success:
                    return _Answer(method, path, _parse_json(response), response.headers)
                status = response.status_code
                if status == 408 and changes:
                    # Flowyte (or a proxy) gave up waiting: the call may have been applied.
                    raise OutcomeUnknown(f"{method} {path}: 408")
                body = _parse_json(response)
                problem = Problem.from_body(status, None if body is _NOT_JSON else body)
                wait = _retry_after(response)
                if status == 409 and changes and problem.code == "idempotency_in_progress":
                    # A replay met the first call still running: how it ends is not known yet.
                    raise StillProcessing(f"{method} {path}: 409 {problem.code}", retry_after=wait)
                error = error_for(problem, retry_after=wait, method=method, path=path)
                if status not in (408, 429) and status < 500:
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

"""A thin async client for the Flowyte numbers API (see shared/flowyte-api.md).

    client = FlowyteClient.connect("https://builder.flowyte.com/api/v1", api_key, timeout=10)
    numbers = await client.search(SearchQuery(area_code="415"))

The client keeps the endpoints and the request loop; the rules it applies live beside it,
pure and unit-tested without HTTP:

- bot/flowyte/envelope.py   reading a success envelope and the pages of a list
- bot/flowyte/retry.py      RetryPolicy, and the waits Retry-After / RateLimit-Reset ask for
- bot/flowyte/scopes.py     the scope probes of `check_scopes()` and how to read them
- bot/flowyte/errors.py     the error tree, and which problem becomes which error

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

Lists are read page by page, `limit=100` each (envelope.py says which pages numbot can read),
until a page says it is the last, or is a plain page without any cursor information that is
shorter than the limit. A cursor seen before in the same listing (a loop) is
`UnexpectedAnswer`.
There is no page cap that could silently truncate: a listing that outlasts the budget fails
as `FlowyteUnavailable`. `owned_pages()` instead yields the owned list a page at a time with
no overall cap (each page has its own budget), for walks that may take minutes and for
looking for one number with an early exit.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from urllib.parse import quote

import httpx

from bot.flowyte import scopes
from bot.flowyte.envelope import NOT_JSON, Answer, parse_json, parse_model, read_page
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
    UsageItem,
    Wallet,
)
from bot.flowyte.retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy, retry_after
from bot.flowyte.routes import route_of
from bot.flowyte.scopes import ScopeCheck
from bot.flowyte.transport import AiohttpTransport

# Set while the scope probes run: their calls are not counted in numbot_flowyte_calls_total.
_probing: contextvars.ContextVar[bool] = contextvars.ContextVar("numbot_probing", default=False)
logger = logging.getLogger(__name__)

USER_AGENT = "numbot/0.1 (+https://github.com/numbot)"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=256, keepalive_expiry=30.0)
_PAGE_LIMIT: Final = 100


def _iso(moment: datetime) -> str:
    """A query's date-time as Flowyte's examples write them: UTC, seconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timeout_seconds(timeout: httpx.Timeout) -> float | None:
    """The longest of a Timeout's parts: one whole exchange gets that long."""
    parts = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t]
    return max(parts) if parts else None


class CallObserver(Protocol):
    """Told about every HTTP exchange with Flowyte (numbot's metrics): the route template
    (bot/flowyte/routes.py, never a number or id), the method, the status code or
    "unreachable" (nothing sent) or "no_answer" (sent, no answer), and how long it took."""

    def flowyte_call(self, route: str, method: str, status: str, seconds: float) -> None: ...


class FlowyteClient:
    observer: CallObserver | None = None  # set by the caller that wants to know

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
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
        retry: RetryPolicy = DEFAULT_RETRY,
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
        return [parse_model(AvailableNumber, item) for item in answer.items()]

    async def get_available(self, e164: str) -> AvailableNumber:
        answer = await self._send("GET", f"numbers/available/{quote(e164, safe='')}")
        return parse_model(AvailableNumber, answer.data())

    async def reserve(self, e164: str) -> Reservation:
        """Hold `e164`. Flowyte promises only the hold's `id`; the e164 is filled in from the
        request when the answer leaves it out (price and expiry stay None: the caller knows)."""
        answer = await self._send("POST", "numbers/reserve", json_body={"e164": e164})
        hold = parse_model(Reservation, answer.data(), changed=True)
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
        return parse_model(OwnedNumber, answer.data(), changed=True)

    async def import_number(self, e164: str, agent_id: str | None = None) -> OwnedNumber:
        body: dict[str, Any] = {"e164": e164}
        if agent_id:
            body["agentId"] = agent_id
        answer = await self._send("POST", "numbers/import", json_body=body)
        return parse_model(OwnedNumber, answer.data(), changed=True)

    async def list_numbers(self, *, proof: bool = False) -> list[OwnedNumber]:
        """Every owned number, over every page; an unreadable page raises, never truncates.

        `proof`: the list will decide that something did not happen (a purchase, a release),
        so only a page that states it is the last ends it, never a merely short one."""
        items = await self._get_all("numbers", stated_end=proof)
        return [parse_model(OwnedNumber, item) for item in items]

    async def owned_pages(self, *, proof: bool = False) -> AsyncIterator[list[OwnedNumber]]:
        """The owned numbers a page at a time, to the list's end, with no overall time cap:
        each page has the retry budget of its own. For walks that may take minutes (the
        owned-number index's refresh, a reconciliation's proof) and for looking for one
        number with an early exit (stop iterating). `proof` as in `list_numbers`; an
        unreadable page or a looping cursor raises, never ends the walk quietly."""
        async for page in self._pages("numbers", stated_end=proof):
            yield [parse_model(OwnedNumber, item) for item in page]

    async def get_number(self, number_id: str) -> OwnedNumber:
        answer = await self._send("GET", f"numbers/{quote(number_id, safe='')}")
        return parse_model(OwnedNumber, answer.data())

    async def assign(self, number_id: str, agent_id: str) -> OwnedNumber:
        answer = await self._send(
            "POST", f"numbers/{quote(number_id, safe='')}/assign", json_body={"agentId": agent_id}
        )
        return parse_model(OwnedNumber, answer.data(), changed=True)

    async def unassign(self, number_id: str) -> OwnedNumber | None:
        """The number back in the pool, or None when Flowyte answered without it (204)."""
        answer = await self._send("DELETE", f"numbers/{quote(number_id, safe='')}/assign")
        if answer.body is None:
            return None
        data = answer.envelope().get("data")
        return None if data is None else parse_model(OwnedNumber, data, changed=True)

    async def release_number(self, number_id: str) -> None:
        answer = await self._send("DELETE", f"numbers/{quote(number_id, safe='')}")
        answer.done()

    async def list_agents(self) -> list[Agent]:
        return [parse_model(Agent, item) for item in await self._get_all("agents")]

    async def get_agent(self, agent_id: str) -> Agent:
        answer = await self._send("GET", f"agents/{quote(agent_id, safe='')}")
        return parse_model(Agent, answer.data())

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
        return parse_model(AgentVersion, answer.data(), changed=True)

    async def wallet(self) -> Wallet:
        return parse_model(Wallet, (await self._send("GET", "billing/wallet")).data())

    async def usage_pages(self, start: datetime, end: datetime) -> AsyncIterator[list[UsageItem]]:
        """The wallet's charges from `start` up to `end`, a page at a time (each page with its
        own retry budget). An item numbot cannot read raises: a month is never summed short."""
        window = {"from": _iso(start), "to": _iso(end)}
        async for page in self._pages("billing/usage/items", stated_end=False, params=window):
            yield [parse_model(UsageItem, item) for item in page]

    # -- the key's scopes ------------------------------------------------------------

    async def check_scopes(self) -> ScopeCheck:
        """Which of the scopes numbot needs (REQUIRED_SCOPES) the key lacks, by cheap calls
        that change nothing (bot/flowyte/scopes.py lists them and reads their answers). A 403
        is "missing"; any other inconclusive answer is "could not check", never "missing".
        At most `max_call_seconds` (the probes run together)."""
        made_up = f"agt_numbot_scope_check_{secrets.token_hex(6)}"
        probes = scopes.probes(made_up)
        token = _probing.set(True)  # kept out of the call metrics (tasks copy this context)
        try:
            verdicts = await asyncio.gather(*(self._probe(probe) for probe in probes.values()))
        finally:
            _probing.reset(token)
        return scopes.scope_check(dict(zip(probes, verdicts, strict=True)))

    async def _probe(self, probe: scopes.Probe) -> str:
        """The probe's verdict: `granted`, `missing`, or why it proves neither."""
        retry = self._retry if probe.method == "GET" else NO_RETRY
        try:
            answer = await self._send(probe.method, probe.path, retry=retry, **probe.send)
        except FlowyteError as exc:
            return scopes.refused_verdict(probe, exc)
        if probe.granted_statuses:
            logger.warning("scope check: %s %s unexpectedly succeeded", probe.method, probe.path)
        return scopes.answered_verdict(probe, answer)

    # -- transport -------------------------------------------------------------------

    async def _pages(
        self, path: str, *, stated_end: bool, params: dict[str, str] | None = None
    ) -> AsyncIterator[list[Any]]:
        """Every page of a list, each within its own retry budget; see the module docstring."""
        seen: set[str] = set()
        cursor: str | None = None
        fixed = params or {}
        while True:
            params = {**fixed, "limit": str(_PAGE_LIMIT)}
            if cursor:
                params["cursor"] = cursor
            answer = await self._send("GET", path, params=params)
            page, cursor = read_page(answer, _PAGE_LIMIT, stated_end=stated_end)
            if cursor is not None and cursor in seen:
                raise UnexpectedAnswer(f"GET {path}: the list's cursor came round again")
            yield page
            if cursor is None:
                return
            seen.add(cursor)

    async def _get_all(self, path: str, *, stated_end: bool = False) -> list[Any]:
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
            page, cursor = read_page(answer, _PAGE_LIMIT, stated_end=stated_end)
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
    ) -> Answer:
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
            began = time.monotonic()
            try:
                async with asyncio.timeout(self.attempt_timeout):
                    response = await self._http.request(
                        method, path, params=params, json=json_body, headers=headers
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Never reached Flowyte: nothing was sent.
                self._observe(path, method, "unreachable", began)
                error: FlowyteError = FlowyteUnavailable(f"{method} {path}: {type(exc).__name__}")
            except (httpx.RequestError, TimeoutError) as exc:
                # Sent, maybe processed: a read timeout, a reset, an undecodable body, the
                # whole-exchange deadline.
                self._observe(path, method, "no_answer", began)
                unknown = OutcomeUnknown if changes else FlowyteUnavailable
                name = "deadline" if isinstance(exc, TimeoutError) else type(exc).__name__
                error = unknown(f"{method} {path}: {name} after {self.attempt_timeout:g}s")
            else:
                self._observe(path, method, str(response.status_code), began)
                logger.debug("flowyte %s %s -> %s", method, path, response.status_code)
                if response.is_success:
                    return Answer(method, path, parse_json(response.content), response.headers)
                status = response.status_code
                if status == 408 and changes:
                    # Flowyte (or a proxy) gave up waiting: the call may have been applied.
                    raise OutcomeUnknown(f"{method} {path}: 408")
                body = parse_json(response.content)
                problem = Problem.from_body(status, None if body is NOT_JSON else body)
                wait = retry_after(response.headers)
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

    def _observe(self, path: str, method: str, status: str, began: float) -> None:
        if self.observer is None or _probing.get():
            return  # the scope probes' refusals are expected, not Flowyte's errors
        try:
            self.observer.flowyte_call(route_of(path), method, status, time.monotonic() - began)
        except Exception:  # counting must never change what a call does
            logger.exception("the Flowyte call observer failed")

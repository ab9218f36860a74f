"""The fake Flowyte for end-to-end tests: the sandbox behind a recording, fault-injecting layer.

    fake = FakeFlowyte()
    fake.add_fault(method="POST", path_regex=r"/numbers/purchase$", times=1, status=503)
    with fake.serve() as url:                      # real uvicorn on a loopback port
        client = FlowyteClient.connect(url + "/api/v1", "flowyte_sk_test")
        ...
    assert [c.status for c in fake.calls("POST", "/numbers/purchase")] == [503, 201]

Everything under /api/v1 is the real `SandboxFlowyte` (bot/sandbox.py), so state, money and
errors behave as numbot's sandbox does. Every API request is recorded (`calls()`, or
`GET /_control/calls`). Test control endpoints, without auth:

    GET  /_control/calls                  {"calls": [RecordedCall...]}
    POST /_control/reset                  forget calls, faults and latency; variants and key
                                          scopes back to the constructor's (sandbox state stays)
    GET  /_control/faults                 {"faults": [...]}
    POST /_control/faults                 a rule or a list of rules (Fault fields below); appended
    DELETE /_control/faults               remove every rule
    POST /_control/latency                {"seconds": 2.0}: a delay before every API call
    POST /_control/clock                  {"advance_seconds": 1900}: move the sandbox clock
    POST /_control/wallet                 {"balanceUsd": "3.00"}: set the wallet balance
    GET  /_control/state                  wallet, owned numbers, reservations, agents
    POST /_control/owned                  {"count": 50000, "prefix"?: "+1646"}: the organization
                                          owns that many more numbers at once (seed_owned)
    GET  /_control/variants               the sandbox's answer variants (bot/sandbox.py Variants)
    POST /_control/variants               {"problems": "type_only", "page_size": 2, ...}: changed
                                          ones only; 400 on an unknown name or a bad value
    POST /_control/scopes                 {"key": "flowyte_sk_...", "scopes": ["numbers:read"]}:
                                          that key's scopes ("scopes": null forgets them)

Documented variants, in a running fake (each also a FakeFlowyte/Variants argument):

    POST /_control/variants {"problems": "type_only"}      codes only in `type`
    POST /_control/variants {"reservations": "id_only"}    reserve answers {"id"} alone
    POST /_control/variants {"page_size": 2, "pagination": "meta"}   lists page; cursor in meta
    POST /_control/variants {"rate_limit": 5, "rate_window": 60}     RateLimit-* headers, 429
    POST /_control/variants {"amounts_on_402": false}      402 without amounts
    POST /_control/variants {"processing_delay": 2}        an idempotent replay meanwhile: 409
    POST /_control/scopes {"key": KEY, "scopes": ["numbers:read", "numbers:write",
                           "billing:read", "agents:write"]}           a key without agents:read

A fault rule matches an API request by `method` (None or "*" = any) and `path_regex`
(`re.search` on the full path, e.g. r"/numbers/purchase$"); the first live rule in order
wins and spends one of its `times` (None = forever, the default). Then, after the global
latency:

- plain (`after_delay_apply` false): wait `delay_s`; then `drop` closes the connection with no
  response, else `status` answers with `status`/`body`/`headers` instead of the sandbox, else
  the sandbox answers (with `headers` added). The sandbox never sees a dropped or faked call.
- `after_delay_apply`: the sandbox handles the request first (state changes, money moves), then
  the wait, then the drop, the fake status, or the real response: an answer that arrives
  after the client gave up, or never.

A fake `body` that is a string is sent as text/plain (a `headers` Content-Type overrides it);
a JSON value is sent as application/json; None gives a problem+json for `status` (in the
sandbox's problem style). So a 200 that numbot cannot read is one rule away:

    fake.add_fault("GET", r"/numbers$", status=200, body=MAINTENANCE_PAGE,
                   headers={"Content-Type": "text/html"})      # an HTML maintenance page
    fake.add_fault("GET", r"/numbers$", status=200, body={"success": True})   # no data
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.sandbox import (
    API_PREFIX,
    PROBLEM_TYPE_BASE,
    ProblemStyle,
    SandboxFlowyte,
    Variants,
    dumps_json,
    loads_json,
)
from tests.fakes.serve import serve_in_thread

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_RECORDED_HEADERS = ("idempotency-key", "content-type", "user-agent", "x-request-id")
MAINTENANCE_PAGE = (
    "<!doctype html><html><head><title>Flowyte</title></head>"
    "<body><h1>We'll be right back</h1><p>Scheduled maintenance.</p></body></html>"
)
_FAULT_CODES = {
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def _jsonable(value: Any) -> Any:
    """`value` with floats as Decimals, so the sandbox's float-refusing encoder takes it."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class ManualClock:
    """The sandbox's clock: real time (or a fixed `start`) plus whatever `advance` added."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            base = self._start if self._start is not None else datetime.now(UTC)
            return base + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self()


@dataclass
class Fault:
    method: str | None = None
    path_regex: str = ".*"
    times: int | None = None
    delay_s: float = 0.0
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    after_delay_apply: bool = False
    hits: int = 0

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status")

    @property
    def live(self) -> bool:
        return self.times is None or self.hits < self.times

    def matches(self, method: str, path: str) -> bool:
        method_ok = self.method in (None, "*") or self.method.upper() == method
        return self.live and method_ok and self._pattern.search(path) is not None

    @classmethod
    def from_json(cls, data: object) -> Fault:
        if not isinstance(data, Mapping):
            raise ValueError("a fault rule is a JSON object")
        known = set(cls.__dataclass_fields__) - {"hits"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        values = dict(data)
        if values.get("delay_s") is not None:
            values["delay_s"] = float(values["delay_s"])
        return cls(**values)

    def to_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "path_regex": self.path_regex,
            "times": self.times,
            "delay_s": _jsonable(self.delay_s),
            "status": self.status,
            "body": _jsonable(self.body),
            "headers": self.headers,
            "drop": self.drop,
            "after_delay_apply": self.after_delay_apply,
            "hits": self.hits,
        }

    def response(
        self, instance: str, style: ProblemStyle = "code"
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The (status, headers, body) this rule answers with instead of the sandbox."""
        assert self.status is not None
        if isinstance(self.body, str):
            media, payload = "text/plain; charset=utf-8", self.body.encode()
        elif self.body is not None:
            media, payload = "application/json", dumps_json(_jsonable(self.body)).encode()
        elif self.status >= 400:
            code = _FAULT_CODES.get(self.status, "injected_fault")
            problem = {
                "type": PROBLEM_TYPE_BASE + code,
                "title": HTTPStatus(self.status).phrase,
                "status": self.status,
                "detail": "Injected by the fake Flowyte.",
                "instance": instance,
            }
            if style == "code":
                problem["code"] = code
            media, payload = "application/problem+json", dumps_json(problem).encode()
        else:
            media, payload = "application/json", b'{"success":true,"data":null}'
        headers = {"content-type": media, **{k.lower(): v for k, v in self.headers.items()}}
        headers["content-length"] = str(len(payload))
        return self.status, [(k.encode(), v.encode()) for k, v in headers.items()], payload


@dataclass
class RecordedCall:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    authorization: bool
    json: Any
    at: str
    status: int | None = None  # what the client was sent; None while pending or when dropped
    handled_status: int | None = None  # what the sandbox answered; None if it never ran
    fault: int | None = None  # index of the fault rule that matched
    dropped: bool = False

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def api_path(self) -> str:
        return self.path.removeprefix(API_PREFIX)

    def to_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "authorization": self.authorization,
            "idempotencyKey": self.idempotency_key,
            "json": self.json,
            "at": self.at,
            "status": self.status,
            "handledStatus": self.handled_status,
            "fault": self.fault,
            "dropped": self.dropped,
        }


class _Captured:
    """A response held back from the client (for after_delay_apply)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status: int | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        self.messages.append(message)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_headers(send: Send, extra: Mapping[str, str], call: RecordedCall) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            call.status = int(message["status"])
            if extra:
                lowered = {k.lower() for k in extra}
                headers = [
                    (k, v) for k, v in message["headers"] if k.decode().lower() not in lowered
                ]
                headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
                message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _drop(receive: Receive, send: Send) -> None:
    """Close the connection without a response (uvicorn), or raise what httpx would."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if isinstance(transport, asyncio.BaseTransport):
        transport.close()
        with contextlib.suppress(Exception):  # let uvicorn see the disconnect, so it stays quiet
            await asyncio.wait_for(receive(), timeout=1.0)
        return
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def _record(scope: Scope, body: bytes) -> RecordedCall:
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
    query = httpx.QueryParams(scope.get("query_string", b"").decode("latin-1"))
    try:
        parsed = loads_json(body) if body.strip() else None
    except ValueError:
        parsed = None
    return RecordedCall(
        method=scope["method"],
        path=scope["path"],
        query=dict(query.items()),
        headers={k: headers[k] for k in _RECORDED_HEADERS if k in headers},
        authorization=bool(headers.get("authorization", "").strip()),
        json=parsed,
        at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )


class _FakeApp:
    """The ASGI app: /_control/* to the control routes, everything else through the faults."""

    def __init__(self, fake: FakeFlowyte) -> None:
        self._fake = fake
        self._control = _control_app(fake)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._fake.sandbox.asgi()(scope, receive, send)
        elif scope["path"].startswith("/_control"):
            await self._control(scope, receive, send)
        else:
            await self._api(scope, receive, send)

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        call = _record(scope, body)
        fault, latency = self._fake._admit(call)
        if latency:
            await asyncio.sleep(latency)
        inner = _replaying(body, receive)
        if fault is None:
            await self._handle(scope, inner, send, call, {})
        elif fault.after_delay_apply:
            await self._late(scope, inner, send, call, fault)
        else:
            await asyncio.sleep(fault.delay_s)
            await self._respond(scope, receive, inner, send, call, fault)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        call: RecordedCall,
        extra: Mapping[str, str],
    ) -> None:
        await self._fake.sandbox.asgi()(scope, receive, _with_headers(send, extra, call))
        call.handled_status = call.status

    async def _respond(
        self,
        scope: Scope,
        receive: Receive,
        inner: Receive,
        send: Send,
        call: RecordedCall,
        fault: Fault,
    ) -> None:
        if fault.drop:
            call.dropped = True
            await _drop(receive, send)
        elif fault.status is not None:
            status, headers, payload = fault.response(
                scope["path"], self._fake.sandbox.variants.problems
            )
            call.status = status
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": payload, "more_body": False})
        else:
            await self._handle(scope, inner, send, call, fault.headers)

    async def _late(
        self, scope: Scope, inner: Receive, send: Send, call: RecordedCall, fault: Fault
    ) -> None:
        captured = _Captured()
        await self._fake.sandbox.asgi()(scope, inner, captured.send)
        call.handled_status = captured.status
        await asyncio.sleep(fault.delay_s)
        if fault.drop or fault.status is not None:
            await self._respond(scope, inner, inner, send, call, fault)
            return
        forward = _with_headers(send, fault.headers, call)
        for message in captured.messages:
            await forward(message)


def _control_app(fake: FakeFlowyte) -> Starlette:
    def answer(data: object, status: int = 200) -> Response:
        return Response(dumps_json(data), status_code=status, media_type="application/json")

    async def body_of(request: Request) -> Any:
        raw = await request.body()
        return loads_json(raw) if raw.strip() else {}

    async def calls(request: Request) -> Response:
        return answer({"calls": [c.to_json() for c in fake.calls()]})

    async def reset(request: Request) -> Response:
        fake.reset()
        return answer({"ok": True})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            fake.clear_faults()
        elif request.method == "POST":
            data = await body_of(request)
            rules = data if isinstance(data, list) else data.get("faults", [data])
            try:
                for rule in [Fault.from_json(r) for r in rules]:
                    fake.add_rule(rule)
            except (TypeError, ValueError, re.error) as exc:
                return answer({"error": str(exc)}, 400)
        return answer({"faults": [f.to_json() for f in fake.faults()]})

    async def latency(request: Request) -> Response:
        seconds = (await body_of(request)).get("seconds", 0)
        fake.set_latency(float(seconds))
        return answer({"seconds": _jsonable(fake.latency)})

    async def clock(request: Request) -> Response:
        now = fake.advance(float((await body_of(request)).get("advance_seconds", 0)))
        return answer({"now": now.isoformat().replace("+00:00", "Z")})

    async def wallet(request: Request) -> Response:
        fake.set_balance(Decimal(str((await body_of(request))["balanceUsd"])))
        return answer(fake.sandbox.wallet.to_json())

    async def state(request: Request) -> Response:
        return answer(fake.state())

    async def owned(request: Request) -> Response:
        data = await body_of(request)
        count, prefix = data.get("count"), data.get("prefix", "+1646")
        if not isinstance(count, int) or not 0 < count <= 1_000_000 or not isinstance(prefix, str):
            return answer({"error": 'send {"count": 1..1000000, "prefix"?: "+1646"}'}, 400)
        made = fake.sandbox.seed_owned(count, prefix=prefix)
        return answer({"count": len(made), "first": made[0], "last": made[-1]})

    async def variants(request: Request) -> Response:
        if request.method == "POST":
            data = await body_of(request)
            if not isinstance(data, Mapping):
                return answer({"error": "send a JSON object of variants"}, 400)
            try:
                fake.configure(**data)
            except (TypeError, ValueError) as exc:
                return answer({"error": str(exc)}, 400)
        return answer(fake.sandbox.variants.to_json())

    async def scopes(request: Request) -> Response:
        data = await body_of(request)
        key, granted = data.get("key"), data.get("scopes")
        if not isinstance(key, str) or not (granted is None or isinstance(granted, list)):
            return answer({"error": 'send {"key": str, "scopes": [str] | null}'}, 400)
        try:
            fake.set_key_scopes(key, granted)
        except ValueError as exc:
            return answer({"error": str(exc)}, 400)
        return answer({"key": key, "scopes": sorted(fake.sandbox.scopes_for(key))})

    return Starlette(
        routes=[
            Route("/_control/calls", calls, methods=["GET"]),
            Route("/_control/reset", reset, methods=["POST"]),
            Route("/_control/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/_control/latency", latency, methods=["POST"]),
            Route("/_control/clock", clock, methods=["POST"]),
            Route("/_control/wallet", wallet, methods=["POST"]),
            Route("/_control/state", state, methods=["GET"]),
            Route("/_control/owned", owned, methods=["POST"]),
            Route("/_control/variants", variants, methods=["GET", "POST"]),
            Route("/_control/scopes", scopes, methods=["POST"]),
        ]
    )


class FakeFlowyte:
    """A SandboxFlowyte with a call log, fault rules, global latency and a movable clock.

    `variants` and `key_scopes` go to the sandbox (bot/sandbox.py: Variants, set_key_scopes);
    `configure()`, `set_key_scopes()` and the control endpoints change them while it runs.
    """

    def __init__(
        self,
        *,
        balance: Decimal = Decimal("25.00"),
        seed: int = 7,
        start: datetime | None = None,
        require_published_agent: bool = False,
        variants: Variants | None = None,
        key_scopes: Mapping[str, list[str] | tuple[str, ...] | frozenset[str]] | None = None,
    ) -> None:
        self.clock = ManualClock(start)
        self._initial_variants = variants or Variants()
        self._initial_scopes = {k: frozenset(v) for k, v in (key_scopes or {}).items()}
        self.sandbox = SandboxFlowyte(
            clock=self.clock,
            balance=balance,
            seed=seed,
            require_published_agent=require_published_agent,
            variants=self._initial_variants,
            key_scopes=self._initial_scopes,
        )
        self.latency = 0.0
        self._calls: list[RecordedCall] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.app = _FakeApp(self)

    @contextlib.contextmanager
    def serve(self, **config: Any) -> Iterator[str]:
        """Serve on loopback in a thread; yields the root URL (the API is under /api/v1)."""
        with serve_in_thread(self.app, **config) as url:
            yield url

    def _admit(self, call: RecordedCall) -> tuple[Fault | None, float]:
        """Record `call` and pick the fault rule it meets, spending one of its times."""
        with self._lock:
            self._calls.append(call)
            for index, fault in enumerate(self._faults):
                if fault.matches(call.method, call.path):
                    fault.hits += 1
                    call.fault = index
                    return fault, self.latency
            return None, self.latency

    def calls(
        self, method: str | None = None, path: str | None = None, *, path_regex: str | None = None
    ) -> list[RecordedCall]:
        """Recorded API calls, oldest first; `path` is the full path or the part after /api/v1."""
        with self._lock:
            found = list(self._calls)
        if method is not None:
            found = [c for c in found if c.method == method.upper()]
        if path is not None:
            found = [c for c in found if path in (c.path, c.api_path)]
        if path_regex is not None:
            found = [c for c in found if re.search(path_regex, c.path)]
        return found

    def forget_calls(self) -> None:
        """Forget the calls recorded so far (faults, latency and variants stay)."""
        with self._lock:
            self._calls.clear()

    def add_fault(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        *,
        times: int | None = None,
        delay_s: float = 0.0,
        status: int | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        drop: bool = False,
        after_delay_apply: bool = False,
    ) -> Fault:
        rule = Fault(
            method=method,
            path_regex=path_regex,
            times=times,
            delay_s=delay_s,
            status=status,
            body=body,
            headers=dict(headers or {}),
            drop=drop,
            after_delay_apply=after_delay_apply,
        )
        return self.add_rule(rule)

    def add_rule(self, rule: Fault) -> Fault:
        with self._lock:
            self._faults.append(rule)
        return rule

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget calls, faults and latency, and restore the constructor's variants and key
        scopes; the sandbox's state (wallet, numbers, holds, clock) is kept."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            self.latency = 0.0
        self.sandbox.use_variants(self._initial_variants)
        for key in list(self.sandbox.key_scopes):
            self.sandbox.set_key_scopes(key, None)
        for key, granted in self._initial_scopes.items():
            self.sandbox.set_key_scopes(key, granted)

    def configure(self, **changes: Any) -> Variants:
        """Switch the sandbox's answer variants, e.g. `configure(pagination="meta", page_size=2)`."""
        return self.sandbox.configure(**changes)

    def set_key_scopes(self, key: str, scopes: list[str] | tuple[str, ...] | None) -> None:
        """Give the exact API `key` these scopes; None forgets them (the key's default again)."""
        self.sandbox.set_key_scopes(key, scopes)

    def set_latency(self, seconds: float) -> None:
        with self._lock:
            self.latency = max(0.0, seconds)

    def advance(self, seconds: float) -> datetime:
        """Move the sandbox clock forward (e.g. 1900 s expires a 30-minute hold)."""
        return self.clock.advance(seconds)

    def set_balance(self, amount: Decimal | str) -> None:
        self.sandbox.balance = Decimal(str(amount))

    def state(self) -> dict[str, object]:
        sb = self.sandbox
        now = sb.now()
        return {
            "now": now.isoformat().replace("+00:00", "Z"),
            "wallet": sb.wallet.to_json(),
            "numbers": [n.to_json() for n in sb.numbers.values()],
            "reservations": [r.to_json(now) for r in sb.reservations.values()],
            "agents": [a.to_json() for a in sb.agents.values()],
        }

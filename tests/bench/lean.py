"""Lean fakes of Slack and Flowyte for the sustained-load benchmark (tests/bench/sustained.py).

The test fakes (tests/fakes/, uvicorn + Starlette, every call recorded with its headers and
parsed body) cost about 1.2 ms of CPU per search on their side, more than the bot: on a
2-core machine they cannot drive 1,000 searches a second. These answer only what numbot
calls, with canned bytes, on raw `asyncio.Protocol` connections (HTTP/1.1, keep-alive):

- `LeanFlowyte`: `GET /api/v1/numbers/search` after `latency` seconds (`loop.call_later`,
  never blocking), with a search answer the real fake Flowyte produced at start (so the
  wire format cannot drift from what numbot parses); the scope probes numbot sends at start
  (bot/flowyte/scopes.py) answered as the fake Flowyte answers them; anything else a 404
  problem, counted in `unexpected`.
- `LeanSlack`: the Web API (`auth.test` answered, any other method `{"ok": true}`) and
  `POST /response/{id}`, recorded as (monotonic time, the body holds numbers) by id in a
  dict, read in-process by the load generator (tests/bench/openloop.py) on the same loop.

`HttpServer` is the shared server: it reads a request line, headers and a Content-Length
(or chunked) body, hands (method, target, body) to a handler and writes whatever raw
response the handler gives back, now or later. It serves one request at a time per
connection (clients that pipeline wait their turn), and TLS when given an `ssl` context.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Reply = Callable[[bytes], None]
Handler = Callable[[bytes, bytes, bytes, Reply], None]

_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}
_JSON = b"application/json"
_PROBLEM = b"application/problem+json"


def response(status: int, body: bytes, content_type: bytes = _JSON) -> bytes:
    """The raw bytes of an HTTP/1.1 keep-alive response."""
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n"
        % (status, _REASONS.get(status, b"Other"), content_type, len(body))
        + body
    )


class _Connection(asyncio.Protocol):
    __slots__ = ("buf", "busy", "closed", "handler", "server", "transport")

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.handler = server.handler
        self.buf = b""
        self.busy = False
        self.closed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self.server.accepted += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buf = self.buf + data if self.buf else data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = buf[:end].lower()
        line_end = head.find(b"\r\n")
        method, target, _ = buf[: line_end if line_end >= 0 else end].split(b" ", 2)
        start = end + 4
        if b"\r\ntransfer-encoding: chunked" in head:
            decoded = _dechunk(buf, start)
            if decoded is None:
                return
            body, start = decoded
            self.buf = buf[start:]
        else:
            length = 0
            i = head.find(b"\r\ncontent-length:")
            if i >= 0:
                j = head.find(b"\r\n", i + 2)
                length = int(head[i + 17 : j if j >= 0 else None])
            if len(buf) < start + length:
                return
            body = buf[start : start + length]
            self.buf = buf[start + length :]
        self.busy = True
        self.server.requests += 1
        self.handler(method, target, body, self._reply)

    def _reply(self, raw: bytes) -> None:
        if self.closed or self.transport is None:
            return
        self.transport.write(raw)
        self.busy = False
        if self.buf:
            self._next()


def _dechunk(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    """A chunked body from `pos`: (body, where the next request starts), None if incomplete."""
    parts = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buf[pos:eol].split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n", pos)  # no trailers from the clients we serve
            return (b"".join(parts), end + 2) if end >= 0 else None
        if len(buf) < pos + size + 2:
            return None
        parts.append(buf[pos : pos + size])
        pos += size + 2


class HttpServer:
    """A minimal HTTP/1.1 keep-alive server on 127.0.0.1 (TLS with `ssl`)."""

    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.connections: set[_Connection] = set()
        self.accepted = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def start(self) -> HttpServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), "127.0.0.1", 0, backlog=2048, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                if conn.transport is not None:
                    conn.transport.abort()
            await self._server.wait_closed()


# --------------------------------------------------------------------------- Flowyte


_PROBES = {
    # What the fake Flowyte (tests/fakes/flowyte_server.py) answers numbot's scope probes.
    (b"GET", b"/api/v1/numbers"): (200, b'{"success":true,"data":[],"nextCursor":null}'),
    (b"GET", b"/api/v1/billing/wallet"): (
        200,
        b'{"success":true,"data":{"balanceUsd":25.00,"autoReloadEnabled":false,'
        b'"autoReloadThresholdUsd":5.00,"autoReloadAmountUsd":25.00}}',
    ),
    (b"GET", b"/api/v1/agents"): (
        200,
        b'{"success":true,"data":[{"id":"agt_support","name":"Support line","version":3,'
        b'"publishedVersionId":"ver_f2a74de452e6b438","isActive":true,'
        b'"createdAt":"2026-10-31T03:18:10.369Z","updatedAt":"2026-10-31T03:18:10.369Z"}],'
        b'"nextCursor":null}',
    ),
    (b"POST", b"/api/v1/numbers/reserve"): (
        400,
        b'{"type":"https://docs.flowyte.com/errors/validation_error","title":"Bad Request",'
        b'"status":400,"detail":"e164: must be an E.164 number","code":"validation_error",'
        b'"errors":[{"field":"e164","message":"must be an E.164 number"}]}',
    ),
}
_PUBLISH_PROBE = (
    404,
    b'{"type":"https://docs.flowyte.com/errors/agent_not_found","title":"Not Found",'
    b'"status":404,"detail":"No such agent.","code":"agent_not_found"}',
)
_NOT_FOUND = (404, b'{"title":"Not Found","status":404,"code":"not_found"}')


async def canned_search(area_code: str = "415") -> bytes:
    """A search answer as the real fake Flowyte gives it (in-process, no socket)."""
    import httpx

    from tests.e2e.harness import FLOWYTE_KEY
    from tests.fakes.flowyte_server import FakeFlowyte

    transport = httpx.ASGITransport(app=FakeFlowyte().app)
    async with httpx.AsyncClient(transport=transport, base_url="http://flowyte") as client:
        r = await client.get(
            "/api/v1/numbers/search",
            params={"areaCode": area_code, "limit": "10"},
            headers={"Authorization": f"Bearer {FLOWYTE_KEY}"},
        )
    r.raise_for_status()
    body = r.content
    assert json.loads(body)["data"], "the fake Flowyte found no numbers"
    return body


class LeanFlowyte:
    """Flowyte's search after `latency` seconds; the start-up probes at once."""

    def __init__(self, search_body: bytes, latency: float = 0.0) -> None:
        self.latency = latency
        self.search_response = response(200, search_body)
        self.searches = 0
        self.unexpected: list[bytes] = []
        self._canned = {
            key: response(status, body, _PROBLEM if status >= 400 else _JSON)
            for key, (status, body) in _PROBES.items()
        }
        self._publish = response(*_PUBLISH_PROBE, _PROBLEM)
        self._not_found = response(*_NOT_FOUND, _PROBLEM)
        self.server = HttpServer(self.handle)
        self._loop: asyncio.AbstractEventLoop | None = None

    def handle(self, method: bytes, target: bytes, body: bytes, reply: Reply) -> None:
        path = target.split(b"?", 1)[0]
        if path == b"/api/v1/numbers/search":
            self.searches += 1
            if self.latency > 0:
                assert self._loop is not None
                self._loop.call_later(self.latency, reply, self.search_response)
            else:
                reply(self.search_response)
            return
        canned = self._canned.get((method, path))
        if canned is not None:
            reply(canned)
        elif (
            method == b"POST" and path.startswith(b"/api/v1/agents/") and path.endswith(b"/publish")
        ):
            reply(self._publish)
        else:
            self.unexpected.append(method + b" " + target)
            reply(self._not_found)

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> LeanFlowyte:
        self._loop = asyncio.get_running_loop()
        await self.server.start()
        return self


# --------------------------------------------------------------------------- Slack

_AUTH_TEST = response(
    200,
    b'{"ok":true,"url":"https://numbot-test.slack.com/","team":"numbot-test","user":"numbot",'
    b'"team_id":"T0001","user_id":"U0BOT","bot_id":"B0BOT","is_enterprise_install":false}',
)
_OK_JSON = response(200, b'{"ok":true}')
_OK_TEXT = response(200, b"ok", b"text/plain")


@dataclass
class Arrivals:
    """What reached /response/{id}: first arrival per id, and the duplicates."""

    first: dict[str, tuple[float, bool]] = field(default_factory=dict)  # id -> (t, numbers)
    duplicates: int = 0
    count: int = 0


class LeanSlack:
    """Slack's Web API (canned) and response_urls (recorded in memory)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.arrivals = Arrivals()
        self.api_calls: dict[str, int] = {}
        self.server = HttpServer(self.handle, ssl_context=ssl_context)
        self.socket_connected = None  # BotProcess reads it only for Socket Mode

    def handle(self, method: bytes, target: bytes, body: bytes, reply: Reply) -> None:
        if target.startswith(b"/response/"):
            now = time.monotonic()
            rid = target[10:].decode()
            a = self.arrivals
            a.count += 1
            if rid in a.first:
                a.duplicates += 1
            else:
                a.first[rid] = (now, b"available" in body)
            reply(_OK_TEXT)
            return
        if target.startswith(b"/api/"):
            name = target[5:].split(b"?", 1)[0].decode()
            self.api_calls[name] = self.api_calls.get(name, 0) + 1
            reply(_AUTH_TEST if name == "auth.test" else _OK_JSON)
            return
        reply(response(404, b"not found", b"text/plain"))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_url(self) -> str:
        return self.server.url + "/api/"

    def response_url(self, response_id: str) -> str:
        return f"{self.server.url}/response/{response_id}"

    async def start(self) -> LeanSlack:
        await self.server.start()
        return self

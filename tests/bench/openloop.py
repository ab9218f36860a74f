"""An open-loop load generator: pre-signed Slack requests written at a fixed rate.

    gen = OpenLoop("127.0.0.1", bot_port)
    run = await gen.run(raw_requests, rate=1000)      # request i goes at t0 + i / rate

Open loop: request i is due at t0 + i/rate whether or not earlier ones were answered, as
Slack sends what people type. Each request is written on a free keep-alive connection; when
none is free the generator opens another (up to `max_connections`, below uvicorn's
`limit_concurrency` of 500 in bot/process/serve.py) and the request waits for the first connection
to free up or open: it is then "late", and counted (`late`, `late_max`). Every time is
measured from when the request was due, not from when it went out, so time spent waiting
for a connection the bot has not freed is the bot's (no coordinated omission).

Bodies are signed and framed before the clock starts (`slash_commands`); a response is read
as its status line, headers and Content-Length body. Connections idle for `idle_close`
seconds are closed by the generator before uvicorn's 5 s keep-alive timeout can close one
under a request being written.

Raw `asyncio.Protocol`, no HTTP library: with the lean fakes (tests/bench/lean.py) on the same
loop, the harness spends well under 0.3 ms of CPU per search (the sustained benchmark prints
its own figure).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.slack_requests import slash_command_body

PENDING, ACCEPTED, BUSY, OTHER, ERROR = range(5)
KINDS = ("pending", "accepted", "busy", "other", "error")
LATE = 0.010  # a send this long after it was due is late


def classify_search_ack(status: int, body: bytes) -> int:
    """numbot's answer to `/numbers search`: "Searching…" (accepted) or "busy"."""
    if status != 200:
        return OTHER
    if b"Searching" in body:
        return ACCEPTED
    if b"busy" in body:
        return BUSY
    return OTHER


def frame(host: str, port: int, body: bytes, timestamp: int, secret: bytes) -> bytes:
    """A whole signed POST /slack/events, as Slack would write it."""
    sig = hmac.new(secret, b"v0:%d:" % timestamp + body, hashlib.sha256).hexdigest()
    return (
        b"POST /slack/events HTTP/1.1\r\nhost: %s:%d\r\n"
        b"content-type: application/x-www-form-urlencoded\r\n"
        b"user-agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\n"
        b"x-slack-request-timestamp: %d\r\nx-slack-signature: v0=%s\r\n"
        b"content-length: %d\r\n\r\n"
        % (host.encode(), port, timestamp, sig.encode(), len(body))
        + body
    )


def slash_commands(
    host: str,
    port: int,
    secret: str,
    text: str,
    response_base: str,
    ids: list[str],
    *,
    users: int = 1000,
) -> list[bytes]:
    """One signed `/numbers <text>` per id, replying to `<response_base>/response/<id>`,
    from `users` different people in turn."""
    marker_id, marker_user, marker_trigger = "RIDMARK0", "U0USERMARK0", "TRIGGERMARK0"
    template = slash_command_body(
        text,
        marker_user,
        response_url=f"{response_base}/response/{marker_id}",
        trigger_id=marker_trigger,
    )
    assert template.count(marker_id) == 1 and template.count(marker_trigger) == 1
    now = int(time.time())
    key = secret.encode()
    out = []
    for i, rid in enumerate(ids):
        body = (
            template.replace(marker_id, rid)
            .replace(marker_user, f"U0L{i % users:08d}")
            .replace(marker_user.lower(), f"u0l{i % users:08d}")
            .replace(marker_trigger, f"{now}.{i}.bench")
            .encode()
        )
        out.append(frame(host, port, body, now, key))
    return out


@dataclass
class Run:
    """Per request (by index): when it was due, written and answered (monotonic), and how."""

    n: int
    scheduled: list[float]
    written: list[float]
    done: list[float]
    kind: bytearray
    status: list[int]
    errors: list[str] = field(default_factory=list)
    connections_opened: int = 0
    connect_errors: int = 0
    max_connections_used: int = 0

    def late(self) -> tuple[int, float]:
        lags = [w - s for w, s in zip(self.written, self.scheduled, strict=True) if w > 0]
        return sum(lag > LATE for lag in lags), max(lags, default=0.0)


class _Client(asyncio.Protocol):
    __slots__ = ("alive", "buf", "current", "gen", "last", "transport")

    def __init__(self, gen: OpenLoop) -> None:
        self.gen = gen
        self.buf = b""
        self.current = -1
        self.alive = True
        self.last = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, i: int, raw: bytes) -> None:
        self.current = i
        assert self.transport is not None
        self.transport.write(raw)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self.buf = buf
            return
        head = buf[:end].lower()
        i = head.find(b"\r\ncontent-length:")
        length = 0
        if i >= 0:
            j = head.find(b"\r\n", i + 2)
            length = int(head[i + 17 : j if j >= 0 else None])
        if len(buf) < end + 4 + length:
            self.buf = buf
            return
        body = buf[end + 4 : end + 4 + length]
        self.buf = buf[end + 4 + length :]
        status = int(buf[9:12])
        current, self.current = self.current, -1
        if b"\r\nconnection: close" in head:
            self.alive = False
        self.gen._answered(self, current, status, body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self.gen._lost(self, exc)


class OpenLoop:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int = 450,
        idle_close: float = 4.0,
        classify: Callable[[int, bytes], int] = classify_search_ack,
    ) -> None:
        self.host, self.port = host, port
        self.max_connections = max_connections
        self.idle_close = idle_close
        self.classify = classify
        self.free: deque[_Client] = deque()  # idle, most recently used on the right
        self.clients: set[_Client] = set()
        self.opening = 0
        self.backlog: deque[int] = deque()
        self._run: Run | None = None
        self._raw: list[bytes] = []
        self._outstanding = 0
        self._finished: asyncio.Event | None = None

    # -- connections ------------------------------------------------------------------

    async def _connect(self, *, counted: bool = False) -> _Client | None:
        """A new connection; `counted`: the caller already counted it in `opening` (when it
        scheduled this, so that two schedulings in one tick cannot both see room for one)."""
        loop = asyncio.get_running_loop()
        if not counted:
            self.opening += 1
        try:
            _, client = await loop.create_connection(lambda: _Client(self), self.host, self.port)
        except OSError as exc:
            if self._run is not None:
                self._run.connect_errors += 1
                self._run.errors.append(f"connect: {exc}")
            return None
        finally:
            self.opening -= 1
        self.clients.add(client)
        if self._run is not None:
            self._run.connections_opened += 1
            self._run.max_connections_used = max(self._run.max_connections_used, len(self.clients))
        return client

    def _schedule_open(self) -> None:
        self.opening += 1
        asyncio.get_running_loop().create_task(self._open_one())

    async def _open_one(self) -> None:
        client = await self._connect(counted=True)
        if client is not None:
            self._release(client)
        elif self.backlog and not self.clients and not self.opening:
            # nothing can take the waiting requests: fail them rather than wait forever
            while self.backlog:
                self._fail(self.backlog.popleft(), "no connection")

    async def warm(self, connections: int) -> None:
        """Open up to `connections` keep-alive connections before the clock starts."""
        want = min(connections, self.max_connections) - len(self.clients)
        made = await asyncio.gather(*(self._connect() for _ in range(max(0, want))))
        now = time.monotonic()
        for client in made:
            if client is not None:
                client.last = now
                self.free.append(client)

    def _retire_idle(self, now: float) -> None:
        free = self.free
        while free and now - free[0].last > self.idle_close:
            client = free.popleft()
            self.clients.discard(client)
            if client.transport is not None:
                client.transport.close()

    async def close(self) -> None:
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.close()
        self.clients.clear()
        self.free.clear()
        await asyncio.sleep(0)

    # -- requests ---------------------------------------------------------------------

    def _submit(self, i: int) -> None:
        free = self.free
        while free:
            client = free.pop()
            if client.alive:
                self._write(client, i)
                return
        self.backlog.append(i)
        if len(self.clients) + self.opening < self.max_connections:
            self._schedule_open()

    def _write(self, client: _Client, i: int) -> None:
        run = self._run
        assert run is not None
        run.written[i] = time.monotonic()
        client.send(i, self._raw[i])

    def _release(self, client: _Client) -> None:
        if not client.alive:
            self.clients.discard(client)
            if client.transport is not None:
                client.transport.close()
            return
        if self.backlog:
            self._write(client, self.backlog.popleft())
        else:
            client.last = time.monotonic()
            self.free.append(client)

    def _answered(self, client: _Client, i: int, status: int, body: bytes) -> None:
        run = self._run
        if run is not None and i >= 0:
            run.done[i] = time.monotonic()
            run.status[i] = status
            run.kind[i] = self.classify(status, body)
            self._one_done()
        self._release(client)

    def _fail(self, i: int, why: str) -> None:
        run = self._run
        if run is None or run.kind[i] != PENDING:
            return
        run.done[i] = time.monotonic()
        run.kind[i] = ERROR
        if len(run.errors) < 20:
            run.errors.append(why)
        self._one_done()

    def _one_done(self) -> None:
        self._outstanding -= 1
        if self._outstanding == 0 and self._finished is not None:
            self._finished.set()

    def _lost(self, client: _Client, exc: Exception | None) -> None:
        self.clients.discard(client)
        if client.current >= 0:
            i, client.current = client.current, -1
            self._fail(i, f"connection lost: {exc!r}")
        if self.backlog and len(self.clients) + self.opening < self.max_connections:
            self._schedule_open()

    async def run(self, raw: list[bytes], rate: float, *, answer_timeout: float = 30.0) -> Run:
        """Write `raw[i]` at t0 + i/rate; return once every request is answered (or failed,
        or `answer_timeout` after the last was due)."""
        n = len(raw)
        run = Run(n, [0.0] * n, [0.0] * n, [0.0] * n, bytearray(n), [0] * n)
        self._run, self._raw = run, raw
        run.max_connections_used = len(self.clients)
        self._outstanding = n
        self._finished = asyncio.Event()
        if n == 0:
            return run
        loop = asyncio.get_running_loop()
        interval = 1.0 / rate
        t0 = time.monotonic() + 0.01
        scheduled = run.scheduled
        all_sent = loop.create_future()
        i = 0

        def tick() -> None:
            # A plain timer callback, not a task: the cheapest wake-up asyncio has.
            nonlocal i
            now = time.monotonic()
            while i < n and t0 + i * interval <= now:
                scheduled[i] = t0 + i * interval
                self._submit(i)
                i += 1
            self._retire_idle(now)
            if i < n:
                loop.call_at(t0 + i * interval, tick)
            elif not all_sent.done():
                all_sent.set_result(None)

        loop.call_at(t0, tick)
        await all_sent
        try:
            await asyncio.wait_for(self._finished.wait(), answer_timeout)
        except TimeoutError:
            for j in range(n):
                if run.kind[j] == PENDING:
                    self._fail(j, "no answer in time")
        self.backlog.clear()
        self._run = None
        return run

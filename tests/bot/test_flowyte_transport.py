"""The aiohttp transport and the client's per-exchange deadline, against real loopback servers.

Each server misbehaves one way at the TCP level (drips, stalls, resets, refuses). What numbot
decides rests on the error class: "nothing was sent" (FlowyteUnavailable) lets a purchase go
back to pending and be bought again, so a failure after sending must never look like one.
Timing assertions are loose (seconds) on purpose: they only prove a call did not run for as
long as the misbehaving server would have kept it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from bot.flowyte import errors as fe
from bot.flowyte.client import FlowyteClient
from bot.flowyte.retry import NO_RETRY, RetryPolicy
from bot.flowyte.transport import AiohttpTransport

KEY = "flowyte_sk_test_transport"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


@dataclass
class Server:
    url: str
    requests: list[bytes] = field(default_factory=list)
    accepted: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + (await reader.readexactly(length) if length else b"")


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    """A TCP server on 127.0.0.1 running `handler` per connection, in this event loop."""
    tasks: set[asyncio.Task[None]] = set()
    server_ref: list[Server] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_ref[0].accepted.set()
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer, server_ref[0])
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    tcp = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    server = Server(url=f"http://127.0.0.1:{port}/api/v1")
    server_ref.append(server)
    try:
        yield server
    finally:
        server.stop.set()
        tcp.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await tcp.wait_closed()


# --- misbehaving servers ------------------------------------------------------------------------


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
    """Answer 200 at once, then one byte of a 100-byte body every 0.2 s (20 s in all)."""
    s.requests.append(await read_request(reader))
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    await writer.drain()
    for _ in range(100):
        await asyncio.sleep(0.2)
        writer.write(b" ")
        await writer.drain()


async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
    """Accept, read nothing, answer nothing."""
    await s.stop.wait()


async def stall_after_headers(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server
) -> None:
    s.requests.append(await read_request(reader))
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    await writer.drain()
    await s.stop.wait()


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
    """Read the whole request, then reset the connection (RST, not FIN)."""
    s.requests.append(await read_request(reader))
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
    """Read the whole request, then close without a word."""
    s.requests.append(await read_request(reader))
    writer.close()


async def truncate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
    """Promise 100 bytes of body, send 10, close."""
    s.requests.append(await read_request(reader))
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"success"')
    await writer.drain()
    writer.close()


def refused_url() -> str:
    """A loopback port nothing listens on: the connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1"


# --- helpers --------------------------------------------------------------------------------------


def raw_http(timeout: httpx.Timeout, *, connections: int = 8) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, keepalive_expiry=5)
    return httpx.AsyncClient(transport=AiohttpTransport(limits), timeout=timeout)


def flowyte(
    url: str,
    *,
    read: float = 5.0,
    deadline: float = 5.0,
    retry: RetryPolicy = NO_RETRY,
    connections: int = 8,
    pool: float | None = None,
) -> FlowyteClient:
    """A client over the aiohttp transport: `read` is aiohttp's per-read timeout, `pool` its
    wait for a free connection, `deadline` the client's bound on one whole exchange."""
    limits = httpx.Limits(max_connections=connections, keepalive_expiry=5)
    http = httpx.AsyncClient(
        base_url=url + "/",
        headers={"Authorization": f"Bearer {KEY}"},
        transport=AiohttpTransport(limits),
        timeout=httpx.Timeout(read, connect=min(read, 3.0), pool=pool or read),
    )
    return FlowyteClient(http, retry=retry, attempt_timeout=deadline, sleep=asyncio.sleep)


async def purchase(client: FlowyteClient) -> object:
    return await client.purchase("+14155550100", "rsv_1", idempotency_key="k-1")


async def wallet(client: FlowyteClient) -> object:
    return await client.wallet()


async def release(client: FlowyteClient) -> object:
    return await client.release_number("num_1")


# --- the transport alone: which httpx error for which failure ---------------------------------


async def test_no_answer_within_the_read_timeout_is_a_read_timeout_not_a_connect_timeout():
    """Mutation finding: raising this as ConnectTimeout ("nothing happened") survived."""
    async with serving(stall) as server, raw_http(httpx.Timeout(0.5)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(server.url + "/numbers/purchase", json={"e164": "+1"})


async def test_a_body_that_stops_arriving_is_a_read_timeout():
    async with serving(stall_after_headers) as server, raw_http(httpx.Timeout(0.5)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(server.url + "/billing/wallet")
        assert len(server.requests) == 1


async def test_a_reset_after_the_request_is_a_read_error():
    async with serving(reset) as server, raw_http(httpx.Timeout(5)) as http:
        with pytest.raises(httpx.ReadError):
            await http.post(server.url + "/numbers/purchase", json={"e164": "+1"})
        assert len(server.requests) == 1  # it was sent, whole


async def test_a_hang_up_after_the_request_is_a_read_error():
    async with serving(hang_up) as server, raw_http(httpx.Timeout(5)) as http:
        with pytest.raises(httpx.ReadError):
            await http.post(server.url + "/numbers/purchase", json={"e164": "+1"})


async def test_a_truncated_body_is_a_read_error():
    async with serving(truncate) as server, raw_http(httpx.Timeout(5)) as http:
        with pytest.raises(httpx.ReadError):
            await http.get(server.url + "/billing/wallet")


async def test_a_refused_connection_is_a_connect_error():
    async with raw_http(httpx.Timeout(5)) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(refused_url() + "/numbers/purchase", json={"e164": "+1"})


async def test_waiting_for_a_pooled_connection_is_a_connect_timeout_and_sends_nothing():
    async with (
        serving(stall) as server,
        raw_http(httpx.Timeout(5, pool=0.5), connections=1) as http,
    ):
        first = asyncio.create_task(http.get(server.url + "/billing/wallet"))
        await asyncio.wait_for(server.accepted.wait(), 5)  # the only connection is taken
        with pytest.raises(httpx.ConnectTimeout):
            await http.post(server.url + "/numbers/purchase", json={"e164": "+1"})
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await first
    assert server.requests == []


# --- the client: each failure to the error numbot acts on ------------------------------------------


@pytest.mark.parametrize("call", [purchase, release], ids=["purchase", "release"])
async def test_a_change_that_got_no_answer_in_time_is_outcome_unknown(call):
    async with serving(stall) as server:
        client = flowyte(server.url, read=0.5, deadline=5.0)
        with pytest.raises(fe.OutcomeUnknown, match="ReadTimeout"):
            await call(client)
        await client.aclose()


async def test_a_read_that_got_no_answer_in_time_is_unavailable():
    async with serving(stall) as server:
        client = flowyte(server.url, read=0.5, deadline=5.0)
        with pytest.raises(fe.FlowyteUnavailable) as caught:
            await wallet(client)
        assert type(caught.value) is fe.FlowyteUnavailable
        await client.aclose()


async def test_a_dripping_answer_is_cut_off_by_the_deadline_not_kept_open():
    """One byte every 0.2 s never trips a per-read timeout; the whole-exchange deadline does."""
    async with serving(drip) as server:
        client = flowyte(server.url, read=1.0, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(fe.OutcomeUnknown, match="deadline"):
            await purchase(client)
        assert time.monotonic() - started < 10  # the drip would have taken 20 s
        assert len(server.requests) == 1
        await client.aclose()


async def test_a_dripping_read_is_unavailable_and_retries_stay_within_max_call_seconds():
    async with serving(drip) as server:
        retry = RetryPolicy(attempts=5, base_delay=0.0, budget=1.5)
        client = flowyte(server.url, read=1.0, deadline=1.0, retry=retry)
        assert client.max_call_seconds == 2.5
        started = time.monotonic()
        with pytest.raises(fe.FlowyteUnavailable) as caught:
            await wallet(client)
        elapsed = time.monotonic() - started
        assert type(caught.value) is fe.FlowyteUnavailable
        assert len(server.requests) == 2  # a third attempt would start past the budget
        assert elapsed < client.max_call_seconds + 3  # far below the drip's 20 s per attempt
        await client.aclose()


async def test_a_reset_after_sending_a_purchase_is_outcome_unknown():
    async with serving(reset) as server:
        client = flowyte(server.url)
        with pytest.raises(fe.OutcomeUnknown):
            await purchase(client)
        assert len(server.requests) == 1
        await client.aclose()


async def test_a_hang_up_after_sending_a_purchase_is_outcome_unknown():
    async with serving(hang_up) as server:
        client = flowyte(server.url)
        with pytest.raises(fe.OutcomeUnknown):
            await purchase(client)
        await client.aclose()


async def test_a_truncated_purchase_answer_is_outcome_unknown():
    async with serving(truncate) as server:
        client = flowyte(server.url)
        with pytest.raises(fe.OutcomeUnknown):
            await purchase(client)
        await client.aclose()


@pytest.mark.parametrize("call", [purchase, wallet], ids=["purchase", "wallet"])
async def test_a_refused_connection_is_unavailable_and_nothing_happened(call):
    client = flowyte(refused_url())
    with pytest.raises(fe.FlowyteUnavailable) as caught:
        await call(client)
    assert type(caught.value) is fe.FlowyteUnavailable
    assert "Nothing was changed" in caught.value.explain()
    await client.aclose()


async def test_a_purchase_that_cannot_get_a_connection_is_unavailable():
    async with serving(stall) as server:
        client = flowyte(server.url, read=5.0, deadline=5.0, connections=1, pool=0.5)
        first = asyncio.create_task(wallet(client))
        await asyncio.wait_for(server.accepted.wait(), 5)  # the only connection is taken
        with pytest.raises(fe.FlowyteUnavailable) as caught:
            await purchase(client)
        assert type(caught.value) is fe.FlowyteUnavailable
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError, fe.FlowyteError):
            await first
        await client.aclose()
    assert server.requests == []


async def test_a_connection_cut_off_by_the_deadline_is_not_reused():
    """The next call must not read the rest of an abandoned answer as its own."""
    connections: list[int] = []

    async def drip_on_the_first_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server
    ) -> None:
        connections.append(len(connections))
        if len(connections) == 1:
            await drip(reader, writer, s)
            return
        body = b'{"success": true, "data": {"balanceUsd": 3}}'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        while True:
            s.requests.append(await read_request(reader))
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()

    async with serving(drip_on_the_first_connection) as server:
        client = flowyte(server.url, read=1.0, deadline=1.0, connections=1)
        with pytest.raises(fe.FlowyteUnavailable, match="deadline"):
            await wallet(client)
        assert (await client.wallet()).balance_usd == 3
        assert len(connections) == 2 and len(server.requests) == 2
        await client.aclose()

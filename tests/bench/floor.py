"""The floor under one search: what the parts numbot stands on cost a core, before any of
numbot's own work.

    python -m tests.bench.floor              # about half a minute
    python -m tests.bench.floor --calls 2000 # shorter

A `/numbers search` in HTTP mode cannot cost less than the sum of what it must do through
its stack: uvicorn + Starlette take a signed POST (h11, one route), bolt parses the form and
dispatches it to a listener that acks, httpx (over numbot's aiohttp transport) makes one
Flowyte call and decodes its JSON, aiohttp POSTs the results to the response_url, and SQLite
commits one durable row (every action is audited). Each part here is that and nothing else:
no signature check, no validation, no Block Kit, no redaction, no hash chain. Each runs in a
child process pinned to CPU 0, 64 calls in flight, its peer (a client, or a canned server
from tests/bench/lean.py) in this process on CPU 1; what is printed is the child's CPU time
(user + system) per call after a warm-up. The sum is the least CPU one search can take on
this machine with this stack; 1 / sum is the most searches a second one core could serve,
with nothing left for numbot itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import psutil

from tests.bench.lean import HttpServer, canned_search, response

REPO = Path(__file__).resolve().parents[2]
IN_FLIGHT = 64
WARM_UP = 500
BOT_CPU, PEER_CPU = 0, 1

# What each part is, in the order a search needs them; "extra" parts are printed for
# comparison and not counted in the floor.
PARTS: dict[str, str] = {
    "http_in": "uvicorn (h11) + Starlette: one signed slash-command POST read and answered",
    "bolt": "bolt: the form parsed, dispatched to a listener that acks",
    "flowyte": "httpx over aiohttp: GET the search, its JSON decoded",
    "reply": "aiohttp: POST the results message (JSON) to the response_url",
    "audit": "SQLite: one durable row (WAL, synchronous=FULL, one transaction)",
}
EXTRA: dict[str, str] = {
    "flowyte_transport": "(the Flowyte call: httpx's Request to the transport, no AsyncClient)",
    "flowyte_aiohttp": "(the Flowyte call on aiohttp alone, without httpx's layer)",
}


# --------------------------------------------------------------------------- children


async def _in_flight(
    calls: int,
    one: Callable[[], Awaitable[object]],
    cpu: Callable[[], float] = time.process_time,
) -> float:
    """CPU seconds (`cpu`: this process's, by default) spent making `calls` calls,
    IN_FLIGHT at a time, after WARM_UP more."""
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    async def run(n: int) -> None:
        nonlocal left
        left = n
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))

    await run(WARM_UP)
    gc.collect()
    gc.freeze()  # as numbot does after its start (bot/process/runtime.py)
    start = cpu()
    await run(calls)
    return cpu() - start


async def _bolt(calls: int, _peer: str) -> float:
    from slack_bolt.app.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult
    from slack_bolt.request.async_request import AsyncBoltRequest

    from tests.fakes.slack_requests import slash_command_body

    async def authorize(**_: object) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id="T0FLOOR", bot_token="xoxb-floor")

    app = AsyncApp(signing_secret="floor", authorize=authorize, request_verification_enabled=False)

    @app.command("/numbers")
    async def numbers(ack: Callable[[], Awaitable[None]]) -> None:
        await ack()

    body = slash_command_body("search 415", "U0FLOOR", response_url="http://x/r/1")
    headers = {"content-type": "application/x-www-form-urlencoded"}

    async def one() -> None:
        response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        assert response.status == 200, response.body

    return await _in_flight(calls, one)


async def _flowyte(calls: int, peer: str) -> float:
    import httpx

    from bot.flowyte.transport import AiohttpTransport

    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=peer, transport=AiohttpTransport(limits)) as client:

        async def one() -> None:
            r = await client.get("/api/v1/numbers/search", params={"areaCode": "415"})
            assert json.loads(r.content, parse_float=Decimal)["data"]

        return await _in_flight(calls, one)


async def _flowyte_transport(calls: int, peer: str) -> float:
    import httpx

    from bot.flowyte.transport import AiohttpTransport

    transport = AiohttpTransport(httpx.Limits(max_connections=IN_FLIGHT))
    url = httpx.URL(peer + "/api/v1/numbers/search")
    timeout = httpx.Timeout(10.0).as_dict()
    try:

        async def one() -> None:
            request = httpx.Request(
                "GET", url, params={"areaCode": "415"}, extensions={"timeout": timeout}
            )
            r = await transport.handle_async_request(request)
            assert json.loads(await r.aread(), parse_float=Decimal)["data"]

        return await _in_flight(calls, one)
    finally:
        await transport.aclose()


async def _flowyte_aiohttp(calls: int, peer: str) -> float:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(peer, connector=connector) as session:

        async def one() -> None:
            async with session.get("/api/v1/numbers/search", params={"areaCode": "415"}) as r:
                assert json.loads(await r.read(), parse_float=Decimal)["data"]

        return await _in_flight(calls, one)


async def _reply(calls: int, peer: str) -> float:
    import aiohttp

    message = await _results_message()
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.post(peer + "/response/1", json=message) as r:
                assert r.status == 200
                await r.read()

        return await _in_flight(calls, one)


async def _results_message() -> dict[str, object]:
    """The message numbot answers a search with, built by numbot from a fake Flowyte answer."""
    from bot.flowyte.models import AvailableNumber, SearchQuery
    from handlers.blocks.search import build_search_results

    found = json.loads(await canned_search(), parse_float=Decimal)["data"]
    numbers = [AvailableNumber.model_validate(n) for n in found]
    return dict(build_search_results(SearchQuery(area_code="415"), numbers, sandbox=False))


async def _audit(calls: int, _peer: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT, detail TEXT)")
        detail = '{"query":{"areaCode":"415","limit":20},"results":20}'

        async def one() -> None:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO audit (at, detail) VALUES (?, ?)", (time.time(), detail))
            db.execute("COMMIT")

        try:
            return await _in_flight(calls, one)
        finally:
            db.close()


CHILDREN: dict[str, Callable[[int, str], Awaitable[float]]] = {
    "bolt": _bolt,
    "flowyte": _flowyte,
    "flowyte_transport": _flowyte_transport,
    "flowyte_aiohttp": _flowyte_aiohttp,
    "reply": _reply,
    "audit": _audit,
}


def _serve_http_in(port: int) -> None:
    """The child for `http_in`: uvicorn as numbot runs it (bot/process/serve.py), one bare route."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def events(request: Request) -> Response:
        await request.body()
        return Response(b"", 200)

    app = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    gc.freeze()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        backlog=2048,
        http="h11",
        h11_max_incomplete_event_size=16 * 1024,
        limit_concurrency=500,
        timeout_keep_alive=5,
    )


def _pin(cpu: int) -> None:
    """Run on `cpu` alone, when the machine has two or more (else share the one there is)."""
    if (os.cpu_count() or 1) >= 2:  # the machine's, not this process's (a child inherits)
        os.sched_setaffinity(0, {cpu})


def child_main(part: str, calls: int, peer: str) -> None:
    _pin(BOT_CPU)
    if part == "http_in":
        _serve_http_in(int(peer))
        return
    seconds = asyncio.run(CHILDREN[part](calls, peer))
    print(json.dumps({"cpu": seconds, "calls": calls}), flush=True)


# --------------------------------------------------------------------------- parent


def _child(part: str, calls: int, peer: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bench.floor", "--child", part, str(calls), peer],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


async def _measure_child(part: str, calls: int, peer: str) -> float:
    proc = await asyncio.to_thread(_child, part, calls, peer)
    out, _ = await asyncio.to_thread(proc.communicate)
    if proc.returncode != 0:
        raise SystemExit(f"{part}: the child failed (exit {proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    return float(result["cpu"]) / int(result["calls"])


async def _measure_http_in(calls: int) -> float:
    import aiohttp

    from tests.e2e.harness import SIGNING_SECRET
    from tests.fakes.slack_requests import signed_headers, slash_command_body

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.to_thread(_child, "http_in", 0, str(port))
    url = f"http://127.0.0.1:{port}/slack/events"
    body = slash_command_body("search 415", "U0FLOOR", response_url="http://x/r/1")
    try:
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(100):  # until uvicorn listens
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with session.post(url, data=b"") as r:
                        await r.read()
                        break
                await asyncio.sleep(0.1)

            async def one() -> None:
                headers = signed_headers(body, SIGNING_SECRET)
                async with session.post(url, data=body.encode(), headers=headers) as r:
                    assert r.status == 200
                    await r.read()

            child = psutil.Process(proc.pid)

            def cpu() -> float:  # the server's, not this process's
                times = child.cpu_times()
                return times.user + times.system

            return await _in_flight(calls, one, cpu) / calls
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait)


async def _peer() -> HttpServer:
    """A canned server for the children that call out: Flowyte's search, Slack's replies."""
    search = response(200, await canned_search())
    ok = response(200, b"ok", b"text/plain")

    def handle(method: bytes, target: bytes, _body: bytes, reply: Callable[[bytes], None]) -> None:
        reply(search if method == b"GET" else ok)

    return await HttpServer(handle).start()


async def parent_main(calls: int) -> int:
    if (os.cpu_count() or 1) < 2:
        print("one CPU only: parts and peers share it, so the figures are rough")
    _pin(PEER_CPU)
    server = await _peer()
    figures: dict[str, float] = {}
    try:
        figures["http_in"] = await _measure_http_in(calls)
        for part in [*PARTS, *EXTRA]:
            if part != "http_in":
                figures[part] = await _measure_child(part, calls, server.url)
    finally:
        await server.stop()
    width = max(len(t) for t in [*PARTS.values(), *EXTRA.values()])
    print(f"CPU per call, {calls:,} calls a part, {IN_FLIGHT} in flight, CPU {BOT_CPU}:")
    for part, what in PARTS.items():
        print(f"  {what:<{width}}  {figures[part] * 1000:6.3f} ms")
    floor = sum(figures[p] for p in PARTS)
    label = "floor: one search, none of numbot's own work"
    print(f"  {label:<{width}}  {floor * 1000:6.3f} ms")
    for part, what in EXTRA.items():
        print(f"  {what:<{width}}  {figures[part] * 1000:6.3f} ms")
    print(f"at most {1 / floor:,.0f} searches a second on one core, with nothing left for numbot")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=5000, help="calls measured a part")
    ap.add_argument("--child", nargs=3, metavar=("PART", "CALLS", "PEER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        part, calls, peer = args.child
        child_main(part, int(calls), peer)
        return 0
    return asyncio.run(parent_main(args.calls))


if __name__ == "__main__":
    sys.exit(main())

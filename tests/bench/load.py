"""The load generator: pre-signed Slack requests fired at the bot over aiohttp.

Bodies and signatures are built before the clock starts (`Prepared`); the client session's
connection pool is sized for the whole burst and, unless told otherwise, warmed with as
many keep-alive connections as the burst has requests, so each request's time is the
bot's: from just before the request is written to the full response read.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from tests.e2e.harness import SIGNING_SECRET
from tests.fakes.slack_requests import signed_headers


@dataclass(frozen=True)
class Prepared:
    body: bytes
    headers: dict[str, str]
    tag: str = ""  # e.g. the response_url id


@dataclass(frozen=True)
class Result:
    tag: str
    sent_wall: float  # time.time() just before the request went out
    seconds: float  # send to full response, perf_counter
    status: int
    text: str
    error: str = ""


def prepare(body: str, tag: str = "") -> Prepared:
    return Prepared(body.encode(), signed_headers(body, SIGNING_SECRET), tag)


def session(connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=connections, limit_per_host=connections, keepalive_timeout=30, use_dns_cache=True
    )
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30), auto_decompress=False
    )


async def warm(client: aiohttp.ClientSession, base_url: str, connections: int) -> None:
    """Open `connections` keep-alive connections to the bot (concurrent GET /healthz)."""

    async def one() -> None:
        async with client.get(base_url + "/healthz") as r:
            await r.read()

    await asyncio.gather(*(one() for _ in range(connections)))


async def send(client: aiohttp.ClientSession, url: str, req: Prepared) -> Result:
    wall = time.time()
    start = time.perf_counter()
    try:
        async with client.post(url, data=req.body, headers=req.headers) as r:
            raw = await r.read()
            elapsed = time.perf_counter() - start
            return Result(req.tag, wall, elapsed, r.status, raw.decode("utf-8", "replace"))
    except Exception as exc:  # a failed request is a result too, reported as an error
        return Result(
            req.tag, wall, time.perf_counter() - start, 0, "", f"{type(exc).__name__}: {exc}"
        )


async def burst(
    client: aiohttp.ClientSession, url: str, requests: Sequence[Prepared]
) -> list[Result]:
    """All at once: every request is in flight before the first answer is read."""
    return list(await asyncio.gather(*(send(client, url, r) for r in requests)))


async def stream(
    client: aiohttp.ClientSession,
    url: str,
    requests: Sequence[Prepared],
    concurrency: int,
    *,
    every: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> list[Result]:
    """`concurrency` workers through `requests`; `on_progress(done)` after each `every`."""
    results: list[Result] = []
    it = iter(requests)
    done = 0

    async def worker() -> None:
        nonlocal done
        for req in it:
            results.append(await send(client, url, req))
            done += 1
            if every and on_progress and done % every == 0:
                on_progress(done)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): p99 of 100 samples is the 99th smallest."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]

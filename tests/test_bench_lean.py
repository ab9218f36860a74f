"""The sustained benchmark's lean server and open-loop generator (tests/bench/lean.py,
tests/bench/openloop.py), on a few requests at a low rate, so they cannot rot unseen."""

import asyncio

from tests.bench import lean, openloop


async def test_open_loop_against_a_lean_server() -> None:
    seen: list[tuple[bytes, bytes, bytes]] = []

    def handler(method: bytes, target: bytes, body: bytes, reply: lean.Reply) -> None:
        seen.append((method, target, body))
        text = b"Searching..." if b"search" in body else b"numbot is busy"
        asyncio.get_running_loop().call_later(0.01, reply, lean.response(200, text, b"text/plain"))

    server = await lean.HttpServer(handler).start()
    try:
        ids = [f"t-{i}" for i in range(8)]
        raw = openloop.slash_commands(
            "127.0.0.1", server.port, "secret", "search 415", "http://127.0.0.1:9", ids
        )
        raw[-1] = raw[-1].replace(b"search", b"wallet")  # a different answer, same length
        gen = openloop.OpenLoop("127.0.0.1", server.port, max_connections=2)
        await gen.warm(1)
        run = await gen.run(raw, rate=200, answer_timeout=5)
        await gen.close()
    finally:
        await server.stop()
    assert len(seen) == 8 and all(m == b"POST" and t == b"/slack/events" for m, t, _ in seen)
    assert b"response%2Ft-3" in seen[3][2]
    assert list(run.kind) == [openloop.ACCEPTED] * 7 + [openloop.BUSY]
    assert all(d >= s for d, s in zip(run.done, run.scheduled, strict=True))
    assert run.max_connections_used <= 2


async def test_lean_slack_records_response_urls_and_chunked_bodies() -> None:
    slack = await lean.LeanSlack().start()
    flowyte = await lean.LeanFlowyte(b'{"success":true,"data":[]}', latency=0.01).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", slack.server.port)
        writer.write(
            b"POST /response/r1 HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\n10 av\r\n9\r\nailable!!\r\n0\r\n\r\n"
            b"POST /api/auth.test HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n"
        )
        await writer.drain()
        first = await reader.readuntil(b"ok")
        second = await reader.readuntil(b'"bot_id":"B0BOT"')
        writer.close()
        r2, w2 = await asyncio.open_connection("127.0.0.1", flowyte.server.port)
        w2.write(b"GET /api/v1/numbers/search?areaCode=415 HTTP/1.1\r\nhost: x\r\n\r\n")
        await w2.drain()
        found = await r2.readuntil(b'"data":[]}')
        w2.close()
    finally:
        await slack.server.stop()
        await flowyte.server.stop()
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")
    assert slack.arrivals.first["r1"][1] is True
    assert slack.api_calls == {"auth.test": 1}
    assert found.startswith(b"HTTP/1.1 200") and flowyte.searches == 1


def test_gc_watch_times_a_collection(tmp_path) -> None:
    """tests/bench/gcwatch/sitecustomize.py, as the bot would load it (first on PYTHONPATH)."""
    import os
    import subprocess
    import sys

    from tests.bench.sustained import GCWATCH

    log = tmp_path / "gc.jsonl"
    env = {**os.environ, "PYTHONPATH": str(GCWATCH), "NUMBOT_BENCH_GC_LOG": str(log)}
    subprocess.run([sys.executable, "-c", "import gc; gc.collect()"], env=env, check=True)
    entries = [line.split() for line in log.read_text().splitlines()]
    assert any(generation == "2" and float(pause) > 0 for _, generation, pause, _ in entries)

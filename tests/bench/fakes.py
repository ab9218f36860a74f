"""The fake Slack and fake Flowyte in a process of their own, for the benchmark.

    python -m tests.bench.fakes        # prints one JSON line {"slack": URL, "flowyte": URL}

Both fakes run on ONE event loop in the main thread (no GIL ping-pong between two server
threads), in a process apart from the load generator, so neither the load generator's GIL
nor its event loop delays what the bot sends to the fakes. The process exits when its
standard input closes (the benchmark died) or on SIGTERM/SIGINT.

Besides the fakes' own routes (and the fake Flowyte's /_control/*), the fake Slack gets:

    GET /_bench/calls?method=M&prefix=P&rid=R&since=N&full=1
        calls recorded by the fake Slack, oldest first: `method` (e.g. response_url,
        views.open, chat.postMessage), response_id `prefix` and exact response_id `rid`
        filter; `since` skips the
        first N of the filtered list; `full=1` adds bodies and responses.
    GET /_bench/wait?method=M&prefix=P&rid=R&count=N&timeout=S&full=1
        long poll: answers once N matching calls are recorded (or at the timeout), so the
        benchmark does not poll the fakes while it measures.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.e2e.harness import BOT_TOKEN
from tests.fakes.flowyte_server import FakeFlowyte
from tests.fakes.serve import free_port
from tests.fakes.slack_api import Call, FakeSlack


def _brief(call: Call, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "method": call.method,
        "response_id": call.response_id,
        "at": call.at,
        "status": call.status,
    }
    if full:
        out["body"] = call.body
        out["response"] = call.response
    return out


def _matching(
    slack: FakeSlack, method: str | None, prefix: str | None, rid: str | None = None
) -> list[Call]:
    return [
        c
        for c in slack.calls(method)
        if (prefix is None or (c.response_id or "").startswith(prefix))
        and (rid is None or c.response_id == rid)
    ]


def control_app(slack: FakeSlack) -> Starlette:
    def params(request: Request) -> tuple[str | None, str | None, str | None, bool]:
        q = request.query_params
        return q.get("method"), q.get("prefix"), q.get("rid"), q.get("full") == "1"

    async def calls(request: Request) -> JSONResponse:
        method, prefix, rid, full = params(request)
        since = int(request.query_params.get("since", "0"))
        found = _matching(slack, method, prefix, rid)[since:]
        return JSONResponse({"calls": [_brief(c, full) for c in found]})

    async def wait(request: Request) -> JSONResponse:
        method, prefix, rid, full = params(request)
        count = int(request.query_params.get("count", "1"))
        deadline = time.monotonic() + float(request.query_params.get("timeout", "10"))
        while True:
            found = _matching(slack, method, prefix, rid)
            if len(found) >= count or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.01)
        return JSONResponse(
            {"complete": len(found) >= count, "calls": [_brief(c, full) for c in found]}
        )

    return Starlette(
        routes=[
            Route("/_bench/calls", calls, methods=["GET"]),
            Route("/_bench/wait", wait, methods=["GET"]),
        ]
    )


class _WithControl:
    """The fake Slack's ASGI app, plus /_bench/* routes."""

    def __init__(self, slack: FakeSlack) -> None:
        self._slack = slack.app
        self._control = control_app(slack)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_bench/"):
            await self._control(scope, receive, send)
        else:
            await self._slack(scope, receive, send)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # older uvicorn
        return None

    def capture_signals(self) -> Any:  # newer uvicorn: we stop the servers ourselves
        import contextlib

        return contextlib.nullcontext()


def _server(app: Any, port: int) -> _Server:
    return _Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            backlog=2048,
        )
    )


async def main() -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN)
    flowyte = FakeFlowyte()
    slack_port, flowyte_port = free_port(), free_port()
    slack.bind(f"http://127.0.0.1:{slack_port}")
    servers = [_server(_WithControl(slack), slack_port), _server(flowyte.app, flowyte_port)]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)

    def watch_stdin() -> None:  # the parent died or closed our stdin: stop
        sys.stdin.read()
        loop.call_soon_threadsafe(stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    while not all(s.started for s in servers):
        if any(t.done() for t in tasks):
            for t in tasks:
                if t.done() and t.exception():
                    raise t.exception()  # type: ignore[misc]
            raise RuntimeError("a fake server stopped before it started")
        await asyncio.sleep(0.01)
    print(
        json.dumps(
            {
                "slack": f"http://127.0.0.1:{slack_port}",
                "flowyte": f"http://127.0.0.1:{flowyte_port}",
            }
        ),
        flush=True,
    )
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main())

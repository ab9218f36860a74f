"""`numbot run`: serve Slack over HTTP (uvicorn) or Socket Mode, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from bot.logs import uvicorn_log_config
from bot.runtime import Runtime, create_asgi
from bot.web import observe_routes

logger = logging.getLogger(__name__)

# Open connections (and requests in progress) beyond which uvicorn answers 503 at once.
# Slack's bursts are far below it (the benchmark's 100 concurrent commands included), and it
# caps what many idle or slow clients can hold: uvicorn has no timeout for a request's
# headers, so a client that sends them byte by byte keeps its connection until this limit
# or a reverse proxy's header timeout stops it.
MAX_CONNECTIONS = 500


def serve_http(runtime: Runtime) -> None:
    settings = runtime.settings
    logger.info(
        "numbot listening on http://%s:%d/slack/events (%s)",
        settings.NUMBOT_HOST,
        settings.PORT,
        "SANDBOX" if settings.sandbox else "Flowyte live",
    )
    uvicorn.run(
        create_asgi(runtime),
        host=settings.NUMBOT_HOST,
        port=settings.PORT,
        log_config=uvicorn_log_config(),
        access_log=False,
        timeout_graceful_shutdown=10,
        backlog=2048,
        # h11, named rather than left to whatever is installed: the limits below and the
        # tests hold for it (httptools, if present, ignores h11_max_incomplete_event_size).
        http="h11",
        # The most h11 buffers of a request line, headers or chunk header still incomplete:
        # beyond it, a 400 and the connection closed, so headers that never end cannot grow
        # a buffer. Slack's headers are well under 2 KiB; 16 KiB is h11's default, named
        # here on purpose.
        h11_max_incomplete_event_size=16 * 1024,
        limit_concurrency=MAX_CONNECTIONS,
        # An idle keep-alive connection is closed after 5 s: long enough for Slack to reuse
        # it within a burst, short enough that idle sockets do not pile up.
        timeout_keep_alive=5,
    )


async def serve_socket_mode(runtime: Runtime) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert runtime.settings.SLACK_APP_TOKEN is not None
    handler = AsyncSocketModeHandler(
        runtime.app, runtime.settings.SLACK_APP_TOKEN.get_secret_value()
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = runtime.settings
    listener = _QuietServer(
        uvicorn.Config(
            Starlette(routes=observe_routes(runtime.health, runtime.metrics)),
            host=settings.NUMBOT_HOST,
            port=settings.PORT,
            log_config=uvicorn_log_config(),
            access_log=False,
            lifespan="off",
            http="h11",
            limit_concurrency=MAX_CONNECTIONS,
            timeout_keep_alive=5,
        )
    )
    async with runtime.running():
        serving = asyncio.create_task(listener.serve(), name="numbot-observe-listener")
        await handler.connect_async()  # type: ignore[no-untyped-call]
        logger.info(
            "numbot connected over Socket Mode (%s); /healthz and /metrics on http://%s:%d",
            "SANDBOX" if settings.sandbox else "Flowyte live",
            settings.NUMBOT_HOST,
            settings.PORT,
        )
        await stop.wait()
        await handler.close_async()  # type: ignore[no-untyped-call]
        listener.should_exit = True
        await serving


class _QuietServer(uvicorn.Server):  # type: ignore[misc]
    """uvicorn for /healthz and /metrics beside Socket Mode: the signals stay with
    serve_socket_mode, which stops this server itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

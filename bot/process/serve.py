"""`numbot run`: serve Slack over HTTP (uvicorn) or Socket Mode, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from bot.ops.logs import uvicorn_log_config
from bot.ops.web import observe_routes
from bot.process.runtime import Runtime, create_asgi

logger = logging.getLogger(__name__)

# Open connections (and requests in progress) beyond which uvicorn answers 503 at once.
# Slack's bursts are far below it (the benchmark's 100 concurrent commands included), and it
# caps what many idle or slow clients can hold: uvicorn has no timeout for a request's
# headers, so a client that sends them byte by byte keeps its connection until this limit
# or a reverse proxy's header timeout stops it.
MAX_CONNECTIONS = 500
CLOSE_WAIT = 5.0  # seconds closing the Socket Mode connection may take at a stop
SOCKET_LOOK = 5.0  # seconds between two looks at whether the socket is connected


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


async def serve_socket_mode(runtime: Runtime) -> int:
    """Serve over Socket Mode until SIGINT or SIGTERM, which stop numbot within seconds in
    every state (connecting included). An app token Slack refuses is a configuration
    error (exit 78); a connection lost later shows in /healthz and the
    numbot_slack_socket_connected gauge while slack_sdk reconnects."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.process.startup import EX_CONFIG

    settings = runtime.settings
    assert settings.SLACK_APP_TOKEN is not None
    app_token = settings.SLACK_APP_TOKEN.get_secret_value()
    handler = AsyncSocketModeHandler(runtime.app, app_token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
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
    socket = runtime.health.socket
    async with runtime.running():
        serving = asyncio.create_task(listener.serve(), name="numbot-observe-listener")
        try:
            socket.connecting()  # /healthz turns 503 if this outlasts LOST_GRACE
            refused = await _until_stopped(check_app_token(runtime.client, app_token), stop)
            if isinstance(refused, str):
                logger.critical("numbot stops: %s", refused)
                return EX_CONFIG
            connected = await _until_stopped(handler.connect_async(), stop)  # type: ignore[no-untyped-call]
            if connected is not _STOPPED:
                socket.connected()
                logger.info(
                    "numbot connected over Socket Mode (%s); /healthz and /metrics on http://%s:%d",
                    "SANDBOX" if settings.sandbox else "Flowyte live",
                    settings.NUMBOT_HOST,
                    settings.PORT,
                )
                watching = asyncio.create_task(
                    watch_socket(handler.client, socket), name="numbot-socket-watch"
                )
                await stop.wait()
                watching.cancel()
        finally:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(handler.close_async(), CLOSE_WAIT)  # type: ignore[no-untyped-call]
            listener.should_exit = True
            await serving
    return 0


_STOPPED = object()


async def _until_stopped(work: Any, stop: asyncio.Event) -> Any:
    """`work`'s result, or _STOPPED when a stop signal came first (then `work` is cancelled:
    connecting to a Slack that keeps refusing must never outlast SIGTERM)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopping.cancel()
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return _STOPPED


async def check_app_token(client: Any, app_token: str) -> str | None:
    """Ask Slack for a Socket Mode URL with the app token, once, before connecting: why the
    token is refused (a configuration error), or None (granted, or Slack not reachable yet:
    slack_sdk keeps trying then)."""
    from slack_sdk.errors import SlackApiError

    from bot.ops.health import TOKEN_REJECTED

    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        if error in TOKEN_REJECTED:
            return (
                f"Slack refused SLACK_APP_TOKEN ({error}). Make an app-level token with the "
                "connections:write scope (Basic Information → App-Level Tokens) and set "
                "SLACK_APP_TOKEN to it (xapp-…)."
            )
        logger.warning("apps.connections.open failed (%s); numbot keeps trying", error)
    except Exception as exc:
        logger.warning(
            "Slack could not be reached for Socket Mode (%s); numbot keeps trying",
            type(exc).__name__,
        )
    return None


async def watch_socket(client: Any, socket: Any, every: float = SOCKET_LOOK) -> None:
    """Tell /healthz and /metrics whether the Socket Mode connection is up, every `every`
    seconds (slack_sdk reconnects by itself; this only watches)."""
    while True:
        await asyncio.sleep(every)
        try:
            up = await client.is_connected()
        except Exception:
            up = False
        if up:
            socket.connected()
        else:
            socket.lost()


class _QuietServer(uvicorn.Server):  # type: ignore[misc]
    """uvicorn for /healthz and /metrics beside Socket Mode: the signals stay with
    serve_socket_mode, which stops this server itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

"""`numbot run`: serve Slack over HTTP (uvicorn) or Socket Mode, until told to stop."""

from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn

from bot.app import Runtime, create_asgi

logger = logging.getLogger(__name__)


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
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        backlog=2048,
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
    async with runtime.running():
        await handler.connect_async()  # type: ignore[no-untyped-call]
        logger.info(
            "numbot connected over Socket Mode (%s)",
            "SANDBOX" if runtime.settings.sandbox else "Flowyte live",
        )
        await stop.wait()
        await handler.close_async()  # type: ignore[no-untyped-call]

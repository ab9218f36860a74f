"""Serve an ASGI app on 127.0.0.1 in a background thread, for tests and benchmarks.

    with serve_in_thread(app) as base_url:
        httpx.get(base_url + "/health")

The server is a real uvicorn server on an ephemeral loopback port, so whatever talks to
it (the bot process, aiohttp, httpx) goes through a real TCP socket.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the main thread keeps its handlers
        return None


@contextlib.contextmanager
def serve_in_thread(app: Any, *, port: int | None = None, **config: Any) -> Iterator[str]:
    """Run `app` until the block exits; yields its base URL (no trailing slash)."""
    port = port or free_port()
    cfg = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        # A test may leave a fake answering slowly on purpose (a 30 s fault): at the end of the
        # test, drop it after a second rather than wait it out.
        timeout_graceful_shutdown=1,
        **config,
    )
    server = _ThreadedServer(cfg)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

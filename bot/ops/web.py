"""GET /healthz and GET /metrics: served next to /slack/events in HTTP mode, and on their own
small listener in Socket Mode (bot/process/serve.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.ops.health import Health
from bot.ops.metrics import Metrics


def observe_routes(health: Health, metrics: Metrics) -> list[Route]:
    async def healthz(request: Request) -> Response:
        ok, body = await health.check()
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics_text(request: Request) -> Response:
        body, content_type = await metrics.render()
        return Response(body, headers={"Content-Type": content_type})

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
    ]

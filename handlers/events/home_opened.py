"""Someone opened numbot's Home tab: draw it for them (and keep it current from now on)."""

from __future__ import annotations

from typing import Any

from bot.workflow import NumbersService


async def home_opened(body: dict[str, Any], service: NumbersService) -> None:
    # bolt acknowledged the event already; Slack sends it for the Messages tab too.
    event = body.get("event") or {}
    user = event.get("user")
    if event.get("tab") != "home" or not isinstance(user, str) or not user:
        return
    await service.home_opened(user)

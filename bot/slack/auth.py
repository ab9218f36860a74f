"""Is the bot token good? auth.test at start, and again now and then while running.

At start (`check_token`):

- Slack refuses the token (`invalid_auth`, `token_revoked`, …): `TokenRejected`, and
  `numbot run` stops with that message and exit status 78 (EX_CONFIG). Nothing could work with it.
- Slack cannot be reached (DNS, refused, timeout) or answers another error: a warning;
  numbot starts, /healthz reports `"slack": "unreachable: …"` (still 200: a restart would
  not help) and `watch_token` tries again every RETRY_SECONDS until Slack answers.

While running (`watch_token`): every RECHECK_SECONDS one auth.test, so a token revoked
while nobody clicks still turns /healthz to 503; every other Web API call reports how it
went too (bot/slack/outbound.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.settings import SettingsError
from bot.ops.health import TOKEN_REJECTED, SlackStatus

logger = logging.getLogger(__name__)

RETRY_SECONDS = 30.0  # while Slack has not answered yet
RECHECK_SECONDS = 300.0  # once it has


class TokenRejected(SettingsError):
    """Slack refused SLACK_BOT_TOKEN."""


async def check_token(client: AsyncWebClient, status: SlackStatus) -> Any | None:
    """auth.test's answer; None when Slack could not be asked; TokenRejected when it refused
    the token. `status` learns the outcome either way."""
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        status.refused(error)
        if error in TOKEN_REJECTED:
            raise TokenRejected(
                f"Slack rejected SLACK_BOT_TOKEN at start ({error}). Install the app to the "
                "workspace again (OAuth & Permissions) and set SLACK_BOT_TOKEN to the new "
                "Bot User OAuth Token (xoxb-…)."
            ) from None
        status.unreachable(error)
        logger.warning("auth.test failed (%s); numbot keeps trying", error)
        return None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        status.unreachable(type(exc).__name__)
        logger.warning(
            "Slack could not be reached for auth.test (%s): numbot runs on, /healthz reports "
            "it, and it tries again every %gs",
            type(exc).__name__,
            RETRY_SECONDS,
        )
        return None
    status.answered()
    return answer


async def watch_token(client: AsyncWebClient, status: SlackStatus, on_answer: Any) -> None:
    """Ask again, sooner while Slack has not answered; `on_answer(answer)` on each answer."""
    while True:
        await asyncio.sleep(RECHECK_SECONDS if status.state == "ok" else RETRY_SECONDS)
        was = status.state
        try:
            answer = await check_token(client, status)
        except TokenRejected:
            if was != "rejected":
                logger.error(
                    "Slack now rejects SLACK_BOT_TOKEN (%s): /healthz answers 503 until it "
                    "is replaced",
                    status.error,
                )
            continue
        if answer is not None:
            if was != "ok":
                logger.info("Slack answered auth.test: the bot token works")
            on_answer(answer)

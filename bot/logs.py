"""Logging for the bot process: one format, and every record passed through redaction."""

from __future__ import annotations

import logging

from bot.redact import RedactingFilter, register_secret
from bot.settings import Settings


def configure(settings: Settings) -> None:
    for secret in settings.secrets():
        register_secret(secret)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.NUMBOT_LOG_LEVEL.upper())
    # Request lines from the HTTP libraries add nothing but volume.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "slack_sdk.web.async_base_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

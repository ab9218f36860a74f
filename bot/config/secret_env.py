"""Take numbot's secrets out of its process environment once its Settings hold them.

Nothing in numbot reads them there again, and libraries that would are better off not
finding them: bolt's AsyncApp falls back to SLACK_BOT_TOKEN from the environment when it is
given no token, and warns at start that the token it found there goes unused beside the
client numbot gives it. Nor does a child process inherit them.
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from bot.config.settings import Settings


def secret_settings() -> tuple[str, ...]:
    """The settings that hold secrets (every SecretStr field), by their environment names;
    NUMBOT_DATABASE_URL among them, as it may carry the database's password."""
    return tuple(
        name
        for name, field in Settings.model_fields.items()
        if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
    )


def forget_secret_environment() -> None:
    for name in secret_settings():
        os.environ.pop(name, None)

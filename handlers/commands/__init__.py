"""Slash command listeners."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.commands.numbers import numbers_command
from handlers.errors import guarded


def register(app: Any) -> None:
    app.command(ids.COMMAND)(guarded(numbers_command))

"""Options listeners (block_suggestion): menus whose options numbot serves as people type."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.errors import Listener, guarded
from handlers.options.agents import agent_options

LISTENERS: dict[str, Listener] = {ids.ASSIGN_AGENT: agent_options}


def register(app: Any) -> None:
    for action_id, listener in LISTENERS.items():
        app.options(action_id)(guarded(listener))

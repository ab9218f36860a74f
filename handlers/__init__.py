"""The Slack surface of numbot: listeners, Block Kit builders, the Slack notifier.

Handlers parse and acknowledge, call the workflow service, and render its outcome. They
never touch SQLite or httpx.
"""

from __future__ import annotations

from typing import Any

from handlers import actions, commands, events, options, views
from handlers.errors import handle_error


def register(app: Any) -> None:
    commands.register(app)
    actions.register(app)
    views.register(app)
    options.register(app)
    events.register(app)
    app.error(handle_error)

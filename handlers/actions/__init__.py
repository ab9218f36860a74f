"""Button and menu listeners, one per action id."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.actions.decide import approve, reject
from handlers.actions.request_purchase import request_purchase
from handlers.actions.reserve import reserve
from handlers.actions.routing import assign_agent, publish
from handlers.errors import Listener, guarded

LISTENERS: dict[str, Listener] = {
    ids.RESERVE: reserve,
    ids.REQUEST_PURCHASE: request_purchase,
    ids.APPROVE: approve,
    ids.REJECT: reject,
    ids.PUBLISH: publish,
    ids.ASSIGN_AGENT: assign_agent,
}


def register(app: Any) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_id)(guarded(listener))

"""Button and menu listeners, one per action id."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.actions.decide import approve, reject
from handlers.actions.idle_page import idle_page
from handlers.actions.list_page import list_page
from handlers.actions.open_search import open_search
from handlers.actions.request_purchase import request_purchase
from handlers.actions.request_release import request_release
from handlers.actions.reserve import reserve
from handlers.actions.retry import retry_purchase
from handlers.actions.routing import assign_agent, publish
from handlers.actions.search_page import search_page
from handlers.errors import Listener, guarded

LISTENERS: dict[str, Listener] = {
    ids.RESERVE: reserve,
    ids.REQUEST_PURCHASE: request_purchase,
    ids.APPROVE: approve,
    ids.REJECT: reject,
    ids.RETRY_PURCHASE: retry_purchase,
    ids.PUBLISH: publish,
    ids.ASSIGN_AGENT: assign_agent,
    # Previous and Next: one listener each for search and list; the value names the page.
    ids.SEARCH_PREVIOUS: search_page,
    ids.SEARCH_NEXT: search_page,
    ids.SEARCH_NEARBY: search_page,
    ids.LIST_PREVIOUS: list_page,
    ids.LIST_NEXT: list_page,
    ids.IDLE_PREVIOUS: idle_page,
    ids.IDLE_NEXT: idle_page,
    ids.OPEN_SEARCH: open_search,
    ids.REQUEST_RELEASE: request_release,
}


def register(app: Any) -> None:
    for action_id, listener in LISTENERS.items():
        app.action(action_id)(guarded(listener))

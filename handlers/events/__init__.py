"""Events API listeners (over HTTP or Socket Mode), one per event numbot subscribes to."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.errors import Listener, guarded
from handlers.events.home_opened import home_opened

LISTENERS: dict[str, Listener] = {
    ids.APP_HOME_OPENED: home_opened,
}


def register(app: Any) -> None:
    for event, listener in LISTENERS.items():
        app.event(event)(guarded(listener))

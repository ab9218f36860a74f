"""Events API listeners (over HTTP or Socket Mode), one per event numbot subscribes to."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.errors import Listener, guarded
from handlers.events.home_opened import home_opened
from handlers.events.usergroup_changed import usergroup_changed

LISTENERS: dict[str, Listener] = {
    ids.APP_HOME_OPENED: home_opened,
    ids.USERGROUP_MEMBERS_CHANGED: usergroup_changed,
}


def register(app: Any) -> None:
    for event, listener in LISTENERS.items():
        app.event(event)(guarded(listener))

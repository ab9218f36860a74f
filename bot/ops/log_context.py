"""Who and what a log line is about: the Slack user, action and request id of the request
being handled, in a contextvar set where Slack's requests come in (bot/slack/bolt_app.py).

bolt runs listeners (lazy ones too) in tasks created while handling the request, and a task
starts with a copy of the context, so every line logged on behalf of a request carries it.
Only ids go here: never text a person typed, nor anything from a request body beyond them.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from typing import Any

FIELDS = ("slack_user", "slack_action", "request_id")
_current: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "numbot_log_context", default=None
)
# Ids and names only: anything else (a typed text, a payload) is not kept.
_ID = re.compile(r"^[A-Za-z0-9_./:#-]{1,80}$")


def current() -> dict[str, str]:
    return _current.get() or {}


def bind(fields: dict[str, str]) -> contextvars.Token[dict[str, str] | None]:
    return _current.set(fields)


def reset(token: contextvars.Token[dict[str, str] | None]) -> None:
    _current.reset(token)


def slack_fields(body: dict[str, Any]) -> dict[str, str]:
    """The user, the action (command, action id, view callback id or event type) and a
    fresh request id, from a parsed Slack request body."""
    user = body.get("user_id") or _get(body, "user", "id") or _get(body, "event", "user")
    action = (
        body.get("command")
        or _first_action(body)
        or _get(body, "view", "callback_id")
        or _get(body, "event", "type")
        or body.get("type")
    )
    fields = {"request_id": secrets.token_hex(6)}
    if isinstance(user, str) and _ID.match(user):
        fields["slack_user"] = user
    if isinstance(action, str) and _ID.match(action):
        fields["slack_action"] = action
    return fields


def _get(body: dict[str, Any], outer: str, inner: str) -> Any:
    value = body.get(outer)
    return value.get(inner) if isinstance(value, dict) else None


def _first_action(body: dict[str, Any]) -> Any:
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return actions[0].get("action_id")
    if body.get("type") == "block_suggestion":
        return body.get("action_id")
    return None

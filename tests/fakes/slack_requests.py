"""Build the requests Slack sends to numbot: signed HTTP bodies and Socket Mode envelopes.

HTTP mode (what Slack POSTs to /slack/events):

    body = slash_command_body("search 415", "U0ALICE", response_url=fake.response_url("r1"))
    httpx.post(bot_url + "/slack/events", content=body, headers=signed_headers(body, SECRET))

Socket Mode (what Slack pushes down the websocket): the same payloads as dicts, wrapped in an
envelope, e.g. `fake.socket_send(socket_envelope("slash_commands", slash_command_payload(...)))`.

The shapes follow Slack's real payloads (slash command form fields, `block_actions` and
`view_submission` JSON), with the ids of the fake workspace in tests/fakes/slack_api.py
(team T0001, app A0001, bot U0BOT/B0BOT).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from handlers.ids import COMMAND

TEAM_ID = "T0001"
TEAM_DOMAIN = "numbot-test"
APP_ID = "A0001"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
VERIFICATION_TOKEN = "fake-verification-token"  # deprecated by Slack, still sent in payloads
DEFAULT_CHANNEL_ID = "C0CHAN"
# Port 9 (discard) on loopback refuses connections at once: a test that forgets to pass a
# response_url fails fast instead of reaching out to hooks.slack.com.
UNSET_RESPONSE_URL = "http://127.0.0.1:9/response/unset"

_counter = itertools.count(1)


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _trigger_id() -> str:
    n = next(_counter)
    return f"{1700000000 + n}.{1000000000 + n}.{uuid.uuid4().hex[:32]}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _user(user_id: str, user_name: str | None, team_id: str) -> dict[str, Any]:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


# --------------------------------------------------------------------------- signing


def signed_headers(
    body: str,
    secret: str,
    timestamp: int | None = None,
    *,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """Headers Slack sends with `body`: v0 HMAC-SHA256 signature over `v0:<ts>:<body>`.

    `timestamp` defaults to now; pass an old one to test replay rejection (Bolt refuses
    requests more than 5 minutes old).
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


# --------------------------------------------------------------------------- slash command


def slash_command_payload(
    text: str,
    user_id: str,
    channel_id: str = DEFAULT_CHANNEL_ID,
    response_url: str = UNSET_RESPONSE_URL,
    trigger_id: str | None = None,
    *,
    command: str = COMMAND,
    user_name: str | None = None,
    channel_name: str | None = None,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
) -> dict[str, str]:
    """The slash-command fields, as a dict (the Socket Mode `payload`), in Slack's order."""
    if channel_name is None:
        channel_name = "directmessage" if channel_id.startswith("D") else "numbers"
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }


def slash_command_body(
    text: str,
    user_id: str,
    channel_id: str = DEFAULT_CHANNEL_ID,
    response_url: str = UNSET_RESPONSE_URL,
    trigger_id: str | None = None,
    **kwargs: Any,
) -> str:
    """Form-encoded body of a `/numbers` invocation, as Slack POSTs it (HTTP mode)."""
    return urlencode(
        slash_command_payload(text, user_id, channel_id, response_url, trigger_id, **kwargs)
    )


# --------------------------------------------------------------------------- block_actions


def block_action_payload(
    action_id: str,
    value: str | None,
    user_id: str,
    *,
    response_url: str = UNSET_RESPONSE_URL,
    channel_id: str = DEFAULT_CHANNEL_ID,
    message_ts: str = "1700000000.000100",
    selected_option_value: str | None = None,
    block_id: str | None = None,
    message_blocks: list[dict[str, Any]] | None = None,
    message_text: str = "",
    trigger_id: str | None = None,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
    is_ephemeral: bool = False,
) -> dict[str, Any]:
    """A `block_actions` payload for a click on a button in a message the bot posted.

    With `selected_option_value`, the action is a `static_select` choice instead of a button
    (`value` is then ignored: selects carry `selected_option`, not `value`).
    """
    action_ts = _action_ts()
    block_id = block_id or f"b{next(_counter)}"
    action: dict[str, Any]
    if selected_option_value is not None:
        action = {
            "type": "static_select",
            "action_id": action_id,
            "block_id": block_id,
            "selected_option": {
                "text": {"type": "plain_text", "text": selected_option_value, "emoji": True},
                "value": selected_option_value,
            },
            "placeholder": {"type": "plain_text", "text": "Choose", "emoji": True},
            "action_ts": action_ts,
        }
    else:
        action = {
            "action_id": action_id,
            "block_id": block_id,
            "text": {"type": "plain_text", "text": action_id, "emoji": True},
            "value": value,
            "type": "button",
            "action_ts": action_ts,
        }
    channel_name = "directmessage" if channel_id.startswith("D") else "numbers"
    message = {
        "user": BOT_USER_ID,
        "type": "message",
        "ts": message_ts,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "text": message_text,
        "team": team_id,
        "blocks": message_blocks or [],
    }
    return {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def block_action_body(
    action_id: str,
    value: str | None,
    user_id: str,
    *,
    response_url: str = UNSET_RESPONSE_URL,
    channel_id: str = DEFAULT_CHANNEL_ID,
    message_ts: str = "1700000000.000100",
    selected_option_value: str | None = None,
    **kwargs: Any,
) -> str:
    """Form-encoded `payload=<json>` body of a `block_actions` request (HTTP mode)."""
    payload = block_action_payload(
        action_id,
        value,
        user_id,
        response_url=response_url,
        channel_id=channel_id,
        message_ts=message_ts,
        selected_option_value=selected_option_value,
        **kwargs,
    )
    return urlencode({"payload": _compact(payload)})


# --------------------------------------------------------------------------- view_submission


def _state_values(
    values: dict[str, dict[str, Any]],
) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for block_id, actions in values.items():
        out[block_id] = {}
        for action_id, v in actions.items():
            # A plain string is a plain_text_input's value; a dict is taken as the full
            # state entry (e.g. {"type": "static_select", "selected_option": {...}}).
            out[block_id][action_id] = (
                dict(v) if isinstance(v, dict) else {"type": "plain_text_input", "value": v}
            )
    return out


def view_submission_payload(
    callback_id: str,
    values: dict[str, dict[str, Any]],
    user_id: str,
    private_metadata: str = "",
    *,
    view_id: str = "V0VIEW0001",
    trigger_id: str | None = None,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
    title: str = "numbot",
) -> dict[str, Any]:
    """A `view_submission` payload for a modal the bot opened.

    `values` is `{block_id: {action_id: value}}`; a str value becomes a `plain_text_input`
    entry, a dict is used as-is. The view's blocks are input blocks matching `values`.
    """
    state = _state_values(values)
    blocks = [
        {
            "type": "input",
            "block_id": block_id,
            "label": {"type": "plain_text", "text": block_id, "emoji": True},
            "optional": False,
            "dispatch_action": False,
            "element": {
                "type": entry.get("type", "plain_text_input"),
                "action_id": action_id,
            },
        }
        for block_id, actions in state.items()
        for action_id, entry in actions.items()
    ]
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, user_name, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": blocks,
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": {"type": "plain_text", "text": title, "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission_body(
    callback_id: str,
    values: dict[str, dict[str, Any]],
    user_id: str,
    private_metadata: str = "",
    **kwargs: Any,
) -> str:
    """Form-encoded `payload=<json>` body of a `view_submission` request (HTTP mode)."""
    payload = view_submission_payload(callback_id, values, user_id, private_metadata, **kwargs)
    return urlencode({"payload": _compact(payload)})


# --------------------------------------------------------------------------- block_suggestion


def block_suggestion_payload(
    action_id: str,
    value: str,
    user_id: str,
    *,
    block_id: str = "b1",
    channel_id: str = DEFAULT_CHANNEL_ID,
    message_ts: str = "1700000000.000100",
    user_name: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A `block_suggestion` payload: someone opened, or typed `value` into, an external_select
    in a message the bot posted. Slack waits up to 3 s for `{"options": [...]}` in the answer."""
    return {
        "type": "block_suggestion",
        "user": _user(user_id, user_name, team_id),
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {
            "id": channel_id,
            "name": "directmessage" if channel_id.startswith("D") else "numbers",
        },
        "message": {"type": "message", "ts": message_ts, "bot_id": BOT_ID, "app_id": APP_ID},
    }


def block_suggestion_body(action_id: str, value: str, user_id: str, **kwargs: Any) -> str:
    """Form-encoded `payload=<json>` body of a `block_suggestion` request (HTTP mode), as
    Slack POSTs it to the app's options load URL."""
    return urlencode(
        {"payload": _compact(block_suggestion_payload(action_id, value, user_id, **kwargs))}
    )


# --------------------------------------------------------------------------- Events API


def app_home_opened_event(user_id: str, *, tab: str = "home") -> dict[str, Any]:
    """What Slack sends when someone opens one of numbot's tabs (`home` or `messages`)."""
    return {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id[1:],
        "tab": tab,
        "event_ts": _action_ts(),
    }


def subteam_members_changed_event(
    group_id: str, *, added: list[str] = (), removed: list[str] = (), team_id: str = TEAM_ID
) -> dict[str, Any]:
    """What Slack sends when a user group gains or loses members (a delta, with the counts as
    strings, as in Slack's own example)."""
    now = int(time.time())
    return {
        "type": "subteam_members_changed",
        "subteam_id": group_id,
        "team_id": team_id,
        "date_previous_update": now - 60,
        "date_update": now,
        "added_users": list(added),
        "added_users_count": str(len(added)),
        "removed_users": list(removed),
        "removed_users_count": str(len(removed)),
        "event_ts": _action_ts(),
    }


def event_callback_payload(event: dict[str, Any], *, team_id: str = TEAM_ID) -> dict[str, Any]:
    """An Events API `event_callback` wrapping `event` (the HTTP body, and Socket Mode's
    `events_api` payload)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def event_callback_body(event: dict[str, Any], **kwargs: Any) -> str:
    """The JSON body Slack POSTs for an event (HTTP mode; sign it with
    `signed_headers(body, secret, content_type="application/json")`)."""
    return _compact(event_callback_payload(event, **kwargs))


def home_block_action_payload(
    action_id: str, value: str, user_id: str, *, team_id: str = TEAM_ID, view_type: str = "home"
) -> dict[str, Any]:
    """A click on a button in someone's App Home (or, with view_type="modal", in a modal):
    the container is the view, and Slack sends no response_url and no channel."""
    view_id = f"V{next(_counter):010d}"
    payload = block_action_payload(action_id, value, user_id, team_id=team_id)
    for key in ("message", "channel", "response_url"):
        payload.pop(key)
    payload["container"] = {"type": "view", "view_id": view_id}
    payload["view"] = {
        "id": view_id,
        "team_id": team_id,
        "type": view_type,
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        "app_id": APP_ID,
        "bot_id": BOT_ID,
    }
    return payload


def home_block_action_body(action_id: str, value: str, user_id: str, **kwargs: Any) -> str:
    return urlencode(
        {"payload": _compact(home_block_action_payload(action_id, value, user_id, **kwargs))}
    )


# --------------------------------------------------------------------------- Socket Mode


def socket_envelope(
    type_: str,
    payload: dict[str, Any],
    *,
    envelope_id: str | None = None,
    accepts_response_payload: bool | None = None,
) -> dict[str, Any]:
    """Wrap a payload the way Slack does over Socket Mode.

    `type_` is `slash_commands`, `interactive` (block_actions, view_submission, ...) or
    `events_api`. As on Slack, slash commands and view submissions accept a response payload
    in the ack; block actions do not.
    """
    if accepts_response_payload is None:
        accepts_response_payload = type_ == "slash_commands" or (
            type_ == "interactive"
            and payload.get("type") in ("view_submission", "block_suggestion")
        )
    envelope: dict[str, Any] = {
        "envelope_id": envelope_id or str(uuid.uuid4()),
        "payload": payload,
        "type": type_,
        "accepts_response_payload": accepts_response_payload,
    }
    if type_ == "events_api":
        envelope["retry_attempt"] = 0
        envelope["retry_reason"] = ""
    return envelope

"""A fake Slack: Web API, response_url endpoints and a Socket Mode websocket, on loopback.

    fake = FakeSlack()
    with fake.serve() as base:           # serve_in_thread + bind(base)
        run_bot(SLACK_API_URL=fake.api_url, ...)   # == base + "/api/"
        ...
        [call] = fake.wait_for("chat.postMessage")
        assert call.body["channel"] == "C0CHAN"

Everything the bot sends is recorded as a `Call` (thread-safe; the server runs in its own
thread and event loop). Web API bodies are decoded whether they came form-encoded, as JSON or
in the query string, and JSON-string fields (`blocks`, `view`, ...) are parsed, so tests see
the same dict however slack_sdk chose to send it.

Waiting: `wait_for` / `wait_for_socket_ack` / `wait_for_socket_connection` block the calling
thread. When the code under test runs on the test's own event loop (an in-process AsyncApp or
SocketModeClient), use the `async_` variants instead, or the loop stalls and nothing arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.fakes.serve import serve_in_thread
from tests.fakes.slack_requests import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

# Fields Slack takes as JSON; in form bodies (and sometimes JSON bodies) they arrive as strings.
JSON_ENCODED_FIELDS = frozenset(
    {"blocks", "attachments", "view", "metadata", "user_auth_blocks", "options", "option_groups"}
)
RESPONSE_URL = "response_url"  # Call.method of a POST to a response_url

Predicate = Callable[["Call"], bool]
Responder = dict[str, Any] | Callable[["Call"], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str  # "chat.postMessage", ..., or "response_url"
    body: dict[str, Any]  # decoded: query string + form/JSON body, JSON fields parsed
    headers: Headers  # case-insensitive: call.headers["Authorization"]
    http_method: str = "POST"
    content_type: str = ""
    raw_body: bytes = b""
    response_id: str | None = None  # the {id} of /response/{id}
    response: Any = None  # what the fake answered (dict for the Web API)
    status: int = 200
    at: float = field(default_factory=time.time)

    @property
    def token(self) -> str | None:
        """The bearer token, or a `token` body field (Slack accepts both)."""
        auth = self.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        token = self.body.get("token")
        return token if isinstance(token, str) else None

    @property
    def ok(self) -> bool:
        return isinstance(self.response, dict) and bool(self.response.get("ok"))

    def summary(self, limit: int = 400) -> str:
        where = f" [{self.response_id}]" if self.response_id else ""
        body = json.dumps(self.body, default=str)
        if len(body) > limit:
            body = body[:limit] + "…"
        verdict = "" if self.ok or self.method == RESPONSE_URL else f" -> {self.response}"
        return f"{self.method}{where} {body}{verdict}"


@dataclass
class _Failure:
    error: str
    remaining: int | None  # None: until reset()
    status: int
    retry_after: str | None = None  # the Retry-After header of a 429
    when: Predicate | None = None  # only calls this matches fail (and count)


@dataclass
class _SocketConn:
    id: int
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str | None]  # None closes the socket


def _decode_json_fields(body: dict[str, Any]) -> dict[str, Any]:
    for key in JSON_ENCODED_FIELDS & body.keys():
        value = body[key]
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                body[key] = json.loads(value)
    return body


def _dm_channel(user_id: str) -> str:
    return "D" + user_id[1:] if user_id[:1] in ("U", "W") else user_id


class FakeSlack:
    """A Starlette app standing in for slack.com. Serve it, then `bind()` its base URL."""

    def __init__(self, *, bot_token: str | None = None, app_token: str | None = None) -> None:
        """`bot_token` / `app_token`, when given, are the only tokens accepted (else any
        xoxb-/xoxp- token for the Web API and any xapp- token for apps.connections.open)."""
        self.bot_token = bot_token
        self.app_token = app_token
        self.revoked: str | None = None  # revoke(): the error every bot-token call gets
        self.base_url: str | None = None
        self._cond = threading.Condition()
        self._calls: list[Call] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._responders: dict[str, Responder] = {}
        self._delays: dict[str, float] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, tuple[str, ...]] = {}  # user group id -> member ids
        self._seq = itertools.count(1)
        self._tickets: set[str] = set()
        self._conn_ids = itertools.count(1)
        self._conns: dict[int, _SocketConn] = {}
        self._socket_received: list[dict[str, Any]] = []
        self._socket_sent: list[dict[str, Any]] = []
        self.socket_connection_count = 0  # connections ever accepted
        self.socket_connected = threading.Event()  # set while at least one is open
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/response/{response_id}", self._response_url, methods=["POST"]),
                WebSocketRoute("/link/", self._link),
            ]
        )

    # ------------------------------------------------------------------ serving / URLs

    def bind(self, base_url: str) -> FakeSlack:
        """Tell the fake where it is served (no trailing slash), for URLs it hands out."""
        self.base_url = base_url.rstrip("/")
        return self

    @contextlib.contextmanager
    def serve(self, **config: Any) -> Iterator[str]:
        """`serve_in_thread(self.app)` and `bind()`; yields the base URL."""
        with serve_in_thread(self.app, **config) as base:
            self.bind(base)
            yield base

    def _base(self) -> str:
        if self.base_url is None:
            raise RuntimeError("FakeSlack is not bound: call fake.bind(base_url) or fake.serve()")
        return self.base_url

    @property
    def api_url(self) -> str:
        """What to give the bot as SLACK_API_URL / AsyncWebClient(base_url=...)."""
        return self._base() + "/api/"

    def response_url(self, response_id: str) -> str:
        return f"{self._base()}/response/{response_id}"

    # ------------------------------------------------------------------ configuration

    def fail(
        self,
        method: str,
        error: str = "channel_not_found",
        times: int | None = 1,
        status: int = 200,
        *,
        retry_after: float | str | None = 1,
        when: Predicate | None = None,
    ) -> None:
        """Make the next `times` calls to `method` fail (None: every call until reset()).

        Web API failures answer `{"ok": false, "error": error}` with `status`; a 429 carries
        `Retry-After: <retry_after>` (None: no header), as Slack's rate limits do. With
        `when`, only calls it matches fail, e.g. `when=lambda c: c.body["channel"] == "C1"`.
        `fail("response_url", "expired_url", status=404)` fails response_urls.
        """
        header = None if retry_after is None else str(retry_after)
        with self._cond:
            self._failures.setdefault(method, []).append(
                _Failure(error, times, status, header, when)
            )

    def revoke(self, error: str | None = "token_revoked") -> None:
        """From now on every Web API call with the bot token answers `{"ok": false, "error":
        error}` (token_revoked, account_inactive, …), auth.test included; None undoes it."""
        with self._cond:
            self.revoked = error

    def slow(self, method: str, seconds: float) -> None:
        """Make every call to `method` take `seconds` before it is answered."""
        with self._cond:
            self._delays[method] = seconds

    def set_response(self, method: str, response: Responder) -> None:
        """Answer `method` with this dict (or `response(call)`) instead of the default."""
        with self._cond:
            self._responders[method] = response

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Override fields of users.info's `user` for `user_id` (e.g. tz, is_bot, deleted)."""
        with self._cond:
            self._users.setdefault(user_id, {}).update(fields)

    def set_group(self, group_id: str, members: Iterable[str] | None) -> None:
        """Who is in user group `group_id` now, for usergroups.users.list (None: there is no
        such group, and Slack answers `no_such_subteam`). Kept across reset(), like users."""
        with self._cond:
            if members is None:
                self._groups.pop(group_id, None)
            else:
                self._groups[group_id] = tuple(members)

    def reset(self) -> None:
        """Forget recorded calls, socket traffic, failures and response overrides.
        Timestamps keep counting up, so ts values never repeat within one fake."""
        with self._cond:
            self._calls.clear()
            self._failures.clear()
            self._responders.clear()
            self._delays.clear()
            self._socket_received.clear()
            self._socket_sent.clear()
            self.revoked = None

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def responses(self, response_id: str | None = None) -> list[Call]:
        """POSTs to response_urls (all, or those to /response/<response_id>)."""
        return [
            c
            for c in self.calls(RESPONSE_URL)
            if response_id is None or c.response_id == response_id
        ]

    def tokens_seen(self) -> set[str]:
        return {t for c in self.calls() if (t := c.token)}

    def dump(self) -> str:
        calls = self.calls()
        lines = [f"{len(calls)} call(s) received:"]
        lines += [f"  {i}. {c.summary()}" for i, c in enumerate(calls, 1)]
        return "\n".join(lines)

    @staticmethod
    def _as_predicate(predicate: Predicate | str | None) -> tuple[Predicate, str]:
        if predicate is None:
            return (lambda _c: True), "any call"
        if isinstance(predicate, str):
            method = predicate
            return (lambda c: c.method == method), repr(method)
        return predicate, getattr(predicate, "__name__", "predicate")

    def _matching(self, pred: Predicate) -> list[Call]:
        return [c for c in self._calls if pred(c)]

    def wait_for(
        self, predicate: Predicate | str | None = None, timeout: float = 5.0, *, count: int = 1
    ) -> list[Call]:
        """Block until `count` recorded calls match; return all matching calls.

        `predicate` is a `Call -> bool`, a method name, or None (any call). Raises
        AssertionError listing everything received on timeout.
        """
        pred, desc = self._as_predicate(predicate)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._matching(pred)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        raise AssertionError(
            f"timed out after {timeout}s waiting for {count} × {desc}; got {len(found)}.\n"
            + self.dump()
        )

    async def async_wait_for(
        self, predicate: Predicate | str | None = None, timeout: float = 5.0, *, count: int = 1
    ) -> list[Call]:
        """`wait_for` that yields to the running event loop while polling."""
        pred, desc = self._as_predicate(predicate)
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                found = self._matching(pred)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {count} × {desc}; "
                    f"got {len(found)}.\n" + self.dump()
                )
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ Web API

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._seq) * 100:06d}"

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        body: dict[str, Any] = dict(request.query_params)
        if raw:
            if content_type.startswith("application/json"):
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = {"_unparsed": raw.decode("utf-8", "replace")}
                body.update(parsed if isinstance(parsed, dict) else {"_json": parsed})
            elif content_type.startswith("application/x-www-form-urlencoded"):
                body.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        _decode_json_fields(body)
        call = Call(
            method=method,
            body=body,
            headers=request.headers,
            http_method=request.method,
            content_type=content_type,
            raw_body=raw,
        )
        delay = self._delays.get(method, 0.0)
        if delay:
            await asyncio.sleep(delay)  # a slow Slack: other calls go on meanwhile
        status, payload, headers = self._answer(call)
        self._record(dataclasses.replace(call, response=payload, status=status))
        return JSONResponse(payload, status_code=status, headers=headers)

    def _take_failure(self, call: Call) -> _Failure | None:
        with self._cond:
            queue = self._failures.get(call.method) or []
            for failure in queue:
                if failure.when is not None and not failure.when(call):
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        queue.remove(failure)
                return failure
            return None

    def _auth_error(self, call: Call) -> str | None:
        auth = call.headers.get("authorization")
        if auth is not None and not auth.startswith("Bearer "):
            return "invalid_auth"
        token = call.token
        if not token:
            return "not_authed"
        if call.method == "apps.connections.open":
            if not token.startswith("xapp-"):
                return "not_allowed_token_type"
            if self.app_token is not None and token != self.app_token:
                return "invalid_auth"
            return None
        if token.startswith("xapp-"):
            return "not_allowed_token_type"
        if self.bot_token is not None and token != self.bot_token:
            return "invalid_auth"
        return self.revoked

    def _answer(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str] | None]:
        error = self._auth_error(call)
        if error:
            return 200, {"ok": False, "error": error}, None
        failure = self._take_failure(call)
        if failure:
            headers = None
            if failure.status == 429 and failure.retry_after is not None:
                headers = {"Retry-After": failure.retry_after}
            return failure.status, {"ok": False, "error": failure.error}, headers
        with self._cond:
            responder = self._responders.get(call.method)
        if responder is not None:
            return 200, responder(call) if callable(responder) else dict(responder), None
        handler = getattr(self, "_m_" + call.method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": True}, None
        return 200, handler(call.body), None

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    # One handler per method the bot uses; anything else answers {"ok": true}.

    def _m_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_DOMAIN,
            "user": "numbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, body: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "user": BOT_USER_ID,
            "type": "message",
            "ts": ts,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": body.get("text", ""),
            "team": TEAM_ID,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if key in body:
                message[key] = body[key]
        return message

    @staticmethod
    def _has_content(body: dict[str, Any]) -> bool:
        return any(body.get(k) for k in ("text", "blocks", "attachments", "markdown_text"))

    def _m_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not self._has_content(body):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        # Posting to a user id lands in the DM with the bot; Slack answers with the D… id.
        channel = _dm_channel(str(body["channel"]))
        return {"ok": True, "channel": channel, "ts": ts, "message": self._message(body, ts)}

    def _m_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        if not self._has_content(body):
            return {"ok": False, "error": "no_text"}
        ts = str(body["ts"])
        return {
            "ok": True,
            "channel": body["channel"],
            "ts": ts,
            "text": body.get("text", ""),
            "message": self._message(body, ts),
        }

    def _m_chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("user"):
            return {"ok": False, "error": "user_not_found"}
        if not self._has_content(body):
            return {"ok": False, "error": "no_text"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _view(self, view: Any, view_id: str) -> dict[str, Any]:
        view = view if isinstance(view, dict) else {}
        return {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type", "modal"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": view.get("title"),
            "clear_on_close": view.get("clear_on_close", False),
            "notify_on_close": view.get("notify_on_close", False),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }

    def _m_views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if not (body.get("trigger_id") or body.get("interactivity_pointer")):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(body.get("view"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._view(body["view"], f"V{next(self._seq):010d}")}

    def _m_views_update(self, body: dict[str, Any]) -> dict[str, Any]:
        if not (body.get("view_id") or body.get("external_id")):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(body.get("view"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = str(body.get("view_id") or f"V{next(self._seq):010d}")
        return {"ok": True, "view": self._view(body["view"], view_id)}

    def _m_views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        """App Home, as Slack checks it: a `home` view of at most 100 blocks, for a user."""
        view = body.get("view")
        if not body.get("user_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        blocks = view.get("blocks")
        if view.get("type") != "home" or not isinstance(blocks, list) or len(blocks) > 100:
            return {"ok": False, "error": "invalid_blocks"}
        return {"ok": True, "view": self._view(view, f"V{next(self._seq):010d}")}

    def homes(self, user_id: str | None = None) -> list[Call]:
        """Every Home numbot published (for `user_id`), oldest first."""
        return [
            c
            for c in self.calls("views.publish")
            if user_id is None or c.body.get("user_id") == user_id
        ]

    def _m_conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("channel"):
            return {
                "ok": True,
                "no_op": True,
                "already_open": True,
                "channel": {"id": body["channel"]},
            }
        users = [u for u in str(body.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        channel = _dm_channel(users[0]) if len(users) == 1 else "G" + "".join(u[1:4] for u in users)
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel}}

    def _m_users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = body.get("user")
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        name = str(user_id).lower()
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "real_name": name.title(),
            "tz": "UTC",
            "tz_label": "Coordinated Universal Time",
            "tz_offset": 0,
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
            "profile": {"real_name": name.title(), "display_name": name, "team": TEAM_ID},
        }
        with self._cond:
            user.update(self._users.get(str(user_id), {}))
        return {"ok": True, "user": user}

    def _m_usergroups_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """The members of one user group, as set_group() made it (disabled groups are not
        modelled: numbot never asks with include_disabled)."""
        group_id = body.get("usergroup")
        if not group_id:
            return {"ok": False, "error": "invalid_arguments"}
        with self._cond:
            members = self._groups.get(str(group_id))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(members)}

    def _m_apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        parts = urlsplit(self._base())
        ticket = str(uuid.uuid4())
        with self._cond:
            self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://{parts.netloc}/link/?ticket={ticket}&app_id={APP_ID}"}

    # ------------------------------------------------------------------ response_url

    async def _response_url(self, request: Request) -> Response:
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        body: dict[str, Any]
        try:
            parsed = json.loads(raw) if raw else {}
            body = parsed if isinstance(parsed, dict) else {"_json": parsed}
        except ValueError:
            body = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        _decode_json_fields(body)
        call = Call(
            method=RESPONSE_URL,
            body=body,
            headers=request.headers,
            content_type=content_type,
            raw_body=raw,
            response_id=request.path_params["response_id"],
        )
        failure = self._take_failure(call)
        status, text = (failure.status, failure.error) if failure else (200, "ok")
        headers = None
        if failure and failure.status == 429 and failure.retry_after is not None:
            headers = {"Retry-After": failure.retry_after}
        self._record(dataclasses.replace(call, response=text, status=status))
        return PlainTextResponse(text, status_code=status, headers=headers)

    # ------------------------------------------------------------------ Socket Mode

    async def _link(self, websocket: WebSocket) -> None:
        with self._cond:
            known = websocket.query_params.get("ticket") in self._tickets
        if not known:  # only URLs from apps.connections.open work, as on Slack
            await websocket.close(code=1008)
            return
        await websocket.accept()
        conn = _SocketConn(next(self._conn_ids), asyncio.get_running_loop(), asyncio.Queue())
        with self._cond:  # registered first: envelopes sent from now on queue behind hello
            self._conns[conn.id] = conn
            self.socket_connection_count += 1
            self.socket_connected.set()
            self._cond.notify_all()
        hello = {
            "type": "hello",
            "num_connections": len(self._conns),
            "connection_info": {"app_id": APP_ID},
            "debug_info": {},
        }

        async def pump() -> None:
            await websocket.send_json(hello)
            while (text := await conn.queue.get()) is not None:
                await websocket.send_text(text)
            await websocket.close(code=1000)

        sender = asyncio.create_task(pump())
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = {"_unparsed": text}
                with self._cond:
                    self._socket_received.append(parsed if isinstance(parsed, dict) else {})
                    self._cond.notify_all()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            with self._cond:
                self._conns.pop(conn.id, None)
                if not self._conns:
                    self.socket_connected.clear()
                self._cond.notify_all()

    def _latest_conn(self) -> _SocketConn:
        with self._cond:
            if not self._conns:
                raise AssertionError(
                    "no open Socket Mode connection (wait_for_socket_connection() first)"
                )
            return self._conns[max(self._conns)]

    def socket_send(self, envelope: dict[str, Any]) -> str:
        """Push `envelope` to the newest Socket Mode connection; returns its envelope_id
        (one is added if missing). Thread-safe, never blocks."""
        if "envelope_id" not in envelope and envelope.get("type") not in ("hello", "disconnect"):
            envelope = {"envelope_id": str(uuid.uuid4()), **envelope}
        conn = self._latest_conn()
        with self._cond:
            self._socket_sent.append(envelope)
        conn.loop.call_soon_threadsafe(conn.queue.put_nowait, json.dumps(envelope))
        return str(envelope.get("envelope_id", ""))

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's `disconnect` message (the client should open a new connection)."""
        self.socket_send({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}})

    def socket_close(self) -> None:
        """Close the newest connection from the server side, without warning."""
        conn = self._latest_conn()
        conn.loop.call_soon_threadsafe(conn.queue.put_nowait, None)

    def socket_sent(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._socket_sent)

    def socket_acks(self) -> list[dict[str, Any]]:
        """Messages the client sent back that carry an envelope_id (acks), oldest first."""
        with self._cond:
            return [m for m in self._socket_received if "envelope_id" in m]

    def _ack_for(self, envelope_id: str) -> dict[str, Any] | None:
        return next((m for m in self.socket_acks() if m.get("envelope_id") == envelope_id), None)

    def _socket_dump(self) -> str:
        with self._cond:
            return (
                f"sent: {json.dumps(self._socket_sent)[:1500]}\n"
                f"received: {json.dumps(self._socket_received)[:1500]}\n"
                f"open connections: {len(self._conns)}, ever: {self.socket_connection_count}"
            )

    def wait_for_socket_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Block until the client acks `envelope_id`; returns the ack (with `payload` if any)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (ack := self._ack_for(envelope_id)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no ack for envelope {envelope_id} within {timeout}s\n"
                        + self._socket_dump()
                    )
                self._cond.wait(remaining)
            return ack

    async def async_wait_for_socket_ack(
        self, envelope_id: str, timeout: float = 5.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (ack := self._ack_for(envelope_id)) is None:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no ack for envelope {envelope_id} within {timeout}s\n" + self._socket_dump()
                )
            await asyncio.sleep(0.01)
        return ack

    def _connected(self, count: int) -> bool:
        return bool(self._conns) and self.socket_connection_count >= count

    def wait_for_socket_connection(self, timeout: float = 5.0, *, count: int = 1) -> None:
        """Block until a connection is open and `count` have been accepted in total
        (count=2 after socket_disconnect() waits for the reconnection)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._connected(count):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no Socket Mode connection #{count} within {timeout}s\n"
                        + self._socket_dump()
                        + "\n"
                        + self.dump()
                    )
                self._cond.wait(remaining)

    async def async_wait_for_socket_connection(
        self, timeout: float = 5.0, *, count: int = 1
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if self._connected(count):
                    return
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no Socket Mode connection #{count} within {timeout}s\n"
                    + self._socket_dump()
                    + "\n"
                    + self.dump()
                )
            await asyncio.sleep(0.01)

"""Everything numbot sends to Slack leaves through here: redacted, and retried on Slack's limits.

- `RedactingWebClient`: every Web API call (cards, DMs, modals, Home) has `redact` applied to
  every string it carries, the same redaction that guards logs and SQLite, so a secret that
  Flowyte echoed in an error cannot reach a channel.
- `SafeRespond`: bolt's `respond` (a fresh webhook client per reply, with no 429 retry) with
  the same redaction and numbot's retry handlers.
- `SlackPacer` (bot/slack/pace.py): Web API calls within Slack's rate limits, background
  work held back, people never.
- `SlackConnections`: one aiohttp session, so one bounded pool of kept-alive connections,
  for both. slack_sdk and bolt open a new session (a new connection, a new TLS handshake on
  the real Slack) for every call and every reply that is not given one: that was a quarter
  of numbot's CPU per search.

One client serves every request: bolt would build a new one per request only to guard
against listeners that swap its token, which numbot never does.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from slack_sdk.webhook.webhook_response import WebhookResponse

from bot.kernel.redact import scrub
from bot.slack.pace import SlackPacer
from bot.slack.retry import slack_retry_handlers

# Connections to Slack at once for work no person is waiting on (the sweep's cards, reminders
# and digests, Home refreshes, events), on top of one for each command or click numbot works
# on at once (NUMBOT_MAX_IN_FLIGHT): past the total, a call waits for one to free up (within
# its timeout) instead of opening more sockets under a burst. The pool is sized so that a
# reply never waits behind other replies: aiohttp gives a freed connection to whichever call
# asks next, not to the one that waited longest, so with fewer connections than replies in
# progress a waiting reply could starve until its timeout (measured at 1,000 searches/s with
# a pool of 64: 46 people got "something went wrong" instead of their results).
BACKGROUND_SLACK_CONNECTIONS = 64


def slack_connection_limit(max_in_flight: int) -> int:
    return max_in_flight + BACKGROUND_SLACK_CONNECTIONS


class SlackConnections:
    """The session every call to Slack shares, made on first use inside the running loop
    (aiohttp binds a session to its loop) and made again if that loop has changed."""

    def __init__(self, *, timeout: float, limit: int) -> None:
        self.timeout = timeout
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                # What slack_sdk gives the session it makes per call: the whole call's limit.
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self.limit),
            )
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


class SlackObserver(Protocol):
    """Told how each Web API call made with the bot token went (bot/ops/health.py's
    SlackStatus): for /healthz and the last-contact metric."""

    def answered(self) -> None: ...
    def refused(self, error: str) -> None: ...
    def unreachable(self, why: str) -> None: ...


class RedactingWebClient(AsyncWebClient):  # type: ignore[misc]
    observer: SlackObserver | None = None

    def __init__(
        self,
        *,
        connections: SlackConnections | None = None,
        pacer: SlackPacer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.connections = connections
        self.pacer = pacer

    async def api_call(  # type: ignore[override]
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        if self.pacer is not None:
            await self.pacer.wait(api_method, channel=_channel_of(json, data, params))
        if self.connections is not None:
            self.session = self.connections.session()
        call = super().api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=_content(data) if isinstance(data, dict) else data,
            params=_content(params),
            json=_content(json),
            headers=headers,
            auth=auth,
        )
        # A call made with another credential (apps.connections.open sends the app token)
        # says nothing about the bot token.
        fields = [f for f in (data, params, json) if isinstance(f, dict)]
        own_token = auth is None and not any("token" in f for f in fields)
        if self.observer is None or not own_token:
            return await call
        observer = self.observer
        try:
            response = await call
        except SlackApiError as exc:
            observer.refused(str(exc.response.get("error") or ""))
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            observer.unreachable(type(exc).__name__)
            raise
        observer.answered()
        return response


def _channel_of(*places: Any) -> str | None:
    for fields in places:
        if isinstance(fields, dict) and isinstance(fields.get("channel"), str):
            return str(fields["channel"])
    return None


def _content(fields: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a call says, redacted; a `token` argument (apps.connections.open sends the app
    token that way) is a credential for Slack itself and goes as it is."""
    if fields is None:
        return None
    return {k: v if k == "token" else scrub(v) for k, v in fields.items()}


class SafeRespond(AsyncRespond):  # type: ignore[misc]
    """bolt's respond, redacted and retried, over the shared connections; same call
    signature."""

    def __init__(self, *, response_url: str, connections: SlackConnections | None = None) -> None:
        super().__init__(response_url=response_url)
        self.connections = connections

    async def __call__(  # type: ignore[override]
        self, text: str | dict[str, Any] = "", **fields: Any
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(text=text, **fields)
        session = self.connections.session() if self.connections is not None else None
        client = AsyncWebhookClient(
            url=self.response_url, session=session, retry_handlers=slack_retry_handlers()
        )
        return await client.send_dict(scrub(message))


class DirectRespond:
    """`respond` where Slack gives no response_url (a button on App Home or in a modal): the
    reply goes to the person's DM with numbot, through the redacting client. Whether it is
    ephemeral or replaces the original means nothing there, so only the message is sent."""

    def __init__(self, client: AsyncWebClient, user_id: str) -> None:
        self.client = client
        self.user_id = user_id

    async def __call__(self, text: str = "", **fields: Any) -> AsyncSlackResponse:
        message = {"text": text, **{k: v for k, v in fields.items() if k == "blocks"}}
        return await self.client.chat_postMessage(channel=self.user_id, **message)

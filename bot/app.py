"""Wiring: build the Flowyte client, storage, service, Slack app and ASGI server from settings.

    app = create_app(settings, service=service, client=client)

No module-level singletons: everything is built from Settings, so tests and the demo
build their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import handlers
from bot.flowyte.client import FlowyteClient
from bot.ingress import SlackIngress
from bot.policy_file import PolicySource
from bot.ports import Notifier
from bot.redact import register_secret
from bot.sandbox import SandboxFlowyte
from bot.settings import Settings
from bot.slack_out import DirectRespond, RedactingWebClient, SafeRespond
from bot.slack_pace import background_calls
from bot.storage_runner import Storage
from bot.workflow import NumbersService, Timing
from bot.workflow.approvers import ApproverSet
from bot.workload import Workload
from handlers.directory import SlackDirectory
from handlers.notifier import SlackNotifier
from storage.audit import AuditKeyError
from storage.db import connect

logger = logging.getLogger(__name__)

SANDBOX_BASE_URL = "http://sandbox.flowyte.invalid/api/v1"
SANDBOX_KEY = "flowyte_sk_sandbox"
SLACK_TIMEOUT_SECONDS = 10
MIN_SWEEP_PAUSE = 0.2  # seconds; a sweep with work still due yields this long between passes


def build_flowyte(settings: Settings) -> FlowyteClient:
    """The real API when a key is set; otherwise the in-process sandbox."""
    seconds = settings.NUMBOT_FLOWYTE_TIMEOUT
    timeout = httpx.Timeout(seconds, connect=min(3.0, seconds))
    if settings.FLOWYTE_API_KEY is None:
        transport = httpx.ASGITransport(app=SandboxFlowyte().asgi())
        return FlowyteClient.connect(
            SANDBOX_BASE_URL, SANDBOX_KEY, transport=transport, timeout=timeout
        )
    return FlowyteClient.connect(
        settings.FLOWYTE_BASE_URL, settings.FLOWYTE_API_KEY.get_secret_value(), timeout=timeout
    )


def build_slack_client(settings: Settings) -> RedactingWebClient:
    """The Web API client for the notifier, the listeners (bolt copies its retry handlers
    into each request's client) and Socket Mode: 429s and dropped connections are retried."""
    from bot.slack_out import SlackConnections
    from bot.slack_pace import SlackPacer
    from bot.slack_retry import slack_retry_handlers

    token = settings.SLACK_BOT_TOKEN.get_secret_value() if settings.SLACK_BOT_TOKEN else None
    return RedactingWebClient(
        connections=SlackConnections(timeout=SLACK_TIMEOUT_SECONDS),
        pacer=SlackPacer(),
        token=token,
        base_url=settings.SLACK_API_URL,
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=slack_retry_handlers(),
    )


def build_storage(settings: Settings) -> Storage:
    """The database, with the audit key checked against the log before anything is served."""
    key = settings.audit_key()
    storage = Storage(connect(settings.NUMBOT_DB), key)
    try:
        storage.audit.check_key()
    except AuditKeyError:
        storage.close()
        raise
    return storage


def timing_for(settings: Settings, flowyte: FlowyteClient) -> Timing:
    grace = min(3.0, settings.NUMBOT_FLOWYTE_TIMEOUT)
    # After this long unchanged, no Flowyte call numbot made for a request can still be
    # running: the longest any one call can take (retries and pages included), and a margin.
    return Timing(
        quiet=flowyte.max_call_seconds + 2.0,
        grace=grace,
        remind_minutes=settings.NUMBOT_REMIND_MINUTES,
    )


def build_policies(settings: Settings) -> PolicySource:
    """The policy in force: NUMBOT_POLICY as read at start, then again whenever it changes."""
    return PolicySource(settings.NUMBOT_POLICY, settings.policy())


def build_approvers(
    settings: Settings, client: AsyncWebClient | None, policies: PolicySource | None = None
) -> ApproverSet:
    """NUMBOT_APPROVERS and the policy's people, and its user groups read through Slack."""
    directory = SlackDirectory(client) if client is not None else None
    policies = policies or build_policies(settings)
    approvers = ApproverSet.for_policy(policies.current(), settings.NUMBOT_APPROVERS, directory)
    return approvers.follow(policies.current, settings.NUMBOT_APPROVERS)


def build_service(
    settings: Settings,
    *,
    notifier: Notifier | None,
    approvers: ApproverSet | None = None,
    policies: PolicySource | None = None,
) -> NumbersService:
    for secret in settings.secrets():
        register_secret(secret)
    storage = build_storage(settings)
    flowyte = build_flowyte(settings)
    policies = policies or build_policies(settings)
    return NumbersService(
        flowyte=flowyte,
        storage=storage,
        approvers=approvers or build_approvers(settings, None, policies),
        notifier=notifier,
        sandbox=settings.sandbox,
        timing=timing_for(settings, flowyte),
        digest_hour=settings.NUMBOT_DIGEST_HOUR,
        policy=policies.current,
    )


def create_app(
    settings: Settings,
    *,
    service: NumbersService,
    client: AsyncWebClient | None = None,
    verify_signatures: bool = True,
    workload: Workload | None = None,
) -> AsyncApp:
    """The bolt app: verifies Slack's signature, injects `service`, routes to handlers.

    `verify_signatures=False` when the caller has verified every request before it reaches
    bolt, as `create_asgi`'s ingress does. `workload`, when given, bounds the commands and
    clicks worked on at once (handlers/errors.py answers the rest "busy").
    """
    client = client or build_slack_client(settings)
    secret = (
        settings.SLACK_SIGNING_SECRET.get_secret_value() if settings.SLACK_SIGNING_SECRET else None
    )
    app = AsyncApp(
        client=client,
        signing_secret=secret or "unused-in-socket-mode",
        # Socket Mode goes without signatures (the websocket is authenticated instead).
        request_verification_enabled=verify_signatures and not settings.socket_mode,
        logger=logging.getLogger("numbot.slack"),
    )

    @app.middleware
    async def inject_service(
        context: Any, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> None:
        context["service"] = service
        context["workload"] = workload
        # What listeners send goes out redacted and retried (bot/slack_out.py).
        context["client"] = client
        if context.response_url:
            context["respond"] = SafeRespond(
                response_url=context.response_url, connections=getattr(client, "connections", None)
            )
        elif context.user_id and (body.get("view") or {}).get("type") == "home":
            context["respond"] = DirectRespond(client, context.user_id)  # App Home has none
        await next()

    handlers.register(app)
    return app


@dataclass
class Runtime:
    settings: Settings
    service: NumbersService
    client: AsyncWebClient
    app: AsyncApp

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        client = build_slack_client(settings)
        policies = build_policies(settings)
        approvers = build_approvers(settings, client, policies)
        notifier = SlackNotifier(
            client,
            approval_channel=settings.NUMBOT_APPROVAL_CHANNEL or "",
            sandbox=settings.sandbox,
            approvers=approvers,
        )
        service = build_service(settings, notifier=notifier, approvers=approvers, policies=policies)
        # HTTP requests reach this app only through create_asgi's ingress, which verifies
        # them before parsing anything and re-encodes form bodies (bolt's own check of the
        # re-encoded body would fail); Socket Mode needs no signature.
        app = create_app(
            settings,
            service=service,
            client=client,
            verify_signatures=False,
            workload=Workload(settings.NUMBOT_MAX_IN_FLIGHT),
        )
        return cls(settings, service, client, app)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Resume unfinished requests, sweep expired holds, and close cleanly."""
        self.service.homes.start()  # App Home redraws, from the first move on
        sweeper = asyncio.create_task(self._sweep(), name="numbot-sweeper")
        scopes = asyncio.create_task(self._check_scopes(), name="numbot-scopes")
        groups = asyncio.create_task(self._read_groups(), name="numbot-usergroups")
        await self._prime_authorization()
        gc.collect()
        gc.freeze()  # startup objects: never scanned by full collections during a burst
        try:
            yield
        finally:
            sweeper.cancel()
            scopes.cancel()
            groups.cancel()
            await asyncio.gather(sweeper, scopes, groups, return_exceptions=True)
            await self.service.homes.aclose()
            await self.service.flowyte.aclose()
            if isinstance(self.client, RedactingWebClient) and self.client.connections:
                await self.client.connections.aclose()
            self.service.storage.close()

    async def _check_scopes(self) -> None:
        """At start: name any scope numbot's Flowyte key lacks (cheap calls that change
        nothing), in the log and in the approval channel, before someone trips over it."""
        try:
            check = await self.service.flowyte.check_scopes()
        except Exception:
            logger.exception("could not check the Flowyte key's scopes")
            return
        for scope, why in check.unchecked.items():
            logger.warning("could not check the Flowyte key's scope %s: %s", scope, why)
        if check.missing:
            names = ", ".join(check.missing)
            logger.error(
                "numbot's Flowyte key lacks the scope(s) %s: the commands that need them will "
                "fail until the key is replaced by one with every scope in README.md",
                names,
            )
            await self.service.alert(
                f":warning: numbot's Flowyte key lacks the scope(s) {names}. Some commands will "
                "fail until your numbot admin issues a key with them (README: Settings)."
            )
        else:
            logger.info("Flowyte key scopes checked: none missing")

    async def _read_groups(self) -> None:
        """At start: read each approver group once, so a missing usergroups:read scope or a
        wrong group id is in the log before anyone clicks."""
        approvers = self.service.ctx.approvers
        if approvers.groups:
            people = await approvers.everyone()  # logs each group it cannot read
            logger.info(
                "approvers at start: %d, groups %s", len(people), ", ".join(approvers.groups)
            )

    async def _prime_authorization(self) -> None:
        """One auth.test at start, so a burst right after start does not make one each.

        bolt caches auth.test only once the first answer is back; it keeps its own fallback
        (one call per request) if this fails.
        """
        from slack_bolt.middleware.authorization.async_single_team_authorization import (
            AsyncSingleTeamAuthorization,
        )

        for middleware in self.app._async_middleware_list:
            if (
                isinstance(middleware, AsyncSingleTeamAuthorization)
                and middleware.auth_test_result is None
            ):
                try:
                    middleware.auth_test_result = await self.client.auth_test()
                except Exception:
                    logger.warning("auth.test at start failed; bolt will call it per request")

    async def _sweep(self) -> None:
        """At start, then as soon as work falls due (and at least every NUMBOT_SWEEP_SECONDS):
        settle what is left half-done. After a restart, an interrupted purchase is taken up
        the moment its quiet window has passed, not at the next round tick. What it sends to
        Slack is background work: paced, and never at the expense of people's clicks."""
        with background_calls():
            await self._sweep_forever()

    async def _sweep_forever(self) -> None:
        while True:
            wait = self.settings.NUMBOT_SWEEP_SECONDS
            try:
                count = await self.service.resume()
                if count:
                    logger.info("settled %d unfinished request(s)", count)
                wait = min(wait, await self.service.next_due())
            except Exception:
                logger.exception("settling unfinished requests failed")
            await asyncio.sleep(max(MIN_SWEEP_PAUSE, wait))


def create_asgi(runtime: Runtime) -> Starlette:
    """HTTP mode: POST /slack/events through the ingress to bolt; GET /healthz."""
    secret = runtime.settings.SLACK_SIGNING_SECRET
    if secret is None:  # Settings refuse to start HTTP mode without it
        raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET")
    ingress = SlackIngress(runtime.app, secret.get_secret_value())

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "sandbox": runtime.settings.sandbox})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    return Starlette(
        routes=[
            Route("/slack/events", ingress.handle, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )

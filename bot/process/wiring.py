"""Wiring: build the Flowyte client, storage, service and Slack app from settings (the running
process that holds them, and its ASGI app, are bot/process/runtime.py's).

    app = create_app(settings, service=service, client=client)

No module-level singletons: everything is built from Settings, so tests and the demo
build their own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.config.policy_file import PolicySource
from bot.config.settings import Settings
from bot.flowyte.client import FlowyteClient
from bot.kernel.ports import Notifier
from bot.kernel.redact import register_secret
from bot.ops.workload import Workload
from bot.sandbox import SandboxFlowyte
from bot.slack.bolt_app import NumbotApp, RequestObserver
from bot.slack.outbound import DirectRespond, RedactingWebClient, SafeRespond, SlackObserver
from bot.workflow import NumbersService, Timing
from bot.workflow.approvers import ApproverSet
from bot.workflow.storage_runner import Storage
from handlers.directory import SlackDirectory
from storage.audit import AuditKeyError
from storage.db import connect
from storage.roles import can_alter_audit

logger = logging.getLogger(__name__)

SANDBOX_BASE_URL = "http://sandbox.flowyte.invalid/api/v1"
SANDBOX_KEY = "flowyte_sk_sandbox"
SLACK_TIMEOUT_SECONDS = 10


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


def build_slack_client(
    settings: Settings, observer: SlackObserver | None = None
) -> RedactingWebClient:
    """The Web API client for the notifier, the listeners (bolt copies its retry handlers
    into each request's client) and Socket Mode: 429s and dropped connections are retried,
    one pool of connections serves every call and background calls are paced.
    `observer` hears how each call made with the bot token went (for /healthz)."""
    from bot.slack.outbound import SlackConnections, slack_connection_limit
    from bot.slack.pace import SlackPacer
    from bot.slack.retry import slack_retry_handlers

    token = settings.SLACK_BOT_TOKEN.get_secret_value() if settings.SLACK_BOT_TOKEN else None
    client = RedactingWebClient(
        connections=SlackConnections(
            timeout=SLACK_TIMEOUT_SECONDS,
            limit=slack_connection_limit(settings.NUMBOT_MAX_IN_FLIGHT),
        ),
        pacer=SlackPacer(),
        token=token,
        base_url=settings.SLACK_API_URL,
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=slack_retry_handlers(),
    )
    client.observer = observer
    return client


def build_storage(settings: Settings) -> Storage:
    """The database, with the audit key checked against the log before anything is served."""
    key = settings.audit_key()
    logger.info("database: %s", settings.database_label())
    storage = Storage(connect(settings.database()), key)
    try:
        storage.audit.check_key()
    except AuditKeyError:
        storage.close()
        raise
    if can_alter_audit(storage.db):
        logger.warning(
            "numbot's database role owns the audit table (or is a superuser), so it could "
            "drop the log's append-only triggers: run `numbot migrate --grant-to ROLE` as the "
            "owner and numbot as ROLE (docs: operations, PostgreSQL roles)"
        )
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
    approvers = ApproverSet.for_policy(
        policies.current(),
        settings.NUMBOT_APPROVERS,
        directory,
        max_age=3 * settings.NUMBOT_USERGROUP_REFRESH_SECONDS,
    )
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
        owned_refresh_minutes=settings.NUMBOT_OWNED_REFRESH_MINUTES,
        runway_alert_days=settings.NUMBOT_RUNWAY_ALERT_DAYS,
        wallet_look_minutes=settings.NUMBOT_WALLET_LOOK_MINUTES,
    )


def create_app(
    settings: Settings,
    *,
    service: NumbersService,
    client: AsyncWebClient | None = None,
    verify_signatures: bool = True,
    observer: RequestObserver | None = None,
    workload: Workload | None = None,
) -> AsyncApp:
    """The bolt app: verifies Slack's signature, injects `service`, routes to handlers.

    `verify_signatures=False` when the caller has verified every request before it reaches
    bolt, as `create_asgi`'s ingress does. `observer` hears of every request (metrics).
    `workload`, when given, bounds the commands and clicks worked on at once
    (handlers/errors.py answers the rest "busy").
    """
    client = client or build_slack_client(settings)
    secret = (
        settings.SLACK_SIGNING_SECRET.get_secret_value() if settings.SLACK_SIGNING_SECRET else None
    )
    app = NumbotApp(
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
        # What listeners send goes out redacted and retried (bot/slack/outbound.py).
        context["client"] = client
        if context.response_url:
            context["respond"] = SafeRespond(
                response_url=context.response_url, connections=getattr(client, "connections", None)
            )
        elif context.user_id:
            # No response_url (a button on App Home or in a modal, a form submitted): a reply
            # goes to the person's DM rather than raising inside bolt and telling nobody.
            context["respond"] = DirectRespond(client, context.user_id)
        await next()

    app.observer = observer
    handlers.register(app)
    return app

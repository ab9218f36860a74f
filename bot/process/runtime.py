"""The running process: everything `numbot run` builds from settings, its background work
(sweep, lease, scope check, owned-number refresh, token watch, the loop's lag) and the ASGI
app for HTTP mode.

    runtime = Runtime.build(settings)
    asyncio.run(runtime.check_slack())
    uvicorn.run(create_asgi(runtime), ...)      # bot/process/serve.py
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.routing import Route

from bot.config.settings import Settings
from bot.ops.health import Health, SlackStatus
from bot.ops.loop_lag import watch_loop_lag
from bot.ops.metrics import Metrics
from bot.ops.web import observe_routes
from bot.ops.workload import Workload
from bot.process.observe import build_health, build_metrics
from bot.process.sweep_lease import SweepLease
from bot.process.wiring import (
    build_approvers,
    build_policies,
    build_service,
    build_slack_client,
    create_app,
)
from bot.slack.auth import check_token, watch_token
from bot.slack.ingress import SlackIngress
from bot.slack.outbound import RedactingWebClient
from bot.slack.pace import background_calls
from bot.workflow import NumbersService
from handlers.notifier import SlackNotifier

logger = logging.getLogger(__name__)

MIN_SWEEP_PAUSE = 0.2  # seconds; a sweep with work still due yields this long between passes
SANDBOX_LEASE_SECONDS = 30.0  # one sandbox process per database (claim_sandbox)
POLICY_LOOK = 2.0  # seconds between two looks at the policy file


@dataclass
class Runtime:
    settings: Settings
    service: NumbersService
    client: AsyncWebClient
    app: AsyncApp
    health: Health
    metrics: Metrics
    auth_answer: Any = None  # auth.test's answer at start (check_slack), for bolt
    workload: Workload | None = None  # commands and clicks in progress, and the loop's lag
    sandbox_lease: SweepLease | None = None  # the sandbox's database, held (claim_sandbox)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        slack_status = SlackStatus()
        client = build_slack_client(settings, slack_status)
        policies = build_policies(settings)
        approvers = build_approvers(settings, client, policies)
        notifier = SlackNotifier(
            client,
            approval_channel=settings.NUMBOT_APPROVAL_CHANNEL or "",
            sandbox=settings.sandbox,
            approvers=approvers,
            notify=settings.NUMBOT_NOTIFY,
            digest_channel=settings.NUMBOT_DIGEST_CHANNEL,
        )
        service = build_service(settings, notifier=notifier, approvers=approvers, policies=policies)
        metrics = build_metrics(service, slack_status)
        workload = Workload(
            settings.NUMBOT_MAX_IN_FLIGHT,
            max_lag=settings.max_loop_lag,
            on_turned_away=metrics.turned_away,
        )
        metrics.workload(lambda: workload.in_flight, lambda: workload.lag)
        # HTTP requests reach this app only through create_asgi's ingress, which verifies
        # them before parsing anything and re-encodes form bodies (bolt's own check of the
        # re-encoded body would fail); Socket Mode needs no signature.
        app = create_app(
            settings,
            service=service,
            client=client,
            verify_signatures=False,
            observer=metrics,
            workload=workload,
        )
        health = build_health(settings, slack_status)
        if settings.socket_mode:
            metrics.socket_mode(lambda: health.socket.up)
        return cls(settings, service, client, app, health, metrics, workload=workload)

    async def check_slack(self) -> None:
        """auth.test before serving: raises TokenRejected if Slack refuses the bot token;
        a Slack that cannot be reached is a warning (bot/slack/auth.py). It runs in a loop
        of its own, before serving: the connections it opened end with it."""
        try:
            self.auth_answer = await check_token(self.client, self.health.slack)
        finally:
            await self._close_slack_connections()

    async def _close_slack_connections(self) -> None:
        if isinstance(self.client, RedactingWebClient) and self.client.connections:
            await self.client.connections.aclose()

    async def claim_sandbox(self) -> str | None:
        """On the sandbox, whose state lives in this process's memory, only one numbot may
        run on a database: a hold made through one could not be bought through another.
        None when this process may run; else who holds the database already."""
        if not self.settings.sandbox:
            return None
        if self.sandbox_lease is None:
            self.sandbox_lease = SweepLease(
                self.service.storage,
                name="sandbox",
                seconds=SANDBOX_LEASE_SECONDS,
                doing="runs the sandbox on this database",
            )
        lease = self.sandbox_lease
        deadline = time.monotonic() + SANDBOX_LEASE_SECONDS + 2
        while True:
            if await lease.try_once():
                return None
            holder = await lease.holder_elsewhere() or "another process"
            if holder_is_alive_here(holder) or time.monotonic() > deadline:
                return holder
            # A holder that is not a live process on this machine (one killed with -9, or on
            # another host) keeps its lease until it lapses: a supervisor's restart waits for
            # that rather than being refused for good.
            logger.info(
                "the sandbox lease is held by %s; waiting up to %.0fs for it to lapse",
                holder,
                max(0.0, deadline - time.monotonic()),
            )
            await asyncio.sleep(1.0)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Resume unfinished requests, sweep expired holds, and close cleanly."""
        sandbox = (
            asyncio.create_task(self.sandbox_lease.keep(), name="numbot-sandbox-lease")
            if self.sandbox_lease is not None
            else None
        )
        policy = asyncio.create_task(self._watch_policy(), name="numbot-policy")
        self.service.homes.start()  # App Home redraws, from the first move on
        self.service.ctx.background = background_calls  # approvers' copies wait their turn
        self.service.painter.start()  # cards redrawn in the background: money never waits
        lease = SweepLease(self.service.storage)
        keeper = asyncio.create_task(lease.keep(), name="numbot-sweep-lease")
        sweeper = asyncio.create_task(self._sweep(lease), name="numbot-sweeper")
        scopes = asyncio.create_task(self._check_scopes(), name="numbot-scopes")
        owned = asyncio.create_task(self._keep_owned_fresh(), name="numbot-owned")
        groups = asyncio.create_task(self._read_groups(), name="numbot-usergroups")
        lag = asyncio.create_task(self._watch_lag(), name="numbot-loop-lag")
        token = asyncio.create_task(
            watch_token(self.client, self.health.slack, self._set_authorization),
            name="numbot-token",
        )
        await self._prime_authorization()
        gc.collect()
        gc.freeze()  # startup objects: never scanned by full collections during a burst
        try:
            yield
        finally:
            tasks = [sweeper, keeper, scopes, groups, token, owned, lag, policy]
            if sandbox is not None:
                tasks.append(sandbox)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.sandbox_lease is not None:
                await self.sandbox_lease.release()
            await self.service.owned.aclose()
            await self.service.sweep.aclose()  # looks still reading Flowyte
            await self.service.spend_book.aclose()  # a usage read under way
            await lease.release()  # another process takes the sweep over at once
            await self.service.homes.aclose()
            await self.service.painter.aclose()
            await self.service.flowyte.aclose()
            await self._close_slack_connections()
            self.service.storage.close()

    async def _watch_policy(self) -> None:
        """Look at the policy file every POLICY_LOOK seconds, so an edit is taken (or refused)
        and logged within seconds, not at the next click."""
        while True:
            await asyncio.sleep(POLICY_LOOK)
            self.service.ctx.policies()

    async def _watch_lag(self) -> None:
        if self.workload is not None:
            await watch_loop_lag(self.workload.note_lag)

    async def _keep_owned_fresh(self) -> None:
        """The owned-number index, read from Flowyte at start and every
        NUMBOT_OWNED_REFRESH_MINUTES, by one process at a time (bot/workflow/owned.py). Background
        work: its calls never take the place of people's."""
        with background_calls():
            await self.service.owned.keep_fresh()

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
                "fail until the key is replaced by one with every scope in docs/configuration.md",
                names,
            )
            await self.service.alert(
                f":warning: numbot's Flowyte key lacks the scope(s) {names}. Some commands will "
                "fail until your numbot admin issues a key with them (docs/configuration.md)."
            )
        elif check.unchecked:
            logger.warning(
                "Flowyte key scopes: none found missing, %d could not be checked (above)",
                len(check.unchecked),
            )
        else:
            logger.info("Flowyte key scopes checked: none missing")

    async def _read_groups(self) -> None:
        """At start: read each approver group once, so a missing usergroups:read scope or a
        wrong group id is in the log before anyone clicks; then keep them fresh in the
        background, so no click (and no purchase) waits on Slack to list a group."""
        approvers = self.service.ctx.approvers
        with background_calls():
            if approvers.groups:
                people = await approvers.everyone()  # logs each group it cannot read
                logger.info(
                    "approvers at start: %d, groups %s", len(people), ", ".join(approvers.groups)
                )
            await approvers.keep_fresh(read_first=not approvers.groups)

    async def _prime_authorization(self) -> None:
        """One auth.test at start, so a burst right after start does not make one each.

        bolt caches auth.test only once the first answer is back; it keeps its own fallback
        (one call per request) until watch_token gets an answer, if this fails.
        """
        if self.auth_answer is None:
            try:
                self.auth_answer = await check_token(self.client, self.health.slack)
            except Exception:
                logger.warning("auth.test at start failed; bolt will call it per request")
        if self.auth_answer is not None:
            self._set_authorization(self.auth_answer)

    def _set_authorization(self, answer: Any) -> None:
        from slack_bolt.middleware.authorization.async_single_team_authorization import (
            AsyncSingleTeamAuthorization,
        )

        for middleware in self.app._async_middleware_list:
            if (
                isinstance(middleware, AsyncSingleTeamAuthorization)
                and middleware.auth_test_result is None
            ):
                middleware.auth_test_result = answer

    async def _sweep(self, lease: SweepLease) -> None:
        """At start, then as soon as work falls due (and at least every NUMBOT_SWEEP_SECONDS):
        settle what is left half-done. After a restart, an interrupted purchase is taken up
        the moment its quiet window has passed, not at the next round tick. What it sends to
        Slack is background work: paced, and never at the expense of people's clicks. Only the
        process that holds the sweep lease sweeps (bot/process/sweep_lease.py); the others wait for it."""
        with background_calls():
            await self._sweep_forever(lease)

    async def _sweep_forever(self, lease: SweepLease) -> None:
        while True:
            wait = self.settings.NUMBOT_SWEEP_SECONDS
            if not await lease.wait_leading(wait):
                continue
            started = time.monotonic()
            try:
                count = await self.service.resume(looks_in_background=True)
                if count:
                    logger.info("settled %d unfinished request(s)", count)
                wait = min(wait, await self.service.next_due())
            except Exception:
                logger.exception("settling unfinished requests failed")
            try:
                await self.service.bill.look()  # the wallet's runway, every few minutes
            except Exception:
                logger.exception("looking at the wallet's runway failed")
            try:
                await self.service.spend_book.keep_read()  # Flowyte's usage, in the background
            except Exception:
                logger.exception("reading Flowyte's usage failed")
            self.metrics.sweep(time.monotonic() - started)
            await asyncio.sleep(max(MIN_SWEEP_PAUSE, wait))


def holder_is_alive_here(holder: str) -> bool:
    """Whether a lease holder (`host:pid:token`, bot/process/sweep_lease.py) is a process alive on
    this machine. One on another host, or not parseable, is not known to be alive."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, run by another user
    return True


def create_asgi(runtime: Runtime) -> Starlette:
    """HTTP mode: POST /slack/events through the ingress to bolt; GET /healthz, /metrics."""
    secret = runtime.settings.SLACK_SIGNING_SECRET
    if secret is None:  # Settings refuse to start HTTP mode without it
        raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET")
    ingress = SlackIngress(runtime.app, secret.get_secret_value(), observer=runtime.metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    return Starlette(
        routes=[
            Route("/slack/events", ingress.handle, methods=["POST"]),
            *observe_routes(runtime.health, runtime.metrics),
        ],
        lifespan=lifespan,
    )

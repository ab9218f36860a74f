"""The numbers workflow: everything that decides, against the request's state in SQLite.

    handlers -> NumbersService -> Catalogue   reads: search, wallet, owned numbers
                               -> Filing      hold, request, card, approvers told, expire
                               -> Decisions   approve, reject (four-eyes, compare-and-set)
                               -> Executor    carry out an approval once; settle unknowns
                               -> Retry       try again after a short wallet (402)
                               -> Routing     assign, unassign, publish, import
                               -> Bill        the wallet's runway, idle numbers
                               -> SpendBook   months of spend, Flowyte's usage read behind
                               -> OwnedBook   the index of owned numbers, kept fresh
                               -> Sweep       finish what was left half-done, by due time
                               -> HoldList    a person's own holds and waiting requests
                               -> Digests     the daily digest, claimed once, then posted
                               -> HomeReader  what one person's App Home shows
                               -> HomeRefresher  redraw Home for whom a move concerns

Pure decisions live apart and are tested alone: `authority` (what may a spend do, by the sealed record?),
`evidence` (what do Flowyte's answers prove?), `sentences` (what to say). The service
reaches people only through a `Notifier` (bot/kernel/ports.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.flowyte.client import FlowyteClient
from bot.kernel.home import Home
from bot.kernel.outcomes import AlreadyHeld, Decided, Held, Refused, Requested
from bot.kernel.ports import MoveObserver, Notifier
from bot.workflow.approvers import ApproverSet
from bot.workflow.bill import DEFAULT_ALERT_DAYS, LOOK_EVERY, Bill
from bot.workflow.catalogue import Catalogue
from bot.workflow.context import Context, Timing, utcnow
from bot.workflow.decisions import Decisions
from bot.workflow.digest import Digests
from bot.workflow.execution import Executor
from bot.workflow.filing import Filing
from bot.workflow.holds import HoldList
from bot.workflow.home import AGENTS_MAX_AGE, HomeReader
from bot.workflow.home_refresh import HomeRefresher, concerned
from bot.workflow.owned import OwnedBook
from bot.workflow.painter import Painter
from bot.workflow.policy import NO_POLICY, Policy
from bot.workflow.retry import Retry
from bot.workflow.routing import Routing
from bot.workflow.spend import SpendBook
from bot.workflow.storage_runner import Storage
from bot.workflow.sweep import Sweep
from storage.requests import Request

logger = logging.getLogger(__name__)

__all__ = ["NumbersService", "Timing"]


class NumbersService:
    """One object for the handlers to hold; each method belongs to one of the parts above."""

    def __init__(
        self,
        *,
        flowyte: FlowyteClient,
        storage: Storage,
        approvers: ApproverSet | frozenset[str] | set[str] | tuple[str, ...],
        notifier: Notifier | None = None,
        sandbox: bool = False,
        clock: Callable[[], datetime] = utcnow,
        timing: Timing | None = None,
        digest_hour: int | None = None,
        policy: Policy | Callable[[], Policy] | None = None,
        owned_refresh_minutes: float = 15.0,
        runway_alert_days: int = DEFAULT_ALERT_DAYS,
        wallet_look_minutes: float = LOOK_EVERY.total_seconds() / 60,
    ) -> None:
        """`digest_hour`: the UTC hour after which yesterday's digest is posted (None: never).
        `policy`: the spend policy, or where to get the one in force at each use
        (bot/config/policy_file.py PolicySource, which follows the file)."""
        self.ctx = Context(
            flowyte=flowyte,
            storage=storage,
            approvers=(approvers if isinstance(approvers, ApproverSet) else ApproverSet(approvers)),
            notifier=notifier,
            sandbox=sandbox,
            clock=clock,
            timing=timing or Timing(),
            policies=policy if callable(policy) else (lambda: policy or NO_POLICY),
        )
        self.owned = OwnedBook(self.ctx, refresh_minutes=owned_refresh_minutes)
        catalogue = self.catalogue = Catalogue(self.ctx, self.owned)
        routing = Routing(self.ctx, self.owned, on_change=self._agents_changed)
        self.executor = Executor(self.ctx, catalogue.agents)  # a fresh read, shared after
        self.filing = Filing(self.ctx, routing.resolve)
        self.decisions = Decisions(self.ctx, self.executor, self.filing)
        self.retry = Retry(self.ctx, self.executor, self.filing).retry
        self.digests = Digests(self.ctx, digest_hour)
        self.sweep = Sweep(self.ctx, self.filing, self.executor, self.digests)
        self.bill = Bill(
            self.ctx,
            lambda: catalogue.agents_or_none(max_age=AGENTS_MAX_AGE),
            alert_days=runway_alert_days,
            look_every=timedelta(minutes=wallet_look_minutes),
        )
        self.spend_book = SpendBook(self.ctx)
        self.home_reader = HomeReader(
            self.ctx,
            lambda: catalogue.agents(max_age=AGENTS_MAX_AGE),
            self.owned,
            costs=self.bill.home_costs,
            wallet_seen=self.bill.seen,
        )
        self.homes = HomeRefresher(
            self._draw_home, self._home_seen, background=lambda: self.ctx.background()
        )
        self.ctx.on_move = self._moved
        self.painter = self.ctx.painter = Painter(self.ctx.redraw)
        self.observer: MoveObserver | None = None  # told of every move (numbot's metrics)

        self.search = catalogue.search
        self.wallet = self.bill.wallet
        self.idle = self.bill.idle
        self.spend = self.spend_book.spend
        self.list_numbers = catalogue.list_numbers
        self.agents = catalogue.agents
        self.requestable = self.filing.requestable
        self.request_purchase = self.filing.request_purchase
        self.approve = self.decisions.approve
        self.reject = self.decisions.reject
        self.rejectable = self.decisions.rejectable
        self.holds = HoldList(self.ctx).holds
        self.daily_digest = self.digests.run
        self.assign = routing.assign
        self.assign_purchased = routing.assign_purchased
        self.unassign = routing.unassign
        self.publish = routing.publish
        self.import_number = routing.import_number

    @property
    def flowyte(self) -> FlowyteClient:
        return self.ctx.flowyte

    @property
    def storage(self) -> Storage:
        return self.ctx.storage

    @property
    def sandbox(self) -> bool:
        return self.ctx.sandbox

    # -- requests created (moves are seen in Context.transition) -----------------------------

    async def reserve(self, actor: str, e164: str) -> Held | AlreadyHeld | Refused:
        held = await self.filing.reserve(actor, e164)
        if isinstance(held, Held):
            self.ctx.moved(held.request)
        return held

    async def request_release(
        self, actor: str, number_ref: str, reason: str
    ) -> Requested | Refused:
        requested = await self.filing.request_release(actor, number_ref, reason)
        if isinstance(requested, Requested):
            self.ctx.moved(requested.request)
        return requested

    # -- App Home -------------------------------------------------------------------------------

    async def home(self, user: str) -> Home:
        """What `user`'s App Home shows now."""
        return await self.home_reader.read(user)

    async def home_opened(self, user: str) -> None:
        """`user` opened numbot's Home tab: remember that (their Home is redrawn when
        something changes for them from now on) and draw it."""
        await self.ctx.storage.run(self.ctx.storage.home_seen.mark, user, self.ctx.clock())
        await self.homes.now(user)

    def usergroup_changed(self, group: str, removed: list[str], added: list[str]) -> None:
        """Slack's `subteam_members_changed`: applied to the approvers at once (a removal
        takes the right away before the next read; bot/workflow/approvers.py)."""
        if self.ctx.approvers.members_changed(group, removed=removed, added=added):
            logger.info(
                "approvers' user group %s changed: %d removed (applied now), %d added",
                group,
                len(removed),
                len(added),
            )

    def _agents_changed(self) -> None:
        """A publish, or a number routed, unrouted or imported: agents and Home are read
        afresh from now on."""
        self.catalogue.forget_agents()
        self.home_reader.forget()

    def _moved(self, request: Request, from_statuses: tuple[str, ...]) -> None:
        if self.observer is not None:
            self.observer.request_moved(request.kind, request.status)
        self.home_reader.forget()
        self.homes.changed(concerned(request, from_statuses, self.ctx.approvers.known()))

    async def _draw_home(self, user: str) -> None:
        if self.ctx.notifier is None:
            return
        await self.ctx.notifier.publish_home(user, await self.home_reader.read(user))

    async def _home_seen(self, users: list[str]) -> set[str]:
        return await self.ctx.storage.run(self.ctx.storage.home_seen.among, users)

    async def request(self, request_id: str) -> Request | None:
        return await self.ctx.load(request_id)

    async def check(self, request_id: str) -> Decided | Refused | None:
        """Ask Flowyte again about a request whose outcome is unknown (tests, operators)."""
        request = await self.ctx.load(request_id)
        return await self.executor.checker.check(request) if request else None

    async def resume(self, *, looks_in_background: bool = False) -> int:
        """One sweep pass (at start and whenever work falls due); how many requests it touched.
        `looks_in_background`: looks at Flowyte go on in tasks after the pass (bot/process/runtime.py's
        sweep loop); otherwise the pass waits for each."""
        return await self.sweep.run(looks_in_background=looks_in_background)

    async def alert(self, text: str) -> None:
        """Tell the approval channel something an operator must look at."""
        await self.ctx.alert(text)

    async def next_due(self) -> float:
        return await self.sweep.next_due()

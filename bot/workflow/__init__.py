"""The numbers workflow: everything that decides, against the request's state in SQLite.

    handlers -> NumbersService -> Catalogue   reads: search, wallet, owned numbers
                               -> Lifecycle   hold, request, approve, reject, expire
                               -> Executor    carry out an approval once; settle unknowns
                               -> Routing     assign, unassign, publish, import
                               -> Sweep       finish what was left half-done, by due time
                               -> HoldList    a person's own holds and waiting requests
                               -> Digests     the daily digest, claimed once, then posted

Pure decisions live apart and are tested alone: `integrity` (is this approval real?),
`evidence` (what do Flowyte's answers prove?), `sentences` (what to say). The service
reaches people only through a `Notifier` (bot/ports.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.flowyte.client import FlowyteClient
from bot.outcomes import Decided, Refused
from bot.ports import Notifier
from bot.storage_runner import Storage
from bot.workflow.catalogue import Catalogue
from bot.workflow.context import Context, Timing, utcnow
from bot.workflow.digest import Digests
from bot.workflow.execution import Executor
from bot.workflow.holds import HoldList
from bot.workflow.lifecycle import Lifecycle
from bot.workflow.routing import Routing
from bot.workflow.sweep import Sweep
from storage.requests import Request

__all__ = ["NumbersService", "Timing"]


class NumbersService:
    """One object for the handlers to hold; each method belongs to one of the parts above."""

    def __init__(
        self,
        *,
        flowyte: FlowyteClient,
        storage: Storage,
        approvers: frozenset[str] | set[str] | tuple[str, ...],
        notifier: Notifier | None = None,
        sandbox: bool = False,
        clock: Callable[[], datetime] = utcnow,
        timing: Timing | None = None,
        digest_hour: int | None = None,
    ) -> None:
        """`digest_hour`: the UTC hour after which yesterday's digest is posted (None: never)."""
        self.ctx = Context(
            flowyte=flowyte,
            storage=storage,
            approvers=frozenset(approvers),
            notifier=notifier,
            sandbox=sandbox,
            clock=clock,
            timing=timing or Timing(),
        )
        catalogue = Catalogue(self.ctx)
        routing = Routing(self.ctx)
        self.executor = Executor(self.ctx)
        self.lifecycle = Lifecycle(self.ctx, self.executor, routing.resolve)
        self.digests = Digests(self.ctx, digest_hour)
        self.sweep = Sweep(self.ctx, self.lifecycle, self.executor, self.digests)

        self.search = catalogue.search
        self.wallet = catalogue.wallet
        self.list_numbers = catalogue.list_numbers
        self.agents = catalogue.agents
        self.reserve = self.lifecycle.reserve
        self.requestable = self.lifecycle.requestable
        self.request_purchase = self.lifecycle.request_purchase
        self.request_release = self.lifecycle.request_release
        self.approve = self.lifecycle.approve
        self.reject = self.lifecycle.reject
        self.rejectable = self.lifecycle.rejectable
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

    async def request(self, request_id: str) -> Request | None:
        return await self.ctx.load(request_id)

    async def check(self, request_id: str) -> Decided | Refused | None:
        """Ask Flowyte again about a request whose outcome is unknown (tests, operators)."""
        request = await self.ctx.load(request_id)
        return await self.executor.check(request) if request else None

    async def resume(self) -> int:
        """One sweep pass (at start and whenever work falls due); how many requests it touched."""
        return await self.sweep.run()

    async def alert(self, text: str) -> None:
        """Tell the approval channel something an operator must look at."""
        await self.ctx.alert(text)

    async def next_due(self) -> float:
        return await self.sweep.next_due()

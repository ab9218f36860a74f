"""How a request that reached Flowyte ends: bought, released, failed, or refused for want of
balance (kept for a retry). Each ending is one compare-and-set move, sealed in the audit log,
then the card, the owned-number index and the requester are told.

The Executor settles what its own call answered; the Checker (checking.py) settles what it
proved by looking again. Both take these endings from here, so neither needs the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from bot.flowyte import errors as fe
from bot.flowyte.models import OwnedNumber
from bot.kernel.money import usd
from bot.kernel.outcomes import Decided, Refused
from bot.workflow import sentences
from bot.workflow.context import SYSTEM, Context, detail, logger
from storage.requests import AuditNote, Request

AgentReader = Callable[[], Awaitable[list[Any]]]


class Settlement:
    def __init__(self, ctx: Context, agents: AgentReader | None = None) -> None:
        """`agents` reads the agent list for the "is yours, pick the agent" message; the
        service passes its shared read, so the menu opened from that message reuses it."""
        self.ctx = ctx
        self._read_agents = agents

    async def _shortfall(self, request: Request, exc: fe.InsufficientBalance) -> Decimal | None:
        """402: by how much, from the problem, else from the wallet and the quote."""
        if exc.shortfall is not None:
            return exc.shortfall
        if request.total_cost is None:
            return None
        try:
            balance = (await self.ctx.flowyte.wallet()).balance_usd
        except fe.FlowyteError:
            logger.warning("402 without amounts, and no wallet balance to compute them")
            return None
        return fe.InsufficientBalance.shortfall_of(balance, request.total_cost)

    async def unfunded(
        self, request: Request, exc: fe.InsufficientBalance, **fields: Any
    ) -> Refused:
        """402: Flowyte refused for want of balance, a definite "no", so nothing was bought.
        The hold and the approvals are kept: once the wallet is topped up, an approver tries
        again (retry.py) until the hold lapses."""
        short = await self._shortfall(request, exc)
        why = exc.explain(shortfall=short, then=sentences.TRY_AGAIN)
        moved = await self.ctx.transition(
            request,
            ("purchasing", "checking"),
            "unfunded",
            AuditNote(
                SYSTEM,
                request.kind,
                "failed",
                detail(status=402, code=exc.code, shortfall=short, **fields),
            ),
            detail=why,
            next_check_at=None,
        )
        if moved is None:
            return Refused("in_flight", "This request changed meanwhile.")
        await self.ctx.update_card(moved)
        lapses = moved.hold_expires_at
        when = f" The hold lapses at {sentences.slack_time(lapses)}." if lapses else ""
        await self.ctx.tell(
            moved,
            f"Your request for {moved.e164} is approved, but nothing was bought yet: {why}{when}",
        )
        return Refused("unfunded", why + when)

    async def purchased(self, request: Request, owned: OwnedNumber, *, evidence: str) -> Decided:
        done = await self.ctx.transition(
            request,
            ("purchasing", "checking"),
            "purchased",
            AuditNote(
                SYSTEM,
                "purchase",
                detail=detail(
                    number=owned.id, e164=owned.e164, charged=request.total_cost, evidence=evidence
                ),
            ),
            number_id=owned.id,
            next_check_at=None,
        )
        done = done or await self.ctx.load(request.id) or request
        await self.ctx.note_owned(owned)
        await self.ctx.update_card(done)
        agents = await self.agents()
        cost = f" for {usd(done.total_cost)}" if done.total_cost is not None else ""
        await self.ctx.tell(
            done,
            f"{done.e164} is yours{cost}, approved by <@{done.decided_by}>. Pick the agent it should ring:",
            agents=agents,
        )
        return Decided(done, f"Bought {done.e164}.", agents)

    async def released(self, request: Request, *, evidence: str) -> Decided:
        done = await self.ctx.transition(
            request,
            ("releasing", "checking"),
            "released",
            AuditNote(
                SYSTEM, "release", detail=detail(number=request.number_id, evidence=evidence)
            ),
            next_check_at=None,
        )
        done = done or await self.ctx.load(request.id) or request
        await self.ctx.note_gone(request.e164)
        await self.ctx.update_card(done)
        await self.ctx.tell(
            done, f"{done.e164} was released to the carrier, approved by <@{done.decided_by}>."
        )
        return Decided(done, f"Released {done.e164}.")

    async def fail(
        self,
        request: Request,
        why: str,
        *,
        to_status: str = "failed",
        hold_released: bool = False,
        **fields: Any,
    ) -> Refused:
        failed = await self.ctx.transition(
            request,
            ("approved", "purchasing", "releasing", "checking", "unfunded"),
            to_status,
            AuditNote(SYSTEM, request.kind, "failed", detail(**fields)),
            detail=why,
            next_check_at=None,
        )
        if failed is None:
            return Refused("in_flight", "This request changed meanwhile.")
        if failed.kind == "purchase" and not hold_released:
            await release_hold(self.ctx, failed)
        await self.ctx.update_card(failed)
        await self.ctx.tell(failed, f"Your request for {failed.e164} failed: {why}")
        return Refused(to_status, why)

    async def agents(self) -> list[Any]:
        if self._read_agents is not None:
            return await self._read_agents()
        try:
            return list(await self.ctx.flowyte.list_agents())
        except fe.FlowyteError:
            logger.warning("could not list agents for the menu")
            return []


async def release_hold(ctx: Context, request: Request) -> None:
    """Give the hold back (it would lapse on its own within 30 minutes; nothing is charged)."""
    if not request.reservation_id:
        return
    try:
        await ctx.flowyte.release_hold(request.reservation_id)
    except fe.FlowyteError as exc:
        logger.warning("could not release hold %s: %s", request.reservation_id, type(exc).__name__)
        await ctx.audit(SYSTEM, "release_hold", request.id, "failed", code=type(exc).__name__)
    else:
        await ctx.audit(
            SYSTEM, "release_hold", request.id, "ok", reservation=request.reservation_id
        )

"""Before anything spends: what does the sealed audit log allow? The rules are pure
(authority.py); this reads the log, asks who may approve now, and raises the alarm."""

from __future__ import annotations

from bot.kernel.outcomes import Refused
from bot.workflow import sentences
from bot.workflow.authority import (
    Authority,
    NotInForce,
    Step,
    Tampered,
    Terms,
    authority,
    filed,
    not_in_force,
)
from bot.workflow.context import SYSTEM, Context, logger
from storage.requests import Request

ALARM = "integrity_alarm"


class Guard:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def steps(self, request: Request) -> list[Step]:
        storage = self.ctx.storage
        entries = await storage.run(storage.audit.transitions, request.id)
        key = storage.audit.key
        return [
            Step(
                e.seq,
                e.actor,
                e.state or "",
                e.detail_fields(),
                key is not None and key.authentic(e),
                e.action,
            )
            for e in entries
        ]

    async def state_is_sealed(self, request: Request) -> bool:
        """Whether the request's status is the last state the sealed log recorded for it
        (a card is only redrawn from a state numbot itself wrote)."""
        moves = [s for s in await self.steps(request) if s.state]
        return bool(moves) and moves[-1].authentic and moves[-1].state == request.status

    async def terms(self, request: Request) -> Terms | Refused:
        """The terms the request was filed with, from the sealed log; refused (and the alarm
        raised) when the row disagrees with them."""
        found = filed(request, await self.steps(request))
        if isinstance(found, Tampered):
            return await self.alarm(request, found.why)
        return found

    async def authority(self, request: Request) -> Authority | Refused:
        """What the sealed log lets this approved request spend, and on which terms; refused
        (and the alarm raised) when the row or the log disagrees with what was sealed."""
        found = authority(request, await self.steps(request))
        if isinstance(found, Tampered):
            return await self.alarm(request, found.why)
        return found

    async def in_force(self, auth: Authority) -> NotInForce | None:
        """Whether the policy in force now, and who may approve now, still allow it."""
        ctx = self.ctx
        still = frozenset([a for a in auth.approvers if await ctx.approvers.includes(a)])
        return not_in_force(auth, ctx.policy, still)

    async def alarm(self, request: Request, problem: str) -> Refused:
        """Flag tampering (once per request: audit, error log, the approval channel); refuse."""
        storage = self.ctx.storage
        if not await storage.run(storage.audit.has, subject=request.id, action=ALARM):
            logger.error("request %s will not be executed: %s", request.id, problem)
            await self.ctx.audit(
                SYSTEM, ALARM, request.id, "refused", problem=problem, status=request.status
            )
            await self.ctx.alert(
                ":rotating_light: " + sentences.UNAUTHENTIC.format(id=request.id, why=problem)
            )
        return Refused("unauthentic", sentences.UNAUTHENTIC.format(id=request.id, why=problem))

"""Before anything spends: is the request's state, and its approval, what the sealed audit
log recorded? The rules are pure (integrity.py); this reads the log and raises the alarm."""

from __future__ import annotations

from bot.outcomes import Refused
from bot.workflow import sentences
from bot.workflow.context import SYSTEM, Context, logger
from bot.workflow.integrity import Step, approval_problem
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

    async def unless_authentic(self, request: Request) -> Refused | None:
        """None when the approval is sealed and fits; else flag it (once) and refuse."""
        storage = self.ctx.storage
        problem = approval_problem(request, await self.steps(request))
        if problem is None:
            return None
        if not await storage.run(storage.audit.has, subject=request.id, action=ALARM):
            logger.error("request %s will not be executed: %s", request.id, problem)
            await self.ctx.audit(
                SYSTEM, ALARM, request.id, "refused", problem=problem, status=request.status
            )
            await self.ctx.alert(
                ":rotating_light: " + sentences.UNAUTHENTIC.format(id=request.id, why=problem)
            )
        return Refused("unauthentic", sentences.UNAUTHENTIC.format(id=request.id, why=problem))

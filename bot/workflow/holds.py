"""A person's own work, found again: their holds and their requests waiting for approval.

A hold's Request purchase button first lives in an ephemeral reply, which Slack drops on
reload; `/numbers holds` shows it again, from SQLite. Reading changes nothing.
"""

from __future__ import annotations

from bot.kernel.outcomes import Holds
from bot.workflow.context import Context


class HoldList:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def holds(self, actor: str) -> Holds:
        ctx = self.ctx
        mine = await ctx.storage.run(ctx.storage.requests.open_of, actor, ctx.clock())
        await ctx.audit(actor, "holds", "holds", "ok", count=len(mine))
        return Holds(mine, tuple(sorted(ctx.approvers.known() - {actor})))

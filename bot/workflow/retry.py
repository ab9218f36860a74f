"""Trying an approved purchase again after Flowyte refused it for want of balance (402).

    unfunded -> purchasing -> purchased | failed | checking | unfunded
    unfunded -> expired (the hold lapsed) | rejected | cancelled

A 402 is a definite refusal: nothing was bought, the hold and the approvals were kept. Once
the wallet is topped up, an approver other than the requester tries again, until the hold
lapses. Before anything is sent numbot checks again what any spend needs: the sealed terms
and approvals (authority.py), the policy in force now, Flowyte's price, and that the wallet
now covers the charge. Then it buys on the sealed terms with a new Idempotency-Key (the
refused call is over: a replay of it would only be refused again), sealed with the attempt.
"""

from __future__ import annotations

from decimal import Decimal

from bot.flowyte import errors as fe
from bot.kernel.money import usd
from bot.kernel.outcomes import Decided, Refused
from bot.workflow import sentences
from bot.workflow.context import Context, logger
from bot.workflow.execution import Executor
from bot.workflow.filing import Filing
from storage.rows import UNFUNDED


class Retry:
    def __init__(self, ctx: Context, executor: Executor, filing: Filing) -> None:
        self.ctx = ctx
        self.executor = executor
        self.filing = filing

    async def retry(self, actor: str, request_id: str) -> Decided | Refused:
        ctx = self.ctx
        request = await ctx.load(request_id)
        if request is None:
            return await ctx.refuse(
                actor, "retry", request_id[:40], "unknown", sentences.UNKNOWN_REQUEST
            )
        if request.status != UNFUNDED:
            return await ctx.refuse(
                actor,
                "retry",
                request.id,
                sentences.refusal_code(request),
                sentences.status_sentence(request),
            )
        if actor == request.requester or not await ctx.approvers.includes(actor):
            return await ctx.refuse(
                actor,
                "retry",
                request.id,
                "not_approver",
                "Only an approver other than the requester can try this purchase again.",
            )
        if request.hold_expired(ctx.clock()):
            await self.filing.expire(request, actor=actor)
            return await ctx.refuse(
                actor,
                "retry",
                request.id,
                "expired",
                "The hold lapsed before the wallet was topped up, so nothing was bought. "
                "The requester can reserve it again.",
            )
        guard = self.executor.guard
        auth = await guard.authority(request)
        if isinstance(auth, Refused):
            return auth
        stale = await guard.in_force(auth)
        if stale is not None:
            return await ctx.refuse(
                actor,
                "retry",
                request.id,
                stale.code,
                f"Nothing was bought: {stale.why}.",
                policy=ctx.policy.hash,
            )
        problem = await self.executor.price_problem(auth.terms)
        if problem is not None:
            code, why = problem
            if code == "price_unchecked":
                return await ctx.refuse(actor, "retry", request.id, code, why)
            return await self.executor.fail(request, why, code=code)
        short = await self._still_short(auth.terms.charge)
        if short is not None:
            return await ctx.refuse(actor, "retry", request.id, "insufficient_balance", short)
        return await self.executor.send(request, (UNFUNDED,), auth, actor=actor)

    async def _still_short(self, charge: Decimal | None) -> str | None:
        """Why the wallet still cannot pay, or None when it can (or when numbot cannot tell:
        then Flowyte decides, and a 402 again only says so again)."""
        if charge is None:
            return None
        try:
            balance = (await self.ctx.flowyte.wallet()).balance_usd
        except fe.FlowyteError as exc:
            logger.warning("wallet unreadable before a retry (%s)", type(exc).__name__)
            return None
        if balance >= charge:
            return None
        return (
            f"The wallet holds {usd(balance)} and this costs {usd(charge)}: top it up by at "
            f"least {usd(charge - balance)} in the Flowyte dashboard, then try again."
        )

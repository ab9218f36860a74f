"""Carrying out an approved request, once, and settling what happened.

    approved -> purchasing -> purchased | failed | expired
                           -> pending    (nothing reached Flowyte, or it said "later")
                           -> checking   (the outcome is unknown) -> purchased | failed

Before any call that can spend (the purchase, a replay of it, a release), what it may spend
is derived from the sealed audit log (authority.py), and the call is made on those sealed
terms; the first call also answers to the policy in force now. The price is re-checked
before buying and the check fails closed. An unknown outcome is never guessed: the
request stays `checking` until Flowyte's answers prove one way or the other (evidence.py).
"""

from __future__ import annotations

from typing import Any

from bot.flowyte import errors as fe
from bot.flowyte.models import OwnedNumber
from bot.kernel.money import usd
from bot.kernel.outcomes import Decided, Refused
from bot.workflow import sentences
from bot.workflow.authority import Authority, Terms
from bot.workflow.checking import Checker
from bot.workflow.context import SYSTEM, Context, detail, logger
from bot.workflow.evidence import outcome_of
from bot.workflow.guard import Guard
from bot.workflow.settling import AgentReader, Settlement
from storage.requests import AuditNote, Request


class Executor:
    def __init__(self, ctx: Context, agents: AgentReader | None = None) -> None:
        self.ctx = ctx
        self.guard = Guard(ctx)
        self.settle = Settlement(ctx, agents)
        # The checker gets what it needs to settle and to replay, not the executor itself.
        self.checker = Checker(ctx, self.guard, self.settle, self.replay)
        self.purchased = self.settle.purchased
        self.released = self.settle.released
        self.fail = self.settle.fail
        self.unfunded = self.settle.unfunded

    # -- the one way in ---------------------------------------------------------------------

    async def execute(self, approved: Request) -> Decided | Refused:
        """Carry out an approved purchase or release, once, and settle its outcome.

        What is spent comes from the sealed record (authority.py), never from the row: the
        terms sealed at filing, the approvals sealed since, and the policy in force now."""
        auth = await self.guard.authority(approved)
        if isinstance(auth, Refused):
            return auth
        stale = await self.guard.in_force(auth)
        if stale is not None:
            why = sentences.NOT_IN_FORCE.format(why=stale.why)
            if stale.code == "quorum":
                known = self.ctx.approvers.known() - {approved.requester, *auth.approvers}
                why += sentences.who_may_approve(sorted(known))
            return await self.back_to_pending(
                approved, why, code=stale.code, policy=self.ctx.policy.hash
            )
        if approved.kind == "purchase":
            # Checked while still `approved`, so the `purchasing` window below covers exactly
            # one Flowyte call, which is what the quiet window allows for.
            problem = await self.price_problem(auth.terms)
            if problem is not None:
                code, why = problem
                if code == "price_unchecked":
                    return await self.back_to_pending(approved, why, code=code)
                return await self.fail(approved, why, code=code)
        return await self.send(approved, ("approved",), auth)

    async def send(
        self, request: Request, from_statuses: tuple[str, ...], auth: Authority, actor: str = SYSTEM
    ) -> Decided | Refused:
        """Record that the spending call leaves (with the Idempotency-Key it carries, sealed),
        send it on the sealed terms, and settle what it answered."""
        working = "purchasing" if request.kind == "purchase" else "releasing"
        moved = await self.ctx.transition(
            request,
            from_statuses,
            working,
            AuditNote(
                actor, f"{request.kind}_started", detail=detail(idempotency_key=auth.next_key)
            ),
            last_sent_at=self.ctx.clock(),
        )
        if moved is None:
            return Refused("in_flight", "This request is already being carried out.")
        try:
            owned = await self.call(auth.terms, auth.next_key)
        except fe.FlowyteError as exc:
            return await self._after_failed_call(moved, exc)
        if moved.kind == "purchase":
            assert owned is not None
            return await self.purchased(moved, owned, evidence="answer")
        return await self.released(moved, evidence="answer")

    async def replay(self, request: Request, terms: Terms, key: str) -> OwnedNumber | None:
        """Send the spending call again with the Idempotency-Key it first carried (recorded
        as leaving first): byte-identical, so Flowyte answers with what it did then."""
        await self.ctx.storage.run(
            self.ctx.storage.requests.set_fields, request.id, last_sent_at=self.ctx.clock()
        )
        return await self.call(terms, key)

    async def call(self, terms: Terms, key: str) -> OwnedNumber | None:
        """The spending call itself, on the sealed terms; a purchase sent again with the same
        `key` is byte-identical (a replay)."""
        if terms.kind == "purchase":
            return await self.ctx.flowyte.purchase(
                terms.e164, terms.reservation, idempotency_key=key
            )
        await self.ctx.flowyte.release_number(terms.number)
        return None

    async def _after_failed_call(self, request: Request, exc: fe.FlowyteError) -> Decided | Refused:
        status = exc.status if isinstance(exc, fe.FlowyteAPIError) else None
        code = exc.code if isinstance(exc, fe.FlowyteAPIError) else type(exc).__name__
        match outcome_of(exc):
            case "nothing":
                return await self.back_to_pending(
                    request,
                    exc.explain() + " The request is waiting for approval again.",
                    error=code,
                    status=status,
                )
            case "unknown":
                logger.warning("%s %s: outcome unknown (%s)", request.kind, request.id, code)
                return await self.checker.start(request, error=code, status=status)
        if isinstance(exc, fe.InsufficientBalance):
            return await self.unfunded(request, exc)
        why = exc.explain()
        expired = isinstance(exc, fe.FlowyteAPIError) and exc.code == "reservation_expired"
        return await self.fail(
            request, why, to_status="expired" if expired else "failed", status=status, code=code
        )

    # -- the price ----------------------------------------------------------------------------

    async def price_problem(self, terms: Terms) -> tuple[str, str] | None:
        """Whether Flowyte's price now still fits the approval, which binds the price sealed
        at filing: ("price_unchecked", why) when there is no fresh quote (nothing is bought
        then either), ("price_changed", why) when it went up, None when it fits."""
        try:
            quote = await self.ctx.flowyte.get_available(terms.e164)
        except fe.FlowyteError as exc:
            why = (
                "Flowyte did not answer"
                if not isinstance(exc, fe.FlowyteAPIError)
                else f"Flowyte answered {exc.status}"
            )
            return "price_unchecked", sentences.PRICE_UNCHECKED.format(why=why)
        setup, monthly = quote.setup_cost, quote.monthly_cost
        if setup is None or monthly is None or terms.setup is None or terms.monthly is None:
            return "price_unchecked", sentences.PRICE_UNCHECKED.format(why="its quote has no price")
        if setup <= terms.setup and monthly <= terms.monthly:
            return None  # the same, or cheaper: the approval still holds
        return "price_changed", (
            f"Flowyte's price went up since the request (now {usd(setup)} setup, "
            f"{usd(monthly)}/month), so nothing was bought. Request it again at the new price."
        )

    # -- endings ------------------------------------------------------------------------------

    async def back_to_pending(self, request: Request, why: str, **fields: Any) -> Refused:
        """Nothing happened at Flowyte: the request waits for a (new) approval, hold kept."""
        back = await self.ctx.transition(
            request,
            ("approved", "purchasing", "releasing"),
            "pending",
            AuditNote(SYSTEM, request.kind, "failed", detail(**fields)),
            clear_approvals=True,  # a new round: the approvals given were used up
            decided_by=None,
            detail=why,
        )
        if back is not None:
            await self.ctx.update_card(back)
        return Refused("flowyte", why)

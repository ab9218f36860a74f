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

from decimal import Decimal
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
from storage.requests import AuditNote, Request


class Executor:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.guard = Guard(ctx)
        self.checker = Checker(ctx, self)

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

    async def sending(self, request: Request) -> None:
        """Record that a call that can spend is about to leave (before it leaves)."""
        await self.ctx.storage.run(
            self.ctx.storage.requests.set_fields, request.id, last_sent_at=self.ctx.clock()
        )

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

"""Carrying out an approved request, once, and settling what happened.

    approved -> purchasing -> purchased | failed | expired
                           -> pending    (nothing reached Flowyte, or it said "later")
                           -> checking   (the outcome is unknown) -> purchased | failed

Before any call that can spend (the purchase, a replay of it, a release), the request's
approval is checked against the sealed audit log (integrity.py). The price is re-checked
before buying and the check fails closed. An unknown outcome is never guessed: the
request stays `checking` until Flowyte's answers prove one way or the other (evidence.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Literal

from bot.flowyte import errors as fe
from bot.flowyte.models import OwnedNumber
from bot.money import usd
from bot.outcomes import Decided, Refused
from bot.workflow import sentences
from bot.workflow.context import SYSTEM, Context, detail, logger
from bot.workflow.evidence import (
    Inventory,
    Owned,
    PurchaseEvidence,
    Replay,
    Verdict,
    next_check_delay,
    purchase_verdict,
    release_verdict,
    replays_on,
)
from bot.workflow.integrity import Step, approval_problem
from storage.requests import AuditNote, Request

# 409 codes that mean "the first call with this Idempotency-Key is still running" [inferred].
IN_PROGRESS_CODES = frozenset({"idempotency_in_progress", "request_in_progress"})
ALARM = "integrity_alarm"
ALERT_AFTER_CHECKS = 4  # tell the approval channel when a check drags on this long

CallOutcome = Literal["nothing", "unknown", "refused"]


def outcome_of(exc: fe.FlowyteError) -> CallOutcome:
    """What a failed spending call tells about whether it happened."""
    if isinstance(exc, fe.OutcomeUnknown):
        return "unknown"  # sent, no (readable) answer
    if isinstance(exc, fe.FlowyteUnavailable | fe.RateLimited):
        return "nothing"  # never reached Flowyte, or turned away before doing anything
    if isinstance(exc, fe.FlowyteAPIError):
        if exc.status == 408 or exc.status >= 500:
            return "unknown"
        if exc.status == 409 and exc.code in IN_PROGRESS_CODES:
            return "unknown"
        if exc.status == 422 and exc.code == "idempotency_mismatch":
            return "unknown"  # numbot sends the same body; a mismatch is not an answer
        return "refused"
    return "unknown"  # an answer numbot could not read


class Executor:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- the one way in ---------------------------------------------------------------------

    async def execute(self, approved: Request) -> Decided | Refused:
        """Carry out an approved purchase or release, once, and settle its outcome."""
        flagged = await self._unless_authentic(approved)
        if flagged:
            return flagged
        if approved.kind == "purchase":
            # Checked while still `approved`, so the `purchasing` window below covers exactly
            # one Flowyte call, which is what the quiet window allows for.
            stopped = await self._check_price(approved)
            if stopped:
                return stopped
        working = "purchasing" if approved.kind == "purchase" else "releasing"
        request = await self.ctx.transition(
            approved,
            ("approved",),
            working,
            AuditNote(
                SYSTEM,
                f"{approved.kind}_started",
                detail=detail(idempotency_key=approved.idempotency_key),
            ),
            last_sent_at=self.ctx.clock(),
        )
        if request is None:
            return Refused("in_flight", "This request is already being carried out.")
        try:
            owned = await self._call(request)
        except fe.FlowyteError as exc:
            return await self._after_failed_call(request, exc)
        if request.kind == "purchase":
            assert owned is not None
            return await self._purchased(request, owned, evidence="answer")
        return await self._released(request, evidence="answer")

    async def _sending(self, request: Request) -> None:
        """Record that a call that can spend is about to leave (before it leaves)."""
        await self.ctx.storage.run(
            self.ctx.storage.requests.set_fields, request.id, last_sent_at=self.ctx.clock()
        )

    async def _call(self, request: Request) -> OwnedNumber | None:
        """The spending call itself; a purchase sent again is byte-identical (a replay)."""
        if request.kind == "purchase":
            return await self.ctx.flowyte.purchase(
                request.e164, request.reservation_id, idempotency_key=request.idempotency_key
            )
        await self.ctx.flowyte.release_number(request.number_id or "")
        return None

    async def _after_failed_call(self, request: Request, exc: fe.FlowyteError) -> Decided | Refused:
        status = exc.status if isinstance(exc, fe.FlowyteAPIError) else None
        code = exc.code if isinstance(exc, fe.FlowyteAPIError) else type(exc).__name__
        match outcome_of(exc):
            case "nothing":
                return await self._back_to_pending(
                    request,
                    exc.explain() + " The request is waiting for approval again.",
                    error=code,
                    status=status,
                )
            case "unknown":
                logger.warning("%s %s: outcome unknown (%s)", request.kind, request.id, code)
                return await self._unknown(request, error=code, status=status)
        if isinstance(exc, fe.InsufficientBalance):
            why = await self._shortfall(request, exc)
        else:
            why = exc.explain()
        expired = isinstance(exc, fe.FlowyteAPIError) and exc.code == "reservation_expired"
        return await self._fail(
            request, why, to_status="expired" if expired else "failed", status=status, code=code
        )

    # -- unknown outcomes -------------------------------------------------------------------

    async def _unknown(self, request: Request, **why: Any) -> Decided | Refused:
        """Say "checking", look once after a short grace, then leave it to the sweep."""
        checking = await self.ctx.transition(
            request,
            ("purchasing", "releasing"),
            "checking",
            AuditNote(SYSTEM, request.kind, "unknown", detail(**why)),
            next_check_at=self.ctx.clock() + timedelta(seconds=self.ctx.timing.grace),
            check_attempts=0,
        )
        if checking is None:
            return Refused("in_flight", "This request changed meanwhile.")
        await self.ctx.update_card(checking)
        await self.ctx.tell(checking, _checking_text(checking))
        await asyncio.sleep(self.ctx.timing.grace)
        return await self.check(checking)

    async def check(self, request: Request) -> Decided | Refused:
        """Ask Flowyte what became of a purchase or release whose outcome is unknown.

        Takes `checking` requests, and `purchasing`/`releasing` ones left by a process that
        stopped mid-call (once quiet). One process looks at a time (a lease on the next
        look, compare-and-set). Ends only on proof; otherwise schedules another look.
        """
        ctx = self.ctx
        now = ctx.clock()
        lease_until = now + timedelta(seconds=ctx.timing.lease)
        if request.status in ("purchasing", "releasing"):
            moved = await ctx.transition(
                request,
                (request.status,),
                "checking",
                AuditNote(SYSTEM, "resume", "unknown", detail(interrupted=request.status)),
                next_check_at=lease_until,
                check_attempts=0,
            )
            if moved is None:
                return Refused("in_flight", "This request changed meanwhile.")
            request = moved
            await ctx.update_card(request)
        elif request.status != "checking":
            return Refused(sentences.refusal_code(request), sentences.status_sentence(request))
        elif not await ctx.storage.run(
            ctx.storage.requests.claim_check, request.id, request.next_check_at, lease_until
        ):
            return Refused("checking", _checking_text(request))  # another look is under way
        last_sent = request.last_sent_at or request.last_change
        settled = now - last_sent >= timedelta(seconds=ctx.timing.quiet)
        if request.kind == "purchase":
            flagged = await self._unless_authentic(request)  # a replay can spend
            if flagged:
                return flagged
            return await self._check_purchase(request, settled=settled)
        return await self._check_release(request, settled=settled)

    async def _check_purchase(self, request: Request, *, settled: bool) -> Decided | Refused:
        replay: Replay = "not_asked"
        if replays_on(request.check_attempts):
            await self._sending(request)
            try:
                bought = await self._call(request)
            except fe.FlowyteError as exc:
                replay = "refused" if outcome_of(exc) == "refused" else "unknown"
            else:
                assert bought is not None
                return await self._purchased(request, bought, evidence="replay")
        owned: Owned = "unknown"
        try:
            mine = {n.e164: n for n in await self.ctx.flowyte.list_numbers(proof=True)}
            owned = "listed" if request.e164 in mine else "absent"
            if request.e164 in mine:
                return await self._purchased(request, mine[request.e164], evidence="owned_list")
        except fe.FlowyteError as exc:
            logger.warning(
                "check %s: owned numbers unreadable (%s)", request.id, type(exc).__name__
            )
        inventory: Inventory = "not_asked"
        if owned == "absent":
            try:
                await self.ctx.flowyte.get_available(request.e164)
                inventory = "for_sale"
            except fe.NotFound:
                inventory = "gone"
            except fe.FlowyteError:
                inventory = "unknown"
        evidence = PurchaseEvidence(replay=replay, owned=owned, inventory=inventory)
        if purchase_verdict(evidence, settled=settled) is Verdict.NOT_DONE:
            return await self._fail(
                request,
                sentences.NOT_PURCHASED,
                reconciled=True,
                replay=replay,
                owned=owned,
                inventory=inventory,
            )
        return await self._still_unsure(request, replay=replay, owned=owned, inventory=inventory)

    async def _check_release(self, request: Request, *, settled: bool) -> Decided | Refused:
        owned: Owned = "unknown"
        try:
            mine = {n.e164 for n in await self.ctx.flowyte.list_numbers(proof=True)}
            owned = "listed" if request.e164 in mine else "absent"
        except fe.FlowyteError as exc:
            logger.warning(
                "check %s: owned numbers unreadable (%s)", request.id, type(exc).__name__
            )
        verdict = release_verdict(owned, settled=settled)
        if verdict is Verdict.DONE:
            return await self._released(request, evidence="owned_list")
        if verdict is Verdict.NOT_DONE:
            return await self._fail(request, sentences.NOT_RELEASED, reconciled=True)
        return await self._still_unsure(request, owned=owned)

    async def _still_unsure(self, request: Request, **evidence: str) -> Refused:
        attempts = request.check_attempts + 1
        delay = next_check_delay(
            attempts, quiet=self.ctx.timing.quiet, cap=self.ctx.timing.check_backoff_cap
        )
        await self.ctx.storage.run(
            self.ctx.storage.requests.set_fields,
            request.id,
            check_attempts=attempts,
            next_check_at=self.ctx.clock() + timedelta(seconds=delay),
        )
        await self.ctx.audit(SYSTEM, "check", request.id, "unknown", attempt=attempts, **evidence)
        logger.warning(
            "%s %s still unknown after %d look(s); next in %.0fs",
            request.kind,
            request.id,
            attempts,
            delay,
        )
        if attempts == ALERT_AFTER_CHECKS:
            await self.ctx.alert(
                f":warning: numbot still cannot tell whether the {request.kind} of {request.e164} "
                f"(request `{request.id}`) went through; it keeps checking. Flowyte's dashboard "
                "shows the truth meanwhile."
            )
        return Refused("checking", _checking_text(request))

    # -- integrity --------------------------------------------------------------------------

    async def _steps(self, request: Request) -> list[Step]:
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
            )
            for e in entries
        ]

    async def state_is_sealed(self, request: Request) -> bool:
        """Whether the request's status is the last state the sealed log recorded for it
        (a card is only redrawn from a state numbot itself wrote)."""
        steps = await self._steps(request)
        return bool(steps) and steps[-1].authentic and steps[-1].state == request.status

    async def _unless_authentic(self, request: Request) -> Refused | None:
        """None when the approval is sealed and fits; else flag it (once) and refuse."""
        storage = self.ctx.storage
        problem = approval_problem(request, await self._steps(request), self.ctx.approvers)
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

    # -- the price ----------------------------------------------------------------------------

    async def _check_price(self, request: Request) -> Refused | None:
        """An approval binds to the quote on the card. No fresh quote, no purchase."""
        try:
            quote = await self.ctx.flowyte.get_available(request.e164)
        except fe.FlowyteError as exc:
            why = (
                "Flowyte did not answer"
                if not isinstance(exc, fe.FlowyteAPIError)
                else f"Flowyte answered {exc.status}"
            )
            return await self._back_to_pending(
                request, sentences.PRICE_UNCHECKED.format(why=why), code="price_unchecked"
            )
        setup, monthly = quote.setup_cost, quote.monthly_cost
        if None in (setup, monthly, request.setup_cost, request.monthly_cost):
            return await self._back_to_pending(
                request,
                sentences.PRICE_UNCHECKED.format(why="its quote has no price"),
                code="price_unchecked",
            )
        assert setup is not None and monthly is not None
        assert request.setup_cost is not None and request.monthly_cost is not None
        if setup <= request.setup_cost and monthly <= request.monthly_cost:
            return None  # the same, or cheaper: the approval still holds
        return await self._fail(
            request,
            f"Flowyte's price went up since the request (now {usd(setup)} setup, {usd(monthly)}/month), "
            "so nothing was bought. Request it again at the new price.",
            code="price_changed",
        )

    async def _shortfall(self, request: Request, exc: fe.InsufficientBalance) -> str:
        """402: by how much, from the problem, else from the wallet and the quote."""
        short = None
        if exc.shortfall is None and request.total_cost is not None:
            try:
                balance = (await self.ctx.flowyte.wallet()).balance_usd
                short = fe.InsufficientBalance.shortfall_of(balance, request.total_cost)
            except fe.FlowyteError:
                logger.warning("402 without amounts, and no wallet balance to compute them")
        return exc.explain(shortfall=short)

    # -- endings ------------------------------------------------------------------------------

    async def _back_to_pending(self, request: Request, why: str, **fields: Any) -> Refused:
        """Nothing happened at Flowyte: the request waits for a (new) approval, hold kept."""
        back = await self.ctx.transition(
            request,
            ("approved", "purchasing", "releasing"),
            "pending",
            AuditNote(SYSTEM, request.kind, "failed", detail(**fields)),
            decided_by=None,
            detail=why,
        )
        if back is not None:
            await self.ctx.update_card(back)
        return Refused("flowyte", why)

    async def _purchased(self, request: Request, owned: OwnedNumber, *, evidence: str) -> Decided:
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
        await self.ctx.update_card(done)
        agents = await self._agents()
        cost = f" for {usd(done.total_cost)}" if done.total_cost is not None else ""
        await self.ctx.tell(
            done,
            f"{done.e164} is yours{cost}, approved by <@{done.decided_by}>. Pick the agent it should ring:",
            agents=agents,
        )
        return Decided(done, f"Bought {done.e164}.", agents)

    async def _released(self, request: Request, *, evidence: str) -> Decided:
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
        await self.ctx.update_card(done)
        await self.ctx.tell(
            done, f"{done.e164} was released to the carrier, approved by <@{done.decided_by}>."
        )
        return Decided(done, f"Released {done.e164}.")

    async def _fail(
        self, request: Request, why: str, *, to_status: str = "failed", **fields: Any
    ) -> Refused:
        failed = await self.ctx.transition(
            request,
            ("approved", "purchasing", "releasing", "checking"),
            to_status,
            AuditNote(SYSTEM, request.kind, "failed", detail(**fields)),
            detail=why,
            next_check_at=None,
        )
        if failed is None:
            return Refused("in_flight", "This request changed meanwhile.")
        if failed.kind == "purchase":
            await release_hold(self.ctx, failed)
        await self.ctx.update_card(failed)
        await self.ctx.tell(failed, f"Your request for {failed.e164} failed: {why}")
        return Refused(to_status, why)

    async def _agents(self) -> list[Any]:
        try:
            return list(await self.ctx.flowyte.list_agents())
        except fe.FlowyteError:
            logger.warning("could not list agents for the menu")
            return []


def _checking_text(request: Request) -> str:
    kind = "purchase" if request.kind == "purchase" else "release"
    return sentences.CHECKING.format(kind=f"{kind} of {request.e164}")


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

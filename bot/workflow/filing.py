"""A request before anyone decides it: the hold, the request and its card, the approvers told
and reminded, the hold lapsing.

    (reserve) -> held -> pending -> (decisions.py)
                 held | pending -> expired
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from bot.flowyte import errors as fe
from bot.flowyte.models import OwnedNumber
from bot.kernel.outcomes import AlreadyHeld, Held, Refused, Requested
from bot.kernel.text import MAX_REASON, clean_user_text
from bot.workflow import sentences
from bot.workflow.authority import Tampered, Terms, held
from bot.workflow.context import SYSTEM, Context, detail, logger
from bot.workflow.guard import Guard
from bot.workflow.policy import (
    MonthSpend,
    approvals_needed,
    budget_line,
    holds_refusal,
    request_refusal,
)
from storage.requests import AuditNote, Request

DEFAULT_HOLD = timedelta(minutes=30)  # the guide's "about 30 minutes", when Flowyte omits it
# A request filed this recently without a card is still being posted: its reminder waits for it
# (then goes to the card and the copies), rather than reach only the requester.
CARD_BEING_POSTED = timedelta(seconds=60)

# (actor, action, "+E.164 or id") -> the owned number, or why not (routing.Routing.resolve)
Resolve = Callable[[str, str, str], Awaitable[OwnedNumber | Refused]]


class Filing:
    def __init__(self, ctx: Context, resolve: Resolve) -> None:
        self.ctx = ctx
        self.resolve = resolve
        self.guard = Guard(ctx)

    async def reserve(self, actor: str, e164: str) -> Held | AlreadyHeld | Refused:
        ctx = self.ctx
        if not sentences.E164.fullmatch(e164):
            return await ctx.refuse(actor, "reserve", e164[:32], "bad_input", sentences.NOT_E164)
        # Theirs already (held, or pending approval): say so; Flowyte would call it taken.
        mine = await ctx.storage.run(ctx.storage.requests.open_hold, actor, e164, ctx.clock())
        if mine is not None:
            await ctx.audit(actor, "reserve", mine.id, "refused", code="already_held", e164=e164)
            return AlreadyHeld(mine)
        if ctx.policy.max_open_holds is not None:
            open_ = await ctx.storage.run(ctx.storage.requests.open_of, actor, ctx.clock())
            holding = [r.e164 for r in open_ if r.status == "held"]
            too_many = holds_refusal(ctx.policy, holding)
            if too_many:
                return await ctx.refuse(
                    actor, "reserve", e164, "too_many_holds", too_many, policy=ctx.policy.hash
                )
        try:
            hold = await ctx.flowyte.reserve(e164)
        except fe.FlowyteError as exc:
            return await ctx.flowyte_failed(actor, "reserve", e164, exc)
        setup, monthly = hold.setup_cost, hold.monthly_cost
        if setup is None or monthly is None:
            setup, monthly = await self._quote(e164)
        expires = hold.expires_at or (ctx.clock() + DEFAULT_HOLD)
        limit = ctx.policy.max_open_holds
        request = await ctx.storage.run(
            ctx.storage.requests.create_hold,
            AuditNote(
                actor,
                "reserve",
                detail=detail(
                    e164=e164,
                    reservation=hold.id,
                    setup=setup,
                    monthly=monthly,
                    policy=ctx.policy.hash,  # the hold limit it was allowed under
                ),
            ),
            kind="purchase",
            status="held",
            e164=e164,
            reservation_id=hold.id,
            setup_cost=setup,
            monthly_cost=monthly,
            requester=actor,
            hold_expires_at=expires,
            max_open=limit,
            now=ctx.clock(),
        )
        if isinstance(request, list):
            # Another reserve of theirs took the last place while Flowyte held this one.
            await self._give_back(actor, e164, hold.id)
            return await ctx.refuse(
                actor,
                "reserve",
                e164,
                "too_many_holds",
                holds_refusal(ctx.policy, request) or "You hold too many numbers already.",
                policy=ctx.policy.hash,
            )
        return Held(request)

    async def _give_back(self, actor: str, e164: str, reservation: str) -> None:
        """Release a hold Flowyte granted that numbot will not keep (nothing is charged)."""
        try:
            await self.ctx.flowyte.release_hold(reservation)
        except fe.FlowyteError as exc:
            logger.warning("could not give back hold %s: %s", reservation, type(exc).__name__)
            await self.ctx.audit(
                actor,
                "release_hold",
                e164,
                "failed",
                reservation=reservation,
                code=type(exc).__name__,
            )
        else:
            await self.ctx.audit(actor, "release_hold", e164, "ok", reservation=reservation)

    async def _quote(self, e164: str) -> tuple[Decimal | None, Decimal | None]:
        try:
            quote = await self.ctx.flowyte.get_available(e164)
        except fe.FlowyteError:
            logger.warning("no price for %s", e164)
            return None, None
        return quote.setup_cost, quote.monthly_cost

    async def requestable(self, actor: str, request_id: str) -> Request | Refused:
        """The hold `actor` may now request to buy, or why not (checked again on submit)."""
        ctx = self.ctx
        request = await ctx.load(request_id)
        if request is None or request.kind != "purchase":
            return await ctx.refuse(
                actor,
                "request_purchase",
                request_id[:40],
                "unknown",
                "That hold no longer exists. Search and reserve again.",
            )
        if actor != request.requester:
            return await ctx.refuse(
                actor,
                "request_purchase",
                request.id,
                "not_holder",
                f"Only <@{request.requester}>, who holds this number, can request its purchase.",
            )
        if request.status != "held":
            return await ctx.refuse(
                actor,
                "request_purchase",
                request.id,
                "already_requested",
                sentences.status_sentence(request),
            )
        if request.hold_expired(ctx.clock()):
            await self.expire(request, actor=actor)
            return await ctx.refuse(
                actor,
                "request_purchase",
                request.id,
                "expired",
                "The hold on that number lapsed. Search and reserve it again.",
            )
        hold = await self._sealed_hold(actor, request)
        return hold if isinstance(hold, Refused) else request

    async def _sealed_hold(self, actor: str, request: Request) -> Terms | Refused:
        """The hold's terms as sealed when it was taken (Flowyte's quote), never the row's;
        a row that disagrees with them raises the integrity alarm."""
        hold = held(request, await self.guard.steps(request))
        if isinstance(hold, Tampered):
            alarm = await self.guard.alarm(request, hold.why)
            return await self.ctx.refuse(
                actor, "request_purchase", request.id, alarm.code, alarm.message
            )
        return hold

    async def request_purchase(
        self, actor: str, request_id: str, reason: str
    ) -> Requested | Refused:
        ctx = self.ctx
        reason = clean_user_text(reason, max_length=MAX_REASON)  # whoever called, it is inert
        request = await self.requestable(actor, request_id)
        if isinstance(request, Refused):
            return request
        hold = await self._sealed_hold(actor, request)
        if isinstance(hold, Refused):
            return hold
        setup, monthly = hold.setup, hold.monthly
        if setup is None or monthly is None:
            # An approver must see what they approve: no price, no request.
            setup, monthly = await self._quote(hold.e164)
            if setup is None or monthly is None:
                return await ctx.refuse(
                    actor,
                    "request_purchase",
                    request.id,
                    "no_price",
                    "numbot could not learn this number's price from Flowyte, so it cannot ask "
                    "anyone to approve it. Try again in a minute.",
                )
        charge = setup + monthly
        policy = ctx.policy
        needed = approvals_needed(policy, "purchase", charge)
        terms = replace(
            hold, setup=setup, monthly=monthly, approvals_needed=needed, policy=policy.hash
        )

        def over(spent: Decimal, in_flight: Decimal, waiting: Decimal) -> tuple[str, str] | None:
            return request_refusal(policy, charge, MonthSpend(spent, in_flight, waiting))

        pending = await ctx.storage.run(
            ctx.storage.requests.file_purchase,
            request.id,
            note=AuditNote(
                actor,
                "request_purchase",
                detail=detail(
                    reason=reason,
                    approvals_needed=needed,
                    policy=policy.hash,
                    terms=terms.sealed(),
                ),
            ),
            month_start=ctx.month_start(),
            refusal=over,
            reason=reason,
            setup_cost=setup,
            monthly_cost=monthly,
            approvals_needed=needed,
        )
        if isinstance(pending, tuple):
            code, why = pending
            return await ctx.refuse(
                actor, "request_purchase", request.id, code, why, charge=charge, policy=policy.hash
            )
        if pending is None:
            return await ctx.refuse(
                actor,
                "request_purchase",
                request.id,
                "already_requested",
                "That number was already requested.",
            )
        ctx.moved(pending, ("held",))
        balance = await self.balance()
        posted = await self.post_card(pending, balance)
        return Requested(posted or pending, balance, posted is not None)

    async def request_release(
        self, actor: str, number_ref: str, reason: str
    ) -> Requested | Refused:
        ctx = self.ctx
        reason = clean_user_text(reason, max_length=MAX_REASON)
        number = await self.resolve(actor, "request_release", number_ref)
        if isinstance(number, Refused):
            return number
        open_requests = await ctx.storage.run(
            ctx.storage.requests.open_for_number, number.e164, "release"
        )
        if open_requests:
            return await ctx.refuse(
                actor,
                "request_release",
                number.e164,
                "already_requested",
                "A release of that number is already waiting for approval.",
            )
        policy = ctx.policy
        terms = Terms(
            kind="release",
            e164=number.e164,
            requester=actor,
            reservation="",
            number=number.id,
            setup=None,
            monthly=number.monthly_cost,
            approvals_needed=approvals_needed(policy, "release", None),
            policy=policy.hash,
        )
        request = await ctx.storage.run(
            ctx.storage.requests.create,
            AuditNote(
                actor,
                "request_release",
                detail=detail(
                    e164=number.e164,
                    number=number.id,
                    reason=reason,
                    approvals_needed=terms.approvals_needed,
                    policy=policy.hash,
                    terms=terms.sealed(),
                ),
            ),
            kind="release",
            status="pending",
            e164=number.e164,
            number_id=number.id,
            monthly_cost=number.monthly_cost,
            requester=actor,
            reason=reason,
            approvals_needed=terms.approvals_needed,
        )
        posted = await self.post_card(request, None)
        return Requested(posted or request, None, posted is not None)

    async def balance(self) -> Decimal | None:
        try:
            return (await self.ctx.flowyte.wallet()).balance_usd
        except fe.FlowyteError:
            logger.warning("wallet balance unavailable for the approval card")
            return None

    async def post_card(self, request: Request, balance: Decimal | None) -> Request | None:
        """Post the card, then record where it is, before anything else can happen."""
        ctx = self.ctx
        if ctx.notifier is None:
            return None
        try:
            month = budget_line(ctx.policy, await ctx.month_spend())
            bill = await ctx.bill_line(request, balance)
            channel, ts = await ctx.notifier.post_card(
                request, balance=balance, budget=month, bill=bill
            )
        except Exception:
            logger.exception("could not post the approval card for %s", request.id)
            await ctx.audit(SYSTEM, "post_card", request.id, "failed")
            return None
        await ctx.storage.run(
            ctx.storage.requests.set_fields,
            request.id,
            card_channel=channel,
            card_ts=ts,
            card_drawn=request.status,
            # The wallet as the card first showed it: every redraw says it again, with when.
            **(
                {"wallet_usd": balance, "wallet_seen_at": ctx.clock()}
                if balance is not None
                else {}
            ),
        )
        posted = await ctx.load(request.id)
        if posted is not None:
            await self._tell_approvers(posted, balance)
        return posted

    async def _tell_approvers(self, request: Request, balance: Decimal | None) -> None:
        """A copy in each approver's DM, remembered so every copy follows the decision."""
        ctx = self.ctx
        assert ctx.notifier is not None
        try:
            placed = await ctx.notifier.notify_approvers(request, balance=balance)
        except Exception:
            logger.exception("could not tell the approvers about %s", request.id)
            return
        for recipient, channel, ts in placed:
            await ctx.storage.run(
                ctx.storage.requests.add_copy, request.id, recipient, channel, ts, request.status
            )
        await ctx.audit(SYSTEM, "notify_approvers", request.id, "ok", told=len(placed))

    async def remind(self, request: Request) -> bool:
        """Once per request, however many processes: the hold lapses soon."""
        ctx = self.ctx
        if ctx.notifier is None:
            return False
        if not request.card_ts and ctx.clock() - request.last_change < CARD_BEING_POSTED:
            return False  # filed a moment ago, its card not posted yet: remind on the card
        if not await ctx.storage.run(ctx.storage.requests.claim_reminder, request.id, ctx.clock()):
            return False
        copies = await ctx.storage.run(ctx.storage.requests.copies, request.id)
        placed = [(c.recipient, c.channel, c.ts) for c in copies]
        try:
            await ctx.notifier.remind(request, placed)
        except Exception:
            logger.exception("could not remind the approvers of %s", request.id)
            await ctx.audit(SYSTEM, "remind", request.id, "failed")
            return True
        await ctx.audit(
            SYSTEM, "remind", request.id, "ok", told=len(placed), lapses=request.hold_expires_at
        )
        return True

    async def expire(self, request: Request, actor: str = SYSTEM) -> Request | None:
        ctx = self.ctx
        expired = await ctx.transition(
            request,
            ("held", "pending", "unfunded"),
            "expired",
            AuditNote(actor, "expire", detail=detail(hold_expires_at=request.hold_expires_at)),
        )
        if expired is not None:
            await ctx.update_card(expired)
            before = "the wallet was topped up" if request.status == "unfunded" else "approval"
            if expired.card_ts:
                await ctx.tell(
                    expired,
                    f"Your hold on {expired.e164} lapsed before {before}, so nothing was bought. Reserve it again to request it again.",
                )
        return expired

"""Deciding a request: approve and reject, at click time, against the request as stored.

Four-eyes is decided here: only a configured approver who is not the requester may
approve, and `pending -> approved` is a compare-and-set, so however many clicks arrive, in
however many processes, one wins. The approval's audit entry binds the terms sealed when the
request was filed (authority.py), never the row; then the executor carries it out.
"""

from __future__ import annotations

from decimal import Decimal

from bot.kernel.outcomes import Decided, Refused
from bot.kernel.text import MAX_REASON, clean_user_text, inert
from bot.workflow import sentences
from bot.workflow.approvers import Membership
from bot.workflow.authority import cap_refusal, needed_now
from bot.workflow.context import CLICKED_BY, Context, detail
from bot.workflow.execution import Executor
from bot.workflow.filing import Filing
from bot.workflow.policy import approval_refusal
from bot.workflow.settling import release_hold
from storage.requests import AuditNote, Request

# What a requester may cancel and an approver reject: before the money moves, and while an
# approved purchase waits for a top-up.
REJECTABLE = ("held", "pending", "unfunded")


class Decisions:
    def __init__(self, ctx: Context, executor: Executor, filing: Filing) -> None:
        self.ctx = ctx
        self.executor = executor
        self.filing = filing

    async def approve(self, actor: str, request_id: str) -> Decided | Refused:
        ctx = self.ctx
        CLICKED_BY.set(actor)  # their own copy is redrawn first
        request = await ctx.load(request_id)
        if request is None:
            return await ctx.refuse(
                actor, "approve", request_id[:40], "unknown", sentences.UNKNOWN_REQUEST
            )
        member = await ctx.approvers.check(actor)
        if not member.allowed:
            return await self._not_approver(actor, "approve", request, member)
        if actor == request.requester:
            return await ctx.refuse(
                actor,
                "approve",
                request.id,
                "self_approval",
                "You asked for this, so someone else must approve it. Nothing was bought.",
            )
        if request.status != "pending":
            return await ctx.refuse(
                actor,
                "approve",
                request.id,
                sentences.refusal_code(request),
                sentences.status_sentence(request),
            )
        if request.kind == "purchase" and request.hold_expired(ctx.clock()):
            expired = await self.filing.expire(request, actor=actor)
            if expired is not None:
                return await ctx.refuse(
                    actor,
                    "approve",
                    request.id,
                    "expired",
                    "The hold lapsed before approval, so nothing was bought. The requester can reserve it again.",
                )
            return await ctx.refuse(
                actor,
                "approve",
                request.id,
                "already_decided",
                "Someone else decided this request first.",
            )
        return await self._count(actor, request)

    async def _count(self, actor: str, request: Request) -> Decided | Refused:
        """Count the approval toward the request's quorum; the last one needed approves it
        (and the budget is checked again then, in the same transaction).

        What is approved are the terms sealed at filing (a row that disagrees with them is
        tampering), under the strictest of the policy it was filed under and the one in
        force now; approvals by people who may no longer approve do not count."""
        ctx = self.ctx
        policy = ctx.policy
        terms = await self.executor.guard.terms(request)
        if isinstance(terms, Refused):
            return await ctx.refuse(actor, "approve", request.id, terms.code, terms.message)
        over = cap_refusal(terms, policy)
        if over is not None:
            return await ctx.refuse(
                actor,
                "approve",
                request.id,
                over.code,
                f"Nothing was bought: {over.why}.",
                policy=policy.hash,
            )
        needed = needed_now(terms, policy)
        revoked = frozenset(
            [a for a in request.approvals if a != actor and not await ctx.approvers.includes(a)]
        )

        def sealed(row: Request, count: int, needed: int) -> str:
            # What the approval committed to, sealed: authority.py checks it before spending.
            return detail(
                binds=terms.binding(),
                count=count,
                needed=needed,
                policy=policy.hash,
                not_counted=sorted(revoked) or None,
            )

        def budget(row: Request, committed: Decimal) -> str | None:
            if terms.kind != "purchase":
                return None
            return approval_refusal(policy, terms.charge, committed)

        counted = await ctx.storage.run(
            ctx.storage.requests.approve,
            request.id,
            actor,
            detail=sealed,
            month_start=ctx.month_start(),
            needed=needed,
            revoked=revoked,
            budget=budget if policy.monthly_budget_usd is not None else None,
        )
        current = counted.request or request
        match counted.outcome:
            case "not_pending":
                return await ctx.refuse(
                    actor,
                    "approve",
                    request.id,
                    sentences.refusal_code(current),
                    sentences.status_sentence(current),
                )
            case "duplicate":
                return await ctx.refuse(
                    actor,
                    "approve",
                    request.id,
                    "already_counted",
                    f"Your approval is already counted ({counted.count} of {counted.needed}); "
                    "another approver must approve too.",
                    policy=policy.hash,
                )
            case "over_budget":
                return await ctx.refuse(
                    actor, "approve", request.id, "over_budget", counted.refusal, policy=policy.hash
                )
            case "counted":
                ctx.moved(current, ("pending",))
                await ctx.update_card(current, counted=True)
                more = counted.needed - counted.count
                return Decided(
                    current,
                    f"Your approval is counted: {counted.count} of {counted.needed}. "
                    f"It needs {more} more approver{'s' if more != 1 else ''} before anything is bought.",
                )
        # Before any Flowyte call: every copy shows who approved, without buttons.
        ctx.moved(current, ("pending",))
        await ctx.update_card(current)
        return await self.executor.execute(current)

    async def _not_approver(
        self, actor: str, action: str, request: Request, member: Membership
    ) -> Refused:
        """Refused: not an approver; or, when Slack could not say whether they are in an
        approvers' group, that (audited as such), to try again."""
        ctx = self.ctx
        if member.unreadable:
            return await ctx.refuse(
                actor,
                action,
                request.id,
                "membership_unknown",
                sentences.membership_unknown(member.unreadable),
                groups=list(member.unreadable),
            )
        what = "approve" if action == "approve" else "reject this request"
        return await ctx.refuse(
            actor,
            action,
            request.id,
            "not_approver",
            f"Only configured approvers can {what}, and you are not one. Ask an approver."
            if action == "approve"
            else "Only an approver or the requester can reject this request.",
            policy=ctx.policy.hash,
        )

    async def rejectable(
        self, actor: str, request_id: str, *, ask_slack: bool = True
    ) -> Request | Refused:
        """The request `actor` may now reject (or cancel, as its requester), or why not;
        checked again when it is rejected. `ask_slack=False` (before a modal's ack): decided
        from what numbot holds; someone whose group membership would need reading from
        Slack is let through, and checked when the rejection is made."""
        ctx = self.ctx
        request = await ctx.load(request_id)
        if request is None:
            return await ctx.refuse(
                actor, "reject", request_id[:40], "unknown", sentences.UNKNOWN_REQUEST
            )
        if actor != request.requester:
            if not ask_slack:
                may = ctx.approvers.includes_now(actor)
                member = Membership(may is not False)
            else:
                member = await ctx.approvers.check(actor)
            if not member.allowed:
                return await self._not_approver(actor, "reject", request, member)
        if request.status not in REJECTABLE:
            return await ctx.refuse(
                actor,
                "reject",
                request.id,
                sentences.refusal_code(request),
                sentences.status_sentence(request),
            )
        return request

    async def reject(self, actor: str, request_id: str, reason: str = "") -> Decided | Refused:
        ctx = self.ctx
        CLICKED_BY.set(actor)
        reason = clean_user_text(reason, max_length=MAX_REASON)
        request = await ctx.load(request_id)
        if request is None:
            return await ctx.refuse(
                actor, "reject", request_id[:40], "unknown", sentences.UNKNOWN_REQUEST
            )
        if actor == request.requester:
            to_status, action = "cancelled", "cancel"
        else:
            member = await ctx.approvers.check(actor)
            if not member.allowed:
                return await self._not_approver(actor, "reject", request, member)
            to_status, action = "rejected", "reject"
        done = await ctx.transition(
            request,
            REJECTABLE,
            to_status,
            AuditNote(actor, action, detail=detail(reason=reason or None)),
            decided_by=actor,
            detail=reason,
        )
        if done is None:
            current = await ctx.load(request.id) or request
            return await ctx.refuse(
                actor,
                action,
                request.id,
                sentences.refusal_code(current),
                sentences.status_sentence(current),
            )
        if done.kind == "purchase":
            await release_hold(ctx, done)
        await ctx.update_card(done)
        verb = "cancelled" if to_status == "cancelled" else f"rejected by <@{actor}>"
        if actor != done.requester:
            why = f" Their reason: {inert(reason)}" if reason else ""
            await ctx.tell(
                done, f"Your request for {done.e164} was {verb}. Nothing was charged.{why}"
            )
        return Decided(done, f"Request for {done.e164} {verb}.")

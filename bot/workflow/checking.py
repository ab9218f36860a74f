"""Settling an unknown outcome: one look at a time, until Flowyte's answers prove it.

    purchasing | releasing -> checking -> purchased | released | failed | unfunded

The rules of proof are pure (evidence.py); this is the asking. A purchase is replayed at every
look with the Idempotency-Key sealed when it was sent (the documented way to learn its
outcome), and the owned list is read for a while to find the number; a release is settled by
the owned list, read to a page that states it is the last. Looks are scheduled with backoff
under a lease, so one process looks at a time. The owned list has no time cap for a release
(50,000 numbers are 500 pages): each page has its own retry budget, and the look renews its
lease as pages come.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.flowyte import errors as fe
from bot.flowyte.models import OwnedNumber
from bot.kernel.outcomes import Decided, Refused
from bot.workflow import sentences
from bot.workflow.authority import Authority, Terms
from bot.workflow.context import SYSTEM, Context, detail, logger
from bot.workflow.evidence import (
    Owned,
    PurchaseEvidence,
    Verdict,
    next_check_delay,
    purchase_verdict,
    release_verdict,
    replay_outcome,
)
from bot.workflow.guard import Guard
from bot.workflow.settling import Settlement
from storage.requests import AuditNote, Request

ALERT_AFTER_CHECKS = 4  # tell the approval channel when a check drags on this long
# A walk of the owned list longer than this many pages, or three times what the index of
# owned numbers holds, proves nothing (a Flowyte whose cursors never end): "unknown".
MIN_PAGE_SANITY = 10_000


class LookLost(Exception):
    """Another process took the look over: this one must not conclude anything."""


class _Lease:
    """The claim on one look (the request's next_check_at), renewed while the owned list
    is read, however long that takes: a look that holds it is the only look. `walk_seconds`:
    how long this look may read the list before it leaves the rest to a later one (None: to
    its end); running out proves nothing either way."""

    def __init__(self, until: datetime, walk_seconds: float | None = None) -> None:
        self.until = until
        self.walk_seconds = walk_seconds


def checking_text(request: Request) -> str:
    """What people are told while numbot confirms an outcome, with when it looks next."""
    when = request.next_check_at
    following = f", and looks next at {sentences.slack_time(when)}" if when else ""
    text = sentences.CHECKING_PURCHASE if request.kind == "purchase" else sentences.CHECKING_RELEASE
    return text.format(e164=request.e164, next=following)


Replay = Callable[[Request, Terms, str], Awaitable[OwnedNumber | None]]


class Checker:
    """Looks again at a request whose outcome is unknown, until Flowyte's answers prove it.
    `replay` sends the spending call again with its first Idempotency-Key (the Executor's);
    `settle` ends the request as proven."""

    def __init__(self, ctx: Context, guard: Guard, settle: Settlement, replay: Replay) -> None:
        self.ctx = ctx
        self.guard = guard
        self.settle = settle
        self.replay = replay

    async def start(self, request: Request, **why: Any) -> Decided | Refused:
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
        await self.ctx.tell(checking, checking_text(checking))
        await asyncio.sleep(self.ctx.timing.grace)
        # The person who clicked waits for this first look: it reads the owned list for one
        # quiet window at most, and leaves a longer list to the sweep's looks.
        return await self.check(checking, walk_seconds=self.ctx.timing.quiet)

    async def check(
        self, request: Request, *, walk_seconds: float | None = None
    ) -> Decided | Refused:
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
            return Refused("checking", checking_text(request))  # another look is under way
        last_sent = request.last_sent_at or request.last_change
        settled = now - last_sent >= timedelta(seconds=ctx.timing.quiet)
        lease = _Lease(lease_until, walk_seconds)
        try:
            if request.kind == "purchase":
                # A replay can spend: on the sealed terms, or not at all. It replays the call
                # the last click's policy allowed (a new policy does not undo a sent call).
                auth = await self.guard.authority(request)
                if isinstance(auth, Refused):
                    return auth
                return await self._check_purchase(request, auth, lease)
            return await self._check_release(request, lease, settled=settled)
        except LookLost:
            logger.warning("check %s: another process took the look over", request.id)
            return Refused("checking", checking_text(request))

    async def _check_purchase(
        self, request: Request, auth: Authority, lease: _Lease
    ) -> Decided | Refused:
        """Replay the purchase (the same body and Idempotency-Key, as sealed): its success or
        the number in the owned list proves it bought; only a definite refusal of the replay
        proves it did not (evidence.py). Anything else: look again later."""
        if auth.sent_key is None:
            return await self.guard.alarm(request, "no sealed record of the call sent")
        try:
            bought = await self.replay(request, auth.terms, auth.sent_key)
        except fe.FlowyteError as exc:
            replay = replay_outcome(exc)
            refusal = exc
        else:
            assert bought is not None
            return await self.settle.purchased(request, bought, evidence="replay")
        if replay == "refused":
            return await self._refused(request, auth, refusal)
        owned, number = await self._look_for(request, lease)
        if number is not None:
            return await self.settle.purchased(request, number, evidence="owned_list")
        evidence = PurchaseEvidence(replay=replay, owned=owned)
        assert purchase_verdict(evidence) is Verdict.UNSURE
        return await self._still_unsure(request, replay=replay, owned=owned)

    async def _refused(
        self, request: Request, auth: Authority, exc: fe.FlowyteError
    ) -> Decided | Refused:
        """The replay was definitely refused: the purchase did not happen. A short wallet keeps
        the hold for a retry; otherwise the hold is given back first, and Flowyte answering
        that it is in use (409) means a purchase is running after all: look again."""
        assert isinstance(exc, fe.FlowyteAPIError)
        if isinstance(exc, fe.InsufficientBalance):
            return await self.settle.unfunded(request, exc, reconciled=True)
        gone = exc.code in ("reservation_expired", "reservation_not_found")
        if not gone and auth.terms.reservation:
            try:
                await self.ctx.flowyte.release_hold(auth.terms.reservation)
            except fe.Conflict:
                logger.warning("check %s: the hold is in use: a purchase is running", request.id)
                return await self._still_unsure(request, replay="refused", hold="in_use")
            except fe.FlowyteError as exc2:
                await self.ctx.audit(
                    SYSTEM, "release_hold", request.id, "failed", code=type(exc2).__name__
                )
            else:
                await self.ctx.audit(
                    SYSTEM, "release_hold", request.id, "ok", reservation=auth.terms.reservation
                )
        return await self.settle.fail(
            request,
            sentences.NOT_PURCHASED,
            to_status="expired" if exc.code == "reservation_expired" else "failed",
            hold_released=True,
            reconciled=True,
            replay="refused",
            status=exc.status,
            code=exc.code,
        )

    async def _check_release(
        self, request: Request, lease: _Lease, *, settled: bool
    ) -> Decided | Refused:
        owned, _ = await self._look_for(request, lease)
        verdict = release_verdict(owned, settled=settled)
        if verdict is Verdict.DONE:
            return await self.settle.released(request, evidence="owned_list")
        if verdict is Verdict.NOT_DONE:
            return await self.settle.fail(request, sentences.NOT_RELEASED, reconciled=True)
        return await self._still_unsure(request, owned=owned)

    async def _look_for(self, request: Request, lease: _Lease) -> tuple[Owned, OwnedNumber | None]:
        """Whether Flowyte's owned list has the request's number: "listed" as soon as a page
        shows it (the rest is not read), "absent" only once the whole list was read to a page
        that states it is the last, "unknown" when it could not be. No time cap: each page
        has its own retry budget, and the look's lease is renewed as the pages come, so a
        list of any length is read to its end by this look alone (LookLost otherwise). Only
        the first look, which the approver's click waits for, stops after `walk_seconds`,
        as "unknown": never an answer, just the rest left to the sweep's looks."""
        ctx = self.ctx
        indexed, _ = await ctx.storage.run(ctx.storage.owned.counts)
        sanity = max(MIN_PAGE_SANITY, 3 * (indexed // 100 + 1))
        pages = 0
        started = time.monotonic()
        over = False  # past walk_seconds: the page after this one ends the look
        try:
            async for page in ctx.flowyte.owned_pages(proof=True):
                for number in page:
                    if number.e164 == request.e164:
                        return "listed", number
                if over:
                    logger.info("check %s: a long owned list; a later look reads on", request.id)
                    return "unknown", None
                pages += 1
                if pages > sanity:
                    logger.warning("check %s: the owned list never ends", request.id)
                    return "unknown", None
                await self._renew(request, lease)
                over = lease.walk_seconds is not None and (
                    time.monotonic() - started > lease.walk_seconds
                )
        except fe.FlowyteError as exc:
            logger.warning(
                "check %s: owned numbers unreadable (%s)", request.id, type(exc).__name__
            )
            return "unknown", None
        return "absent", None

    async def _renew(self, request: Request, lease: _Lease) -> None:
        """Keep the look's claim at least two quiet windows ahead (one more page, then the
        inventory, each take less than one), compare-and-set; LookLost if it was taken."""
        ctx = self.ctx
        now = ctx.clock()
        if lease.until - now >= timedelta(seconds=2 * ctx.timing.quiet) and ctx.timing.quiet:
            return
        until = now + timedelta(seconds=ctx.timing.lease)
        if not await ctx.storage.run(
            ctx.storage.requests.claim_check, request.id, lease.until, until
        ):
            raise LookLost(request.id)
        lease.until = until

    async def _still_unsure(self, request: Request, **evidence: str) -> Refused:
        attempts = request.check_attempts + 1
        delay = next_check_delay(
            attempts, quiet=self.ctx.timing.quiet, cap=self.ctx.timing.check_backoff_cap
        )
        following = self.ctx.clock() + timedelta(seconds=delay)
        await self.ctx.storage.run(
            self.ctx.storage.requests.set_fields,
            request.id,
            check_attempts=attempts,
            next_check_at=following,
        )
        request = replace(request, check_attempts=attempts, next_check_at=following)
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
        return Refused("checking", checking_text(request))

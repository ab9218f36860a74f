"""What every part of the workflow shares: its collaborators, and the small steps they all take
(audit an action, refuse, move a request by compare-and-set, tell people).

Nothing here decides; the parts beside it do.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.flowyte import errors as fe
from bot.flowyte.client import FlowyteClient
from bot.flowyte.models import Agent, OwnedNumber
from bot.kernel.costs import bill_after, monthly_bill
from bot.kernel.outcomes import Refused
from bot.kernel.ports import Notifier
from bot.workflow import sentences
from bot.workflow.approvers import ApproverSet
from bot.workflow.painter import Painter
from bot.workflow.policy import NO_POLICY, MonthSpend, Policy, budget_line
from bot.workflow.storage_runner import Storage
from storage.audit import Outcome
from storage.owned import OwnedRow
from storage.requests import AuditNote, Request
from storage.rows import Copy

logger = logging.getLogger("bot.workflow")

# Who clicked, in the task handling their click: their own copy of a card is redrawn first.
CLICKED_BY: ContextVar[str | None] = ContextVar("numbot_clicked_by", default=None)

SYSTEM = "numbot"


def utcnow() -> datetime:
    return datetime.now(UTC)


def detail(**fields: Any) -> str:
    """An audit entry's detail: the non-empty fields as sorted JSON (amounts as strings)."""
    clean = {
        k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items() if v is not None
    }
    return json.dumps(clean, ensure_ascii=False, sort_keys=True, default=str)


def row_of(number: OwnedNumber) -> OwnedRow:
    """An owned number as the index keeps it (storage/owned.py)."""
    return OwnedRow(
        e164=number.e164,
        number_id=number.id,
        agent_id=number.default_agent_id,
        monthly_cost=number.monthly_cost,
        status=number.status,
    )


def number_of(row: OwnedRow) -> OwnedNumber:
    return OwnedNumber(
        id=row.number_id,
        e164=row.e164,
        default_agent_id=row.agent_id,
        monthly_cost=row.monthly_cost,
        status=row.status,
    )


@dataclass(frozen=True)
class Timing:
    """How long numbot waits before it takes a request up again, in seconds.

    `quiet` must be longer than any one Flowyte call can run: a request whose status has
    not moved for that long has no call still in flight in any numbot process.
    """

    quiet: float = 20.0
    grace: float = 3.0  # before the first look at an unknown outcome
    check_backoff_cap: float = 600.0  # the longest wait between two looks
    remind_minutes: float = 10.0  # remind approvers when a pending hold has this long left

    @property
    def lease(self) -> float:
        """How long one look at an unknown outcome holds its claim before another process may
        take the next look. A look renews it as it reads the owned list page by page
        (checking.py), so a list of any length is read by one look alone."""
        return 3 * self.quiet


@dataclass
class Context:
    flowyte: FlowyteClient
    storage: Storage
    approvers: ApproverSet
    notifier: Notifier | None
    sandbox: bool
    clock: Callable[[], datetime]
    timing: Timing
    policies: Callable[[], Policy] = lambda: NO_POLICY  # the policy in force, at each use
    # Told after each move of a request, to redraw App Home for the people it concerns
    # (bot/workflow/home_refresh.py). It only schedules work in the background.
    on_move: Callable[[Request, tuple[str, ...]], None] | None = None
    # Redraws cards in the background once started (bot/workflow/painter.py).
    painter: Painter | None = None
    # Marks Slack calls as background work, paced behind people's (bot/slack/pace.py).
    background: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext

    # -- the audit log and the requests table ---------------------------------------------

    async def audit(
        self, actor: str, action: str, subject: str, outcome: Outcome, **fields: Any
    ) -> None:
        await self.storage.run(
            self.storage.audit.append,
            actor=actor,
            action=action,
            subject=subject,
            outcome=outcome,
            detail=detail(**fields),
        )

    async def note_owned(self, number: OwnedNumber) -> None:
        """Keep the owned-number index (storage/owned.py) fresh with what numbot just did or
        saw. The index is a cache: failing to write it is logged, never fails the action."""
        try:
            await self.storage.run(self.storage.owned.put, [row_of(number)], self.clock())
        except Exception:
            logger.exception("could not note %s in the owned-number index", number.e164)

    async def note_gone(self, e164: str) -> None:
        """`e164` is not owned any more (released, or Flowyte says so): out of the index."""
        try:
            await self.storage.run(self.storage.owned.remove, e164)
        except Exception:
            logger.exception("could not take %s out of the owned-number index", e164)

    async def refuse(
        self, actor: str, action: str, subject: str, code: str, message: str, **fields: Any
    ) -> Refused:
        await self.audit(actor, action, subject, "refused", code=code, **fields)
        return Refused(code, message)

    @property
    def policy(self) -> Policy:
        return self.policies()

    def month_start(self) -> datetime:
        """The start of this UTC calendar month, which budgets count from."""
        now = self.clock().astimezone(UTC)
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    async def month_spend(self) -> MonthSpend:
        spent, in_flight, pending = await self.storage.run(
            self.storage.requests.month_spend, self.month_start()
        )
        return MonthSpend(spent, in_flight, pending)

    async def bill_line(self, request: Request, balance: Decimal | None) -> str | None:
        """For a purchase: the numbers' monthly bill, now and with this one, and how long the
        wallet then lasts, after paying for it (from the index; nothing is asked of Flowyte)."""
        if request.kind != "purchase":
            return None
        state = await self.storage.run(self.storage.owned.refresh_state)
        if state.complete_at is None:  # the index is not whole yet: never "$0.00 → …"
            return f"numbers: not known yet (numbot is still reading them: {state.seen:,} so far)"
        bill = monthly_bill(await self.storage.run(self.storage.costs.price_counts))
        return bill_after(bill, request.monthly_cost, balance, request.total_cost)

    async def flowyte_failed(
        self, actor: str, action: str, subject: str, exc: fe.FlowyteError
    ) -> Refused:
        status = exc.status if isinstance(exc, fe.FlowyteAPIError) else None
        code = exc.code if isinstance(exc, fe.FlowyteAPIError) else type(exc).__name__
        await self.audit(actor, action, subject, "failed", status=status, code=code)
        if isinstance(exc, fe.OutcomeUnknown):
            # Only purchases and releases are checked until known; for anything else, say how to look.
            return Refused("flowyte", sentences.UNKNOWN_NOT_CHECKED)
        return Refused("flowyte", exc.explain())

    async def transition(
        self,
        request: Request,
        from_statuses: tuple[str, ...],
        to_status: str,
        note: AuditNote,
        **changes: Any,
    ) -> Request | None:
        moved = await self.storage.run(
            self.storage.requests.transition,
            request.id,
            from_statuses=from_statuses,
            to_status=to_status,
            note=note,
            **changes,
        )
        if moved is not None:
            self.moved(moved, from_statuses)
        return moved

    async def load(self, request_id: str) -> Request | None:
        if not sentences.REQUEST_ID.fullmatch(request_id):
            return None
        return await self.storage.run(self.storage.requests.get, request_id)

    # -- people -----------------------------------------------------------------------------

    def moved(self, request: Request, from_statuses: tuple[str, ...] = ()) -> None:
        """`request` was created or moved out of `from_statuses`: redraw the App Home of
        the people it concerns, in the background. Never raises: the move is committed."""
        if self.on_move is None:
            return
        try:
            self.on_move(request, from_statuses)
        except Exception:
            logger.exception("could not schedule the Home redraws for %s", request.id)

    async def safely(self, what: str, coro: Any) -> bool:
        """Slack-side follow-ups must not undo a decision already committed."""
        try:
            await coro
        except Exception:
            logger.exception("could not %s", what)
            return False
        return True

    async def update_card(self, request: Request, *, counted: bool = False) -> None:
        """Redraw every copy of the request's card: in the background once the painter is
        started (bot/workflow/painter.py: nothing waits on Slack), inline before that."""
        clicked = CLICKED_BY.get()
        if self.painter is not None and self.painter.started:
            self.painter.paint(request.id, counted, clicked)
            return
        await self.draw_card(
            request, counted=counted, first=frozenset() if clicked is None else frozenset({clicked})
        )

    async def redraw(self, request_id: str, counted: bool, first: frozenset[str]) -> None:
        """The painter's draw: the request as it stands now."""
        request = await self.load(request_id)
        if request is not None:
            await self.draw_card(request, counted=counted, first=first)

    async def draw_card(
        self, request: Request, *, counted: bool = False, first: frozenset[str] = frozenset()
    ) -> None:
        """Redraw every copy of the request's card (the copies of those who clicked, `first`,
        then the channel's card, then each other approver's DM as background work), and tell
        the card's thread what changed since it was last drawn. What each copy shows is
        remembered, so the sweep can repair an update that failed."""
        notifier = self.notifier
        if notifier is None or not request.card_ts:
            return
        # `counted`: an approval was counted toward a quorum: the status is the same, but every
        # copy shows "1 of 2" and the thread hears who approved.
        moved = counted or (request.card_drawn is not None and request.card_drawn != request.status)
        copies = [
            copy
            for copy in await self.storage.run(self.storage.requests.copies, request.id)
            if copy.drawn != request.status or counted
        ]
        for copy in copies:  # the person who clicked is looking at theirs
            if copy.recipient in first:
                await self._draw_copy(request, copy)
        # While it waits, the card keeps the lines its first drawing had: the month against the
        # budget and the bill with this number, as they stand now, with the balance it showed.
        budget = bill = None
        if request.status == "pending":
            budget = budget_line(self.policy, await self.month_spend())
            bill = await self.bill_line(request, request.wallet_usd)
        redraw = notifier.update_card(request, budget=budget, bill=bill)
        if await self.safely(f"update the card of {request.id}", redraw):
            await self.storage.run(
                self.storage.requests.set_fields, request.id, card_drawn=request.status
            )
        with self.background():  # paced by Slack's tiers, after what people wait for
            for copy in copies:
                if copy.recipient not in first:
                    await self._draw_copy(request, copy)
            if moved:
                await self.safely(f"tell the thread of {request.id}", notifier.narrate(request))

    async def _draw_copy(self, request: Request, copy: Copy) -> None:
        assert self.notifier is not None
        if await self.safely(
            f"update {copy.recipient}'s copy of {request.id}",
            self.notifier.update_copy(request, copy.recipient, copy.channel, copy.ts),
        ):
            await self.storage.run(self.storage.requests.copy_drawn, copy, request.status)

    async def tell(self, request: Request, text: str, agents: list[Agent] | None = None) -> None:
        if self.notifier:
            await self.safely(
                f"tell {request.requester} about {request.id}",
                self.notifier.tell_requester(request, text, agents=agents),
            )

    async def alert(self, text: str) -> None:
        """Something an operator must look at, in the approval channel."""
        if self.notifier:
            await self.safely("alert the approval channel", self.notifier.alert(text))

    async def notice(self, text: str) -> bool:
        """Something the team should know (the wallet runs low), in the digest channel.
        Whether it was posted (False: Slack would not take it, or there is no notifier)."""
        if self.notifier is None:
            return False
        return await self.safely("post a notice", self.notifier.post_notice(text))

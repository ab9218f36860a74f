"""The numbers workflow: policy, state transitions, Flowyte calls and the audit trail.

Everything that decides money happens here, against the request's state in SQLite:

- four-eyes: only a configured approver who is not the requester may approve;
- exactly once: approve moves `pending -> approved -> purchasing` by compare-and-set, so
  however many clicks arrive, in however many processes, one of them buys; the purchase
  carries an Idempotency-Key derived from the request id, so a resend replays;
- an unknown outcome (timeout, reset, 5xx) leaves the request `purchasing` and is settled
  by looking at the numbers Flowyte says we own (`reconcile`);
- every action and every refusal is written to the audit log.

The service reaches people only through a `Notifier` (bot/ports.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.flowyte import errors as fe
from bot.flowyte.client import FlowyteClient
from bot.flowyte.models import Agent, OwnedNumber, SearchQuery
from bot.money import usd
from bot.outcomes import (
    Assigned,
    Decided,
    Held,
    Imported,
    NumberList,
    Published,
    Refused,
    Requested,
    SearchResults,
    Unassigned,
    WalletView,
)
from bot.ports import Notifier
from bot.redact import redact
from bot.storage_runner import Storage
from storage.audit import Outcome
from storage.requests import IN_FLIGHT_STATUSES, AuditNote, Request

logger = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
NUMBER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
AGENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REQUEST_ID = re.compile(r"^req_[0-9a-f]{12}$")
DEFAULT_HOLD = timedelta(minutes=30)
SYSTEM = "numbot"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _detail(**fields: Any) -> str:
    clean = {
        k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items() if v is not None
    }
    return redact(json.dumps(clean, ensure_ascii=False, sort_keys=True, default=str))


class NumbersService:
    def __init__(
        self,
        *,
        flowyte: FlowyteClient,
        storage: Storage,
        approvers: frozenset[str] | set[str] | tuple[str, ...],
        notifier: Notifier | None = None,
        sandbox: bool = False,
        clock: Callable[[], datetime] = _utcnow,
        reconcile_grace: float = 3.0,
        in_flight_timeout: float = 20.0,
    ) -> None:
        self.flowyte = flowyte
        self.storage = storage
        self.approvers = frozenset(approvers)
        self.notifier = notifier
        self.sandbox = sandbox
        self.clock = clock
        self.reconcile_grace = reconcile_grace
        self.in_flight_timeout = in_flight_timeout

    # -- helpers ---------------------------------------------------------------------

    async def _audit(
        self, actor: str, action: str, subject: str, outcome: Outcome, **detail: Any
    ) -> None:
        await self.storage.run(
            self.storage.audit.append,
            actor=actor,
            action=action,
            subject=subject,
            outcome=outcome,
            detail=_detail(**detail),
        )

    async def _refuse(
        self, actor: str, action: str, subject: str, code: str, message: str
    ) -> Refused:
        await self._audit(actor, action, subject, "refused", code=code)
        return Refused(code, message)

    async def _flowyte_failed(
        self, actor: str, action: str, subject: str, exc: fe.FlowyteError
    ) -> Refused:
        status = exc.status if isinstance(exc, fe.FlowyteAPIError) else None
        code = exc.code if isinstance(exc, fe.FlowyteAPIError) else type(exc).__name__
        await self._audit(actor, action, subject, "failed", status=status, code=code)
        if isinstance(exc, fe.OutcomeUnknown):
            # Only purchases and releases are reconciled; for anything else, say how to look.
            return Refused(
                "flowyte",
                "Flowyte did not answer in time, so numbot cannot tell whether that happened. "
                "Check with `/numbers list` (or search again) before you retry.",
            )
        return Refused("flowyte", exc.explain())

    async def _transition(
        self,
        request: Request,
        from_statuses: tuple[str, ...],
        to_status: str,
        note: AuditNote,
        **changes: Any,
    ) -> Request | None:
        return await self.storage.run(
            self.storage.requests.transition,
            request.id,
            from_statuses=from_statuses,
            to_status=to_status,
            note=note,
            **changes,
        )

    async def _load(self, request_id: str) -> Request | None:
        if not REQUEST_ID.fullmatch(request_id):
            return None
        return await self.storage.run(self.storage.requests.get, request_id)

    async def _safely(self, what: str, coro: Any) -> None:
        """Slack-side follow-ups must not undo a decision already committed."""
        try:
            await coro
        except Exception:
            logger.exception("could not %s", what)

    async def _update_card(self, request: Request) -> None:
        if self.notifier and request.card_ts:
            await self._safely(
                f"update the card of {request.id}", self.notifier.update_card(request)
            )

    async def _tell(self, request: Request, text: str, agents: list[Agent] | None = None) -> None:
        if self.notifier:
            await self._safely(
                f"tell {request.requester} about {request.id}",
                self.notifier.tell_requester(request, text, agents=agents),
            )

    # -- reads -------------------------------------------------------------------------

    async def search(self, actor: str, query: SearchQuery) -> SearchResults | Refused:
        params = query.params()
        try:
            numbers = await self.flowyte.search(query)
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, "search", params.get("areaCode", "-"), exc)
        await self._audit(
            actor, "search", params.get("areaCode", "-"), "ok", query=params, results=len(numbers)
        )
        return SearchResults(query, numbers)

    async def wallet(self, actor: str) -> WalletView | Refused:
        try:
            wallet = await self.flowyte.wallet()
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, "wallet", "wallet", exc)
        await self._audit(actor, "wallet", "wallet", "ok")
        return WalletView(wallet)

    async def list_numbers(self, actor: str) -> NumberList | Refused:
        try:
            numbers, agents = await asyncio.gather(
                self.flowyte.list_numbers(), self.flowyte.list_agents()
            )
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, "list", "numbers", exc)
        await self._audit(actor, "list", "numbers", "ok", count=len(numbers))
        return NumberList(numbers, {a.id: a for a in agents})

    async def agents(self) -> list[Agent]:
        try:
            return await self.flowyte.list_agents()
        except fe.FlowyteError:
            logger.warning("could not list agents for the menu")
            return []

    async def request(self, request_id: str) -> Request | None:
        return await self._load(request_id)

    # -- hold and request --------------------------------------------------------------

    async def reserve(self, actor: str, e164: str) -> Held | Refused:
        if not E164.fullmatch(e164):
            return await self._refuse(
                actor,
                "reserve",
                e164[:32],
                "bad_input",
                "That is not a phone number in +E.164 form.",
            )
        try:
            hold = await self.flowyte.reserve(e164)
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, "reserve", e164, exc)
        setup, monthly = hold.setup_cost, hold.monthly_cost
        if setup is None or monthly is None:
            try:
                quote = await self.flowyte.get_available(e164)
                setup, monthly = quote.setup_cost, quote.monthly_cost
            except fe.FlowyteError:
                logger.warning("no price for %s after reserving it", e164)
        expires = hold.expires_at or (self.clock() + DEFAULT_HOLD)
        request = await self.storage.run(
            self.storage.requests.create,
            AuditNote(
                actor,
                "reserve",
                detail=_detail(e164=e164, reservation=hold.id, setup=setup, monthly=monthly),
            ),
            kind="purchase",
            status="held",
            e164=e164,
            reservation_id=hold.id,
            setup_cost=setup,
            monthly_cost=monthly,
            requester=actor,
            hold_expires_at=expires,
        )
        return Held(request)

    async def requestable(self, actor: str, request_id: str) -> Request | Refused:
        """The hold `actor` may now request to buy, or why not (checked again on submit)."""
        request = await self._load(request_id)
        if request is None or request.kind != "purchase":
            return await self._refuse(
                actor,
                "request_purchase",
                request_id[:40],
                "unknown",
                "That hold no longer exists. Search and reserve again.",
            )
        if actor != request.requester:
            return await self._refuse(
                actor,
                "request_purchase",
                request.id,
                "not_holder",
                f"Only <@{request.requester}>, who holds this number, can request its purchase.",
            )
        if request.status != "held":
            return await self._refuse(
                actor,
                "request_purchase",
                request.id,
                "already_requested",
                _status_sentence(request),
            )
        if request.hold_expired(self.clock()):
            await self._expire(request, actor=actor)
            return await self._refuse(
                actor,
                "request_purchase",
                request.id,
                "expired",
                "The hold on that number has expired. Search and reserve again.",
            )
        return request

    async def request_purchase(
        self, actor: str, request_id: str, reason: str
    ) -> Requested | Refused:
        request = await self.requestable(actor, request_id)
        if isinstance(request, Refused):
            return request
        pending = await self._transition(
            request,
            ("held",),
            "pending",
            AuditNote(actor, "request_purchase", detail=_detail(reason=reason)),
            reason=reason,
        )
        if pending is None:
            return await self._refuse(
                actor,
                "request_purchase",
                request.id,
                "already_requested",
                "That number was already requested.",
            )
        balance = await self._balance()
        posted = await self._post_card(pending, balance)
        return Requested(posted or pending, balance, posted is not None)

    async def request_release(
        self, actor: str, number_ref: str, reason: str
    ) -> Requested | Refused:
        number = await self._resolve_number(actor, "request_release", number_ref)
        if isinstance(number, Refused):
            return number
        open_requests = await self.storage.run(
            self.storage.requests.open_for_number, number.e164, "release"
        )
        if open_requests:
            return await self._refuse(
                actor,
                "request_release",
                number.e164,
                "already_requested",
                "A release of that number is already waiting for approval.",
            )
        request = await self.storage.run(
            self.storage.requests.create,
            AuditNote(
                actor,
                "request_release",
                detail=_detail(e164=number.e164, number=number.id, reason=reason),
            ),
            kind="release",
            status="pending",
            e164=number.e164,
            number_id=number.id,
            monthly_cost=number.monthly_cost,
            requester=actor,
            reason=reason,
        )
        posted = await self._post_card(request, None)
        return Requested(posted or request, None, posted is not None)

    async def _balance(self) -> Decimal | None:
        try:
            return (await self.flowyte.wallet()).balance_usd
        except fe.FlowyteError:
            logger.warning("wallet balance unavailable for the approval card")
            return None

    async def _post_card(self, request: Request, balance: Decimal | None) -> Request | None:
        """Post the card, then record where it is, before anything else can happen."""
        if self.notifier is None:
            return None
        try:
            channel, ts = await self.notifier.post_card(request, balance=balance)
        except Exception:
            logger.exception("could not post the approval card for %s", request.id)
            await self._audit(SYSTEM, "post_card", request.id, "failed")
            return None
        await self.storage.run(
            self.storage.requests.set_fields, request.id, card_channel=channel, card_ts=ts
        )
        return await self._load(request.id)

    # -- decisions ---------------------------------------------------------------------

    async def approve(self, actor: str, request_id: str) -> Decided | Refused:
        request = await self._load(request_id)
        if request is None:
            return await self._refuse(
                actor,
                "approve",
                request_id[:40],
                "unknown",
                "That request does not exist (the message may be from an old install).",
            )
        if actor not in self.approvers:
            return await self._refuse(
                actor,
                "approve",
                request.id,
                "not_approver",
                "Only configured approvers can approve, and you are not one. Ask an approver.",
            )
        if actor == request.requester:
            return await self._refuse(
                actor,
                "approve",
                request.id,
                "self_approval",
                "You asked for this, so someone else must approve it. Nothing was bought.",
            )
        if request.status != "pending":
            return await self._refuse(
                actor, "approve", request.id, _refusal_code(request), _status_sentence(request)
            )
        if request.kind == "purchase" and request.hold_expired(self.clock()):
            expired = await self._expire(request, actor=actor)
            if expired is not None:
                return await self._refuse(
                    actor,
                    "approve",
                    request.id,
                    "expired",
                    "The hold expired before approval, so nothing was bought. The requester can reserve it again.",
                )
            return await self._refuse(
                actor,
                "approve",
                request.id,
                "already_decided",
                "Someone else decided this request first.",
            )
        approved = await self._transition(
            request, ("pending",), "approved", AuditNote(actor, "approve"), decided_by=actor
        )
        if approved is None:
            current = await self._load(request.id)
            return await self._refuse(
                actor,
                "approve",
                request.id,
                _refusal_code(current or request),
                _status_sentence(current or request),
            )
        return await self._execute(approved)

    async def reject(self, actor: str, request_id: str) -> Decided | Refused:
        request = await self._load(request_id)
        if request is None:
            return await self._refuse(
                actor,
                "reject",
                request_id[:40],
                "unknown",
                "That request does not exist (the message may be from an old install).",
            )
        if actor == request.requester:
            to_status, action = "cancelled", "cancel"
        elif actor in self.approvers:
            to_status, action = "rejected", "reject"
        else:
            return await self._refuse(
                actor,
                "reject",
                request.id,
                "not_approver",
                "Only an approver or the requester can reject this request.",
            )
        done = await self._transition(
            request, ("held", "pending"), to_status, AuditNote(actor, action), decided_by=actor
        )
        if done is None:
            current = await self._load(request.id)
            return await self._refuse(
                actor,
                action,
                request.id,
                _refusal_code(current or request),
                _status_sentence(current or request),
            )
        if done.kind == "purchase":
            await self._release_hold(done)
        await self._update_card(done)
        verb = "cancelled" if to_status == "cancelled" else f"rejected by <@{actor}>"
        if actor != done.requester:
            await self._tell(done, f"Your request for {done.e164} was {verb}. Nothing was charged.")
        return Decided(done, f"Request for {done.e164} {verb}.")

    async def _release_hold(self, request: Request) -> None:
        if not request.reservation_id:
            return
        try:
            await self.flowyte.release_hold(request.reservation_id)
        except fe.FlowyteError as exc:
            # The hold lapses on its own within 30 minutes; nothing is charged either way.
            logger.warning(
                "could not release hold %s: %s", request.reservation_id, type(exc).__name__
            )
            await self._audit(SYSTEM, "release_hold", request.id, "failed", code=type(exc).__name__)
        else:
            await self._audit(
                SYSTEM, "release_hold", request.id, "ok", reservation=request.reservation_id
            )

    async def _expire(self, request: Request, actor: str = SYSTEM) -> Request | None:
        expired = await self._transition(
            request,
            ("held", "pending"),
            "expired",
            AuditNote(actor, "expire", detail=_detail(hold_expires_at=request.hold_expires_at)),
        )
        if expired is not None:
            await self._update_card(expired)
            if expired.card_ts:
                await self._tell(
                    expired,
                    f"Your hold on {expired.e164} expired before approval, so nothing was bought. Reserve it again to request it again.",
                )
        return expired

    async def expire_holds(self) -> int:
        """Mark every open request whose hold has lapsed as expired; return how many."""
        now = self.clock()
        count = 0
        for request in await self.storage.run(self.storage.requests.with_status, "held", "pending"):
            if (
                request.kind == "purchase"
                and request.hold_expired(now)
                and await self._expire(request)
            ):
                count += 1
        return count

    # -- carrying out an approved request ----------------------------------------------

    async def _execute(self, approved: Request) -> Decided | Refused:
        """Carry out an approved purchase or release, once, and settle its outcome."""
        working = "purchasing" if approved.kind == "purchase" else "releasing"
        if approved.kind == "purchase":
            # Checked while still `approved`, so the `purchasing` window below covers exactly
            # one Flowyte call, which is what the sweep's in_flight_timeout allows for.
            changed = await self._price_change(approved)
            if changed:
                return await self._fail(approved, changed, code="price_changed")
        request = await self._transition(
            approved,
            ("approved",),
            working,
            AuditNote(
                SYSTEM,
                f"{approved.kind}_started",
                detail=_detail(idempotency_key=approved.idempotency_key),
            ),
        )
        if request is None:
            return Refused("in_flight", "This request is already being carried out.")
        try:
            if request.kind == "purchase":
                owned = await self.flowyte.purchase(
                    request.e164, request.reservation_id, idempotency_key=request.idempotency_key
                )
            else:
                await self.flowyte.release_number(request.number_id or "")
        except (fe.OutcomeUnknown, fe.ServerError) as exc:
            # It may have happened. Never resend blindly: ask Flowyte what we own.
            logger.warning(
                "%s %s: outcome unknown (%s)", request.kind, request.id, type(exc).__name__
            )
            await self._audit(SYSTEM, request.kind, request.id, "unknown", error=type(exc).__name__)
            await self._update_card(request)
            settled = await self.reconcile_request(request, grace=self.reconcile_grace)
            return settled or Refused("unknown_outcome", exc.explain())
        except (fe.FlowyteUnavailable, fe.RateLimited) as exc:
            # Unreachable, or turned away before doing anything (429): nothing happened, so
            # the request goes back to pending, keeps its hold, and can be approved again.
            back = await self._transition(
                request,
                (working,),
                "pending",
                AuditNote(SYSTEM, request.kind, "failed", _detail(error="unreachable")),
                decided_by=None,
            )
            if back is not None:
                await self._update_card(back)
            return Refused("flowyte", exc.explain() + " The request is waiting for approval again.")
        except fe.FlowyteAPIError as exc:
            expired = exc.code == "reservation_expired"
            return await self._fail(
                request,
                exc.explain(),
                to_status="expired" if expired else "failed",
                status=exc.status,
                code=exc.code,
            )
        if request.kind == "purchase":
            return await self._purchased(request, owned)
        return await self._released(request)

    async def _price_change(self, request: Request) -> str | None:
        """An approval binds to the quote on the card: refuse if Flowyte now asks more."""
        try:
            quote = await self.flowyte.get_available(request.e164)
        except fe.FlowyteError:
            return None  # no fresh quote; the reservation holds the price
        setup, monthly = quote.setup_cost, quote.monthly_cost
        if (
            setup is None
            or monthly is None
            or request.setup_cost is None
            or request.monthly_cost is None
        ):
            return None
        if setup <= request.setup_cost and monthly <= request.monthly_cost:
            return None  # the same, or cheaper: the approval still holds
        return (
            f"Flowyte's price went up since the request (now {usd(quote.setup_cost or Decimal(0))} setup, "
            f"{usd(quote.monthly_cost or Decimal(0))}/month), so nothing was bought. Request it again at the new price."
        )

    async def _purchased(self, request: Request, owned: OwnedNumber) -> Decided:
        done = await self._transition(
            request,
            ("purchasing",),
            "purchased",
            AuditNote(
                SYSTEM,
                "purchase",
                detail=_detail(number=owned.id, e164=owned.e164, charged=request.total_cost),
            ),
            number_id=owned.id,
        )
        done = done or await self._load(request.id) or request
        await self._update_card(done)
        agents = await self.agents()
        cost = f" for {usd(done.total_cost)}" if done.total_cost is not None else ""
        await self._tell(
            done,
            f"{done.e164} is yours{cost}, approved by <@{done.decided_by}>. Pick the agent it should ring:",
            agents=agents,
        )
        return Decided(done, f"Bought {done.e164}.", agents)

    async def _fail(
        self, request: Request, why: str, *, to_status: str = "failed", **detail: Any
    ) -> Refused:
        failed = await self._transition(
            request,
            ("approved", "purchasing", "releasing"),
            to_status,
            AuditNote(SYSTEM, request.kind, "failed", _detail(**detail)),
            detail=why,
        )
        if failed is None:
            return Refused("in_flight", "This request changed meanwhile.")
        if failed.kind == "purchase":
            await self._release_hold(failed)
        await self._update_card(failed)
        await self._tell(failed, f"Your request for {failed.e164} failed: {why}")
        return Refused(to_status, why)

    async def _released(self, request: Request) -> Decided:
        done = await self._transition(
            request,
            ("releasing",),
            "released",
            AuditNote(SYSTEM, "release", detail=_detail(number=request.number_id)),
        )
        done = done or await self._load(request.id) or request
        await self._update_card(done)
        await self._tell(
            done, f"{done.e164} was released to the carrier, approved by <@{done.decided_by}>."
        )
        return Decided(done, f"Released {done.e164}.")

    # -- recovery ------------------------------------------------------------------------

    async def reconcile_request(
        self, request: Request, *, grace: float = 0.0
    ) -> Decided | Refused | None:
        """Settle a request whose purchase or release may or may not have happened.

        Flowyte's list of owned numbers is the truth: the number is there (bought / not yet
        released) or it is not. If Flowyte cannot be asked, the request stays as it is and
        the next reconcile tries again.
        """
        try:
            owned = {n.e164: n for n in await self.flowyte.list_numbers()}
            if grace and (request.e164 in owned) != (request.status == "purchasing"):
                # A call that timed out may still be finishing at Flowyte: look once more.
                await asyncio.sleep(grace)
                owned = {n.e164: n for n in await self.flowyte.list_numbers()}
        except fe.FlowyteError as exc:
            logger.warning("reconcile %s: cannot list numbers (%s)", request.id, type(exc).__name__)
            return None
        if request.status == "purchasing":
            if request.e164 in owned:
                return await self._purchased(request, owned[request.e164])
            return await self._fail(
                request,
                "Flowyte shows no purchase of this number, so nothing was charged. Reserve it and request again.",
                reconciled=True,
            )
        if request.status == "releasing":
            if request.e164 not in owned:
                return await self._released(request)
            return await self._fail(
                request,
                "Flowyte still lists this number as ours: it was not released. Request the release again.",
                reconciled=True,
            )
        return None

    async def resume(self) -> int:
        """Finish what was left half-done and expire lapsed holds; return how many were touched.

        Runs at start and then periodically. A request is only taken up once it has not
        changed for `in_flight_timeout` seconds: by then no Flowyte call that any numbot
        process started for it can still be running, so a second process, or this one
        after a restart, never settles a purchase another process is still making.
        """
        quiet_since = datetime.now(UTC) - timedelta(seconds=self.in_flight_timeout)
        count = 0
        unfinished = await self.storage.run(
            self.storage.requests.with_status, "pending", "approved", "purchasing", "releasing"
        )
        for request in unfinished:
            if request.last_change > quiet_since:
                continue
            if request.status == "pending":
                if request.card_ts is None:  # the card was never posted (Slack down, or a crash)
                    balance = await self._balance() if request.kind == "purchase" else None
                    await self._post_card(request, balance)
                    count += 1
                continue
            await self._audit(SYSTEM, "resume", request.id, "ok", status=request.status)
            if request.status == "approved":
                await self._execute(request)
            else:
                await self.reconcile_request(request)
            count += 1
        count += await self.expire_holds()
        return count

    # -- routing -------------------------------------------------------------------------

    async def _resolve_number(self, actor: str, action: str, ref: str) -> OwnedNumber | Refused:
        try:
            if ref.startswith("+"):
                if not E164.fullmatch(ref):
                    return await self._refuse(
                        actor,
                        action,
                        ref[:32],
                        "bad_input",
                        "That is not a phone number in +E.164 form.",
                    )
                for number in await self.flowyte.list_numbers():
                    if number.e164 == ref:
                        return number
                return await self._refuse(
                    actor,
                    action,
                    ref,
                    "not_owned",
                    f"{ref} is not one of this organization's numbers. `/numbers list` shows them.",
                )
            if not NUMBER_ID.fullmatch(ref):
                return await self._refuse(
                    actor,
                    action,
                    ref[:32],
                    "bad_input",
                    "Give a number as +E.164 or its Flowyte id.",
                )
            return await self.flowyte.get_number(ref)
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, action, ref, exc)

    async def assign(self, actor: str, number_ref: str, agent_id: str) -> Assigned | Refused:
        if not AGENT_ID.fullmatch(agent_id):
            return await self._refuse(
                actor, "assign", number_ref[:32], "bad_input", "That is not an agent id."
            )
        number = await self._resolve_number(actor, "assign", number_ref)
        if isinstance(number, Refused):
            return number
        try:
            assigned = await self.flowyte.assign(number.id, agent_id)
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, "assign", number.e164, exc)
        agent = await self._agent_or_none(agent_id)
        await self._audit(
            actor,
            "assign",
            number.e164,
            "ok",
            agent=agent_id,
            published=agent.published if agent else None,
        )
        return Assigned(assigned, agent)

    async def assign_purchased(
        self, actor: str, request_id: str, agent_id: str
    ) -> Assigned | Refused:
        """Route the number a purchase request bought (the menu offered after a purchase)."""
        request = await self._load(request_id)
        if request is None or request.status != "purchased" or not request.number_id:
            return await self._refuse(
                actor,
                "assign",
                request_id[:40],
                "unknown",
                "numbot does not know that purchase. Use `/numbers assign <number> <agent id>`.",
            )
        return await self.assign(actor, request.number_id, agent_id)

    async def unassign(self, actor: str, number_ref: str) -> Unassigned | Refused:
        number = await self._resolve_number(actor, "unassign", number_ref)
        if isinstance(number, Refused):
            return number
        try:
            result = await self.flowyte.unassign(number.id)
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, "unassign", number.e164, exc)
        await self._audit(
            actor, "unassign", number.e164, "ok", previous_agent=number.default_agent_id
        )
        return Unassigned(
            result or number.model_copy(update={"default_agent_id": None, "status": "available"})
        )

    async def publish(self, actor: str, agent_id: str) -> Published | Refused:
        if not AGENT_ID.fullmatch(agent_id):
            return await self._refuse(
                actor, "publish", agent_id[:32], "bad_input", "That is not an agent id."
            )
        try:
            agent = await self.flowyte.get_agent(agent_id)
            # One key per draft version: a double click or a Slack retry replays, while
            # publishing again after new edits (a new version) is a new publish.
            key = f"numbot-publish-{agent.id}-v{agent.version}"
            version = await self.flowyte.publish(
                agent.id, idempotency_key=key, note="Published from Slack with numbot"
            )
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, "publish", agent_id, exc)
        await self._audit(actor, "publish", agent_id, "ok", version=version.id)
        return Published(agent_id, version)

    async def import_number(
        self, actor: str, e164: str, agent_id: str | None
    ) -> Imported | Refused:
        if not E164.fullmatch(e164):
            return await self._refuse(
                actor,
                "import",
                e164[:32],
                "bad_input",
                "That is not a phone number in +E.164 form.",
            )
        if agent_id is not None and not AGENT_ID.fullmatch(agent_id):
            return await self._refuse(
                actor, "import", e164, "bad_input", "That is not an agent id."
            )
        try:
            number = await self.flowyte.import_number(e164, agent_id)
        except fe.FlowyteError as exc:
            return await self._flowyte_failed(actor, "import", e164, exc)
        agent = await self._agent_or_none(agent_id) if agent_id else None
        await self._audit(actor, "import", e164, "ok", number=number.id, agent=agent_id)
        return Imported(number, agent)

    async def _agent_or_none(self, agent_id: str) -> Agent | None:
        try:
            return await self.flowyte.get_agent(agent_id)
        except fe.FlowyteError:
            return None


def _refusal_code(request: Request) -> str:
    if request.status in IN_FLIGHT_STATUSES:
        return "in_flight"
    if request.status == "expired":
        return "expired"
    return "already_decided"


def _status_sentence(request: Request) -> str:
    who = f" by <@{request.decided_by}>" if request.decided_by else ""
    return {
        "held": "That number is held but its purchase has not been requested yet.",
        "approved": f"Already approved{who}; the purchase is under way.",
        "purchasing": f"Already approved{who}; the purchase is under way.",
        "releasing": f"Already approved{who}; the release is under way.",
        "purchased": f"Already approved{who} and bought. Nothing more to do.",
        "released": f"Already approved{who} and released.",
        "failed": f"This request already failed: {request.detail}",
        "rejected": f"Already rejected{who}.",
        "cancelled": "The requester cancelled this request.",
        "expired": "The hold expired, so this request can no longer be approved. Reserve the number again.",
    }.get(request.status, f"This request is {request.status}.")

"""NumbersService, headless: policy, state transitions, Flowyte outcomes and the audit trail.

Each test runs against the in-memory sandbox Flowyte over ASGI, a SQLite file, a fake clock
and a recording notifier (tests/bot/conftest.py); the audit chain is verified after each.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from bot.flowyte.client import FlowyteClient
from bot.flowyte.models import SearchQuery
from bot.kernel.outcomes import (
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
from bot.sandbox import SandboxFlowyte
from bot.workflow import NumbersService, Timing
from bot.workflow.policy import Policy
from bot.workflow.storage_runner import Storage
from storage.db import connect
from storage.requests import AuditNote
from tests.bot.conftest import (
    APPROVER,
    APPROVERS,
    AUDIT_KEY,
    CARD,
    REQUESTER,
    STRANGER,
    FakeClock,
    RecordingNotifier,
    sealed_approval,
)

SECOND = APPROVERS[1]


async def held(env, index: int = 0):
    result = await env.service.reserve(REQUESTER, env.e164(index))
    assert isinstance(result, Held), result
    return result.request


async def pending(env, index: int = 0):
    request = await held(env, index)
    result = await env.service.request_purchase(REQUESTER, request.id, "for the support line")
    assert isinstance(result, Requested), result
    return result.request


async def owned_number(env, e164: str = "+14155550000"):
    result = await env.service.import_number(REQUESTER, e164, None)
    assert isinstance(result, Imported), result
    return result.number


def reservation_state(env, request) -> str:
    return env.sandbox.reservations[request.reservation_id].state


# --- reserve and request ------------------------------------------------------------------


async def test_reserve_creates_a_held_request_with_decimal_costs(env):
    e164 = env.e164()
    result = await env.service.reserve(REQUESTER, e164)
    assert isinstance(result, Held)
    request = result.request
    assert request.status == "held" and request.kind == "purchase"
    assert request.requester == REQUESTER and request.e164 == e164
    assert request.setup_cost == Decimal("1.00") and isinstance(request.setup_cost, Decimal)
    assert request.monthly_cost == Decimal("1.15") and request.total_cost == Decimal("2.15")
    assert request.reservation_id in env.sandbox.reservations
    assert request.hold_expires_at == env.clock() + timedelta(minutes=30)
    assert not env.notifier.posted  # a hold alone posts no card
    last = env.audit()[-1]
    assert (last.actor, last.action, last.subject, last.outcome) == (
        REQUESTER,
        "reserve",
        request.id,
        "ok",
    )
    assert json.loads(last.detail)["setup"] == "1.00"


@pytest.mark.parametrize("e164", ["4155550100", "+0123", "+1 415 555 0100", "call me"])
async def test_reserve_refuses_malformed_numbers(env, e164):
    result = await env.service.reserve(REQUESTER, e164)
    assert isinstance(result, Refused) and result.code == "bad_input"
    assert env.refused(REQUESTER, "reserve") == [{"code": "bad_input"}]
    assert not env.app.calls("POST", "/numbers/reserve")


async def test_reserve_of_a_gone_number_explains(env):
    e164 = env.e164()
    env.sandbox.take_elsewhere(e164)
    result = await env.service.reserve(REQUESTER, e164)
    assert isinstance(result, Refused) and result.code == "flowyte"
    assert "gone" in result.message
    last = env.audit()[-1]
    assert (last.action, last.outcome) == ("reserve", "failed")
    assert json.loads(last.detail) == {"code": "number_unavailable", "status": 409}


async def test_request_purchase_posts_the_card_once(env):
    request = await held(env)
    result = await env.service.request_purchase(REQUESTER, request.id, "new support line")
    assert isinstance(result, Requested) and result.card_posted
    assert result.balance == Decimal("25.00")
    assert result.request.status == "pending" and result.request.reason == "new support line"
    assert (result.request.card_channel, result.request.card_ts) == CARD
    assert len(env.notifier.posted) == 1 and env.notifier.posted[0][1] == Decimal("25.00")

    again = await env.service.request_purchase(REQUESTER, request.id, "again")
    assert isinstance(again, Refused) and again.code == "already_requested"
    assert env.refused(REQUESTER, "request_purchase") == [{"code": "already_requested"}]
    assert len(env.notifier.posted) == 1


async def test_request_purchase_only_by_the_holder(env):
    request = await held(env)
    result = await env.service.request_purchase(APPROVER, request.id, "mine now")
    assert isinstance(result, Refused) and result.code == "not_holder"
    assert f"<@{REQUESTER}>" in result.message
    assert (await env.get(request.id)).status == "held"
    assert env.refused(APPROVER, "request_purchase") == [{"code": "not_holder"}]


@pytest.mark.parametrize("request_id", ["req_000000000000", "nonsense", "req_' OR 1=1 --"])
async def test_request_purchase_of_unknown_ids(env, request_id):
    result = await env.service.request_purchase(REQUESTER, request_id, "x")
    assert isinstance(result, Refused) and result.code == "unknown"
    assert env.refused(REQUESTER, "request_purchase") == [{"code": "unknown"}]


async def test_request_purchase_after_the_hold_lapsed(env):
    request = await held(env)
    env.clock.advance(minutes=31)
    result = await env.service.request_purchase(REQUESTER, request.id, "late")
    assert isinstance(result, Refused) and result.code == "expired"
    assert (await env.get(request.id)).status == "expired"
    assert not env.notifier.posted


async def test_request_purchase_on_a_lapsed_hold_is_audited_for_the_requester(env):
    request = await held(env)
    env.clock.advance(minutes=31)
    await env.service.request_purchase(REQUESTER, request.id, "late")
    rows = [e for e in env.audit() if e.subject == request.id and e.action != "reserve"]
    assert any(e.actor == REQUESTER for e in rows), [(e.actor, e.action) for e in rows]


async def test_card_failure_does_not_lose_the_request(env):
    class Broken:
        async def post_card(self, request, *, balance, budget=None):
            raise RuntimeError("slack is down")

    service = env.new_service(notifier=Broken())
    request = (await service.reserve(REQUESTER, env.e164())).request
    result = await service.request_purchase(REQUESTER, request.id, "x")
    assert isinstance(result, Requested) and not result.card_posted
    assert result.request.status == "pending" and result.request.card_ts is None
    assert any(e.action == "post_card" and e.outcome == "failed" for e in env.audit())


# --- approve ----------------------------------------------------------------------------


async def test_approve_buys_once_and_tells_the_requester(env):
    request = await pending(env)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided), result
    done = result.request
    assert done.status == "purchased" and done.decided_by == APPROVER
    owned = {n.e164: n for n in env.sandbox.numbers.values()}
    assert done.number_id == owned[done.e164].id
    assert env.sandbox.balance == Decimal("22.85")
    assert reservation_state(env, request) == "consumed"

    (call,) = env.purchases()
    assert call.headers["idempotency-key"] == request.idempotency_key
    assert call.headers["authorization"].startswith("Bearer flowyte_sk_")

    assert env.notifier.updated[-1].status == "purchased"
    _, text, agents = env.notifier.told[-1]
    assert done.e164 in text and "$2.15" in text and f"<@{APPROVER}>" in text
    assert {a.id for a in agents} == {"agt_support", "agt_sales", "agt_draft"}
    assert result.agents == agents
    actions = [(e.action, e.outcome) for e in env.audit() if e.subject == request.id]
    assert actions[-3:] == [("approve", "ok"), ("purchase_started", "ok"), ("purchase", "ok")]


@pytest.mark.parametrize(
    ("actor", "request_id", "code"),
    [
        (APPROVER, "req_000000000000", "unknown"),
        (APPROVER, "../../etc/passwd", "unknown"),
        (APPROVER, "", "unknown"),
        (STRANGER, None, "not_approver"),
        (REQUESTER, None, "self_approval"),
    ],
)
async def test_approve_refusals(env, actor, request_id, code):
    request = await pending(env)
    result = await env.service.approve(actor, request_id if request_id is not None else request.id)
    assert isinstance(result, Refused) and result.code == code
    assert result.message
    assert (await env.get(request.id)).status == "pending"
    assert not env.purchases()
    [row] = env.refused(actor, "approve")
    assert row["code"] == code  # (a not_approver refusal also names the policy it applied)


async def test_approve_of_a_rejected_request(env):
    request = await pending(env)
    assert isinstance(await env.service.reject(SECOND, request.id), Decided)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "already_decided"
    assert f"Already rejected by <@{SECOND}>" in result.message
    assert env.refused(APPROVER, "approve") == [{"code": "already_decided"}]
    assert not env.purchases()


async def test_approve_of_a_bought_request(env):
    request = await pending(env)
    await env.service.approve(APPROVER, request.id)
    result = await env.service.approve(SECOND, request.id)
    assert isinstance(result, Refused) and result.code == "already_decided"
    assert "bought" in result.message
    assert len(env.purchases()) == 1


async def test_approve_of_a_request_that_was_only_held(env):
    request = await held(env)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused)
    assert "not been requested" in result.message
    assert (await env.get(request.id)).status == "held"
    assert len(env.refused(APPROVER, "approve")) == 1


async def test_approve_after_the_hold_expired(env):
    request = await pending(env)
    env.clock.advance(minutes=30, seconds=1)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "expired"
    assert "nothing was bought" in result.message
    assert (await env.get(request.id)).status == "expired"
    assert env.notifier.updated[-1].status == "expired"
    assert "lapsed" in env.notifier.texts[-1]
    assert not env.purchases()
    expire = [e for e in env.audit() if e.action == "expire"]
    assert len(expire) == 1 and expire[0].actor == APPROVER  # who found it expired

    again = await env.service.approve(SECOND, request.id)
    assert isinstance(again, Refused) and again.code == "expired"
    assert env.refused(SECOND, "approve") == [{"code": "expired"}]


async def test_twelve_simultaneous_approvals_buy_once(env):
    request = await pending(env)
    results = await asyncio.gather(*(env.service.approve(a, request.id) for a in APPROVERS))
    decided = [r for r in results if isinstance(r, Decided)]
    refused = [r for r in results if isinstance(r, Refused)]
    assert len(decided) == 1 and len(refused) == 11
    assert {r.code for r in refused} <= {"in_flight", "already_decided"}
    assert len(env.purchases()) == 1
    assert len(env.sandbox.numbers) == 1
    assert env.sandbox.balance == Decimal("22.85")
    final = await env.get(request.id)
    assert final.status == "purchased" and final.decided_by == decided[0].request.decided_by
    assert sum(e.action == "approve" and e.outcome == "ok" for e in env.audit()) == 1
    assert sum(e.action == "approve" and e.outcome == "refused" for e in env.audit()) == 11


async def test_twelve_approvals_from_twelve_services_on_one_db_buy_once(env):
    """Like twelve bot processes over one database file (each its own connection)."""
    request = await pending(env)
    services = [env.new_service(fresh_db=True) for _ in APPROVERS]
    results = await asyncio.gather(
        *(s.approve(a, request.id) for s, a in zip(services, APPROVERS, strict=True))
    )
    assert sum(isinstance(r, Decided) for r in results) == 1
    assert len(env.purchases()) == 1


async def test_approve_racing_reject_is_consistent(env):
    request = await pending(env)
    approved, rejected = await asyncio.gather(
        env.service.approve(APPROVER, request.id), env.service.reject(SECOND, request.id)
    )
    final = await env.get(request.id)
    if final.status == "purchased":
        assert isinstance(approved, Decided) and isinstance(rejected, Refused)
        assert len(env.purchases()) == 1
    else:
        assert final.status == "rejected"
        assert isinstance(rejected, Decided) and isinstance(approved, Refused)
        assert not env.purchases()


# --- reject -------------------------------------------------------------------------------


async def test_reject_by_an_approver_releases_the_hold(env):
    request = await pending(env)
    result = await env.service.reject(APPROVER, request.id)
    assert isinstance(result, Decided)
    assert result.request.status == "rejected" and result.request.decided_by == APPROVER
    assert reservation_state(env, request) == "cancelled"
    assert env.notifier.updated[-1].status == "rejected"
    assert "rejected" in env.notifier.texts[-1] and "Nothing was charged" in env.notifier.texts[-1]
    assert env.notifier.texts[-1].endswith("Nothing was charged.")  # no empty "Their reason:"
    assert not env.purchases()
    assert any(e.action == "release_hold" and e.outcome == "ok" for e in env.audit())


async def test_reject_by_the_requester_cancels(env):
    request = await pending(env)
    result = await env.service.reject(REQUESTER, request.id)
    assert isinstance(result, Decided) and result.request.status == "cancelled"
    assert reservation_state(env, request) == "cancelled"
    assert env.notifier.told == []  # no message to oneself


async def test_requester_may_cancel_a_mere_hold(env):
    request = await held(env)
    result = await env.service.reject(REQUESTER, request.id)
    assert isinstance(result, Decided) and result.request.status == "cancelled"
    assert reservation_state(env, request) == "cancelled"


async def test_reject_by_a_stranger_is_refused(env):
    request = await pending(env)
    result = await env.service.reject(STRANGER, request.id)
    assert isinstance(result, Refused) and result.code == "not_approver"
    assert (await env.get(request.id)).status == "pending"
    assert reservation_state(env, request) == "active"
    assert [r["code"] for r in env.refused(STRANGER, "reject")] == ["not_approver"]


async def test_reject_of_unknown_and_decided_requests(env):
    result = await env.service.reject(APPROVER, "req_ffffffffffff")
    assert isinstance(result, Refused) and result.code == "unknown"
    assert env.refused(APPROVER, "reject") == [{"code": "unknown"}]

    request = await pending(env)
    await env.service.approve(APPROVER, request.id)
    late = await env.service.reject(SECOND, request.id)
    assert isinstance(late, Refused) and late.code == "already_decided"
    assert env.refused(SECOND, "reject") == [{"code": "already_decided"}]
    assert (await env.get(request.id)).status == "purchased"


# --- Flowyte says no, or says nothing -------------------------------------------------------


async def test_a_short_wallet_keeps_the_hold_and_the_approval_for_a_retry(env):
    """402 is a definite "no": nothing was bought, so the hold and the approval are kept and
    the card says by how much the wallet is short and how to top up."""
    env.sandbox.balance = Decimal("1.00")
    request = await pending(env)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "unfunded"
    assert "short by $1.15" in result.message and "dashboard" in result.message
    assert "Try again" in result.message and "lapses at <!date^" in result.message
    kept = await env.get(request.id)
    assert kept.status == "unfunded" and kept.decided_by == APPROVER
    assert "short by $1.15" in kept.detail and "<!date" not in kept.detail  # plain on the card
    assert reservation_state(env, request) == "active"  # the hold is kept
    assert env.sandbox.balance == Decimal("1.00") and not env.sandbox.numbers
    assert "is approved, but nothing was bought yet" in env.notifier.texts[-1]
    failed = [e for e in env.audit() if e.action == "purchase" and e.outcome == "failed"]
    assert json.loads(failed[0].detail) == {
        "code": "insufficient_balance",
        "shortfall": "1.15",
        "status": 402,
    }
    assert failed[0].state == "unfunded"


async def test_try_again_after_a_top_up_buys_once_with_a_new_key(env):
    env.sandbox.balance = Decimal("1.00")
    request = await pending(env)
    await env.service.approve(APPROVER, request.id)
    # Not yet topped up: refused before any purchase call, with the figures.
    still = await env.service.retry(SECOND, request.id)
    assert isinstance(still, Refused) and still.code == "insufficient_balance"
    assert "holds $1.00 and this costs $2.15" in still.message and "$1.15" in still.message
    assert len(env.purchases()) == 1
    # Not the requester's to try, nor a stranger's.
    for actor in (REQUESTER, STRANGER):
        refused = await env.service.retry(actor, request.id)
        assert isinstance(refused, Refused) and refused.code == "not_approver"
    env.sandbox.balance = Decimal("10.00")
    bought = await env.service.retry(SECOND, request.id)
    assert isinstance(bought, Decided) and bought.request.status == "purchased"
    assert env.sandbox.balance == Decimal("7.85") and len(env.sandbox.numbers) == 1
    keys = [p.headers.get("idempotency-key") for p in env.purchases()]
    assert keys == [request.idempotency_key, f"{request.idempotency_key}-2"]
    started = [e for e in env.audit() if e.subject == request.id and e.action == "purchase_started"]
    assert [(e.actor, e.detail_fields()["idempotency_key"]) for e in started] == [
        ("numbot", request.idempotency_key),
        (SECOND, f"{request.idempotency_key}-2"),
    ]
    again = await env.service.retry(SECOND, request.id)
    assert isinstance(again, Refused) and len(env.purchases()) == 2  # bought once


async def test_try_again_re_checks_the_policy_price_and_the_hold(env):
    env.sandbox.balance = Decimal("1.00")
    capped = await pending(env, 0)
    await env.service.approve(APPROVER, capped.id)
    env.sandbox.balance = Decimal("50.00")
    strict = env.new_service(policy=Policy(max_purchase_usd=Decimal("1.00")))
    refused = await strict.retry(SECOND, capped.id)
    assert (
        isinstance(refused, Refused) and "the cap is now $1.00; this costs $2.15" in refused.message
    )
    assert (await env.get(capped.id)).status == "unfunded"
    env.sandbox.inventory[capped.e164].setup_cost = Decimal("5.00")  # Flowyte's price went up
    risen = await env.service.retry(SECOND, capped.id)
    assert isinstance(risen, Refused) and (await env.get(capped.id)).status == "failed"
    assert "price went up" in (await env.get(capped.id)).detail
    env.sandbox.balance = Decimal("1.00")
    lapsing = await pending(env, 1)
    await env.service.approve(APPROVER, lapsing.id)
    env.clock.advance(minutes=31)
    late = await env.service.retry(SECOND, lapsing.id)
    assert isinstance(late, Refused) and late.code == "expired"
    assert (await env.get(lapsing.id)).status == "expired"
    assert len(env.sandbox.numbers) == 0


async def test_an_unfunded_purchase_lapses_with_its_hold_and_may_be_rejected(env):
    env.sandbox.balance = Decimal("1.00")
    lapsing = await pending(env, 0)
    await env.service.approve(APPROVER, lapsing.id)
    rejected = await pending(env, 1)
    await env.service.approve(APPROVER, rejected.id)
    done = await env.service.reject(SECOND, rejected.id, "not this month")
    assert isinstance(done, Decided) and done.request.status == "rejected"
    env.clock.advance(minutes=31)
    await env.service.resume()
    assert (await env.get(lapsing.id)).status == "expired"
    assert "before the wallet was topped up" in env.notifier.texts[-1]


async def test_unreachable_flowyte_puts_the_request_back_to_pending(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "connect")
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "flowyte"
    assert "waiting for approval again" in result.message
    back = await env.get(request.id)
    assert back.status == "pending" and back.decided_by is None
    assert env.notifier.updated[-1].status == "pending"

    retry = await env.service.approve(SECOND, request.id)
    assert isinstance(retry, Decided) and retry.request.status == "purchased"
    assert retry.request.decided_by == SECOND
    assert len(env.purchases()) == 1


async def test_rate_limited_purchase_can_be_approved_again(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", 429)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and "rate-limiting" in result.message
    back = await env.get(request.id)
    assert back.status == "pending", back.status
    assert reservation_state(env, request) == "active"
    retry = await env.service.approve(SECOND, request.id)
    assert isinstance(retry, Decided) and retry.request.status == "purchased"


async def test_a_price_rise_after_the_request_buys_nothing(env):
    request = await pending(env)
    env.sandbox.inventory[request.e164].monthly_cost = Decimal("9.99")
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "failed"
    assert "price went up" in result.message and "$9.99" in result.message
    assert not env.purchases()
    assert reservation_state(env, request) == "cancelled"


async def test_hold_expired_at_flowyte_first(env):
    request = await pending(env)
    # Flowyte's clock runs ahead of numbot's: numbot thinks the hold is still good.
    env.sandbox._clock = lambda: env.clock() + timedelta(minutes=31)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "expired"
    assert "lapsed" in result.message
    assert (await env.get(request.id)).status == "expired"
    assert not env.sandbox.numbers


# --- resume after a restart ------------------------------------------------------------------


def _move(env, request, *path):
    """Move a request as numbot would have before a crash (an approval binds what it approves)."""
    for before, after in itertools.pairwise(path):
        approving = after == "approved"
        filing = (before, after) == ("held", "pending")  # as numbot before terms were sealed whole
        sending = after in ("purchasing", "releasing")
        note = AuditNote(
            APPROVER if approving else REQUESTER if filing else "numbot",
            "approve"
            if approving
            else "request_purchase"
            if filing
            else f"{request.kind}_started"
            if sending
            else f"test_{after}",
            detail=(
                sealed_approval(request)
                if approving
                else json.dumps({"approvals_needed": 1})
                if filing
                else json.dumps({"idempotency_key": request.idempotency_key})
                if sending
                else ""
            ),
        )
        moved = env.storage.requests.transition(
            request.id,
            from_statuses=(before,),
            to_status=after,
            note=note,
            **({"decided_by": APPROVER} if approving else {}),
        )
        assert moved is not None


async def test_resume_finishes_an_approved_request(env):
    request = await pending(env)
    _move(env, request, "pending", "approved")  # then the process died
    notifier = type(env.notifier)()
    service = env.new_service(fresh_db=True, notifier=notifier)
    assert await service.resume() == 1
    final = await service.request(request.id)
    assert final.status == "purchased" and final.number_id in env.sandbox.numbers
    assert len(env.purchases()) == 1
    assert notifier.updated[-1].status == "purchased" and "is yours" in notifier.texts[-1]
    assert await service.resume() == 0  # nothing left to do


async def test_resume_reconciles_a_purchase_that_happened(env):
    request = await pending(env)
    _move(env, request, "pending", "approved", "purchasing")
    # The purchase reached Flowyte just before the crash.
    await env.client.purchase(
        request.e164, request.reservation_id, idempotency_key=request.idempotency_key
    )
    service = env.new_service(fresh_db=True)
    assert await service.resume() == 1
    final = await service.request(request.id)
    assert final.status == "purchased" and final.number_id in env.sandbox.numbers
    # Settled by replaying with the same key: Flowyte answered with the first result.
    assert {p.headers["idempotency-key"] for p in env.purchases()} == {request.idempotency_key}
    assert env.sandbox.balance == Decimal("22.85")  # charged once


async def test_resume_completes_an_interrupted_purchase_by_replaying_it_once(env):
    """numbot died before its purchase reached Flowyte: the replay (same key, same body) is
    the documented way to learn the outcome, and buys the approved number exactly once."""
    request = await pending(env)
    _move(env, request, "pending", "approved", "purchasing")
    service = env.new_service(fresh_db=True)
    assert await service.resume() == 1
    final = await service.request(request.id)
    assert final.status == "purchased" and final.number_id in env.sandbox.numbers
    assert [p.headers["idempotency-key"] for p in env.purchases()] == [request.idempotency_key]
    assert env.sandbox.balance == Decimal("22.85")


async def test_resume_settles_an_interrupted_purchase_as_failed_only_on_proof(env):
    request = await pending(env)
    _move(env, request, "pending", "approved", "purchasing")
    env.clock.advance(minutes=31)  # the hold lapsed at Flowyte meanwhile: the replay is refused
    service = env.new_service(fresh_db=True)
    assert await service.resume() >= 1
    final = await service.request(request.id)
    assert final.status == "expired" and "nothing was charged" in final.detail
    assert not env.sandbox.numbers and env.sandbox.balance == Decimal("25.00")
    settled = [e for e in env.audit() if e.subject == request.id and e.state == "expired"]
    assert settled[-1].detail_fields() == {
        "code": "reservation_expired",
        "reconciled": True,
        "replay": "refused",
        "status": 409,
    }


async def test_resume_posts_missing_cards_and_expires_lapsed_holds(env):
    class Down:
        async def post_card(self, request, *, balance, budget=None):
            raise ConnectionError("slack down")

    down = env.new_service(notifier=Down())
    carded = (await down.reserve(REQUESTER, env.e164(0))).request
    await down.request_purchase(REQUESTER, carded.id, "x")
    lapsing = await held(env, 1)

    notifier = type(env.notifier)()
    service = env.new_service(fresh_db=True, notifier=notifier)
    assert await service.resume() == 1
    assert [r.id for r, _ in notifier.posted] == [carded.id]
    assert (await service.request(carded.id)).card_ts == CARD[1]

    env.clock.advance(minutes=45)
    assert await service.resume() == 2  # both holds lapsed
    assert (await service.request(lapsing.id)).status == "expired"
    assert (await service.request(carded.id)).status == "expired"


async def test_resume_leaves_recent_work_to_whoever_is_doing_it(env):
    request = await pending(env)
    _move(env, request, "pending", "approved")
    service = env.new_service(fresh_db=True, timing=Timing(quiet=3600))
    assert await service.resume() == 0
    assert (await service.request(request.id)).status == "approved"
    assert not env.purchases()


# --- release -------------------------------------------------------------------------------


async def test_release_needs_a_second_person_then_the_number_is_gone(env):
    number = await owned_number(env)
    result = await env.service.request_release(REQUESTER, number.e164, "not needed")
    assert isinstance(result, Requested) and result.card_posted
    request = result.request
    assert request.kind == "release" and request.status == "pending"
    assert request.number_id == number.id and request.reservation_id is None

    self_approve = await env.service.approve(REQUESTER, request.id)
    assert isinstance(self_approve, Refused) and self_approve.code == "self_approval"
    assert number.id in env.sandbox.numbers

    done = await env.service.approve(APPROVER, request.id)
    assert isinstance(done, Decided), done
    assert done.request.status == "released"
    assert number.id not in env.sandbox.numbers
    assert "released" in env.notifier.texts[-1]
    assert len(env.app.calls("DELETE", f"/numbers/{number.id}")) == 1


async def test_release_by_number_id(env):
    number = await owned_number(env)
    result = await env.service.request_release(REQUESTER, number.id, "x")
    assert isinstance(result, Requested) and result.request.e164 == number.e164


async def test_release_refusals(env):
    number = await owned_number(env)
    assert isinstance(await env.service.request_release(REQUESTER, number.e164, "x"), Requested)
    twice = await env.service.request_release(APPROVER, number.e164, "y")
    assert isinstance(twice, Refused) and twice.code == "already_requested"

    not_ours = await env.service.request_release(REQUESTER, "+14155559999", "x")
    assert isinstance(not_ours, Refused) and not_ours.code == "not_owned"
    bad = await env.service.request_release(REQUESTER, "+1-415", "x")
    assert isinstance(bad, Refused) and bad.code == "bad_input"
    bad_id = await env.service.request_release(REQUESTER, "num/../1", "x")
    assert isinstance(bad_id, Refused) and bad_id.code == "bad_input"
    missing = await env.service.request_release(REQUESTER, "num_doesnotexist", "x")
    assert isinstance(missing, Refused) and missing.code == "flowyte"

    codes = [d["code"] for d in env.refused(REQUESTER, "request_release")]
    assert codes == ["not_owned", "bad_input", "bad_input"]
    assert env.refused(APPROVER, "request_release") == [{"code": "already_requested"}]


async def test_rejected_release_keeps_the_number(env):
    number = await owned_number(env)
    request = (await env.service.request_release(REQUESTER, number.e164, "x")).request
    result = await env.service.reject(APPROVER, request.id)
    assert isinstance(result, Decided) and result.request.status == "rejected"
    assert number.id in env.sandbox.numbers


async def test_release_with_a_lost_answer_is_reconciled(env):
    number = await owned_number(env)
    request = (await env.service.request_release(REQUESTER, number.e164, "x")).request
    env.transport.fail("DELETE", f"/numbers/{number.id}", "lost")
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided) and result.request.status == "released"
    assert number.id not in env.sandbox.numbers


# --- routing, publish, import, reads ---------------------------------------------------------


async def test_assign_by_e164_and_by_id(env):
    number = await owned_number(env)
    result = await env.service.assign(REQUESTER, number.e164, "agt_support")
    assert isinstance(result, Assigned) and not result.unpublished
    assert result.number.default_agent_id == "agt_support"
    assert env.sandbox.numbers[number.id].default_agent_id == "agt_support"

    again = await env.service.assign(REQUESTER, number.id, "agt_sales")
    assert isinstance(again, Assigned) and again.agent.id == "agt_sales"
    rows = [e for e in env.audit() if e.action == "assign"]
    assert [json.loads(e.detail)["agent"] for e in rows] == ["agt_support", "agt_sales"]


async def test_assign_to_an_unpublished_agent_warns(env):
    number = await owned_number(env)
    result = await env.service.assign(REQUESTER, number.e164, "agt_draft")
    assert isinstance(result, Assigned) and result.unpublished


async def test_assign_refusals(env):
    number = await owned_number(env)
    bad_agent = await env.service.assign(REQUESTER, number.e164, "agt bad!")
    assert isinstance(bad_agent, Refused) and bad_agent.code == "bad_input"
    not_ours = await env.service.assign(REQUESTER, "+14155559999", "agt_support")
    assert isinstance(not_ours, Refused) and not_ours.code == "not_owned"
    no_agent = await env.service.assign(REQUESTER, number.e164, "agt_nobody")
    assert isinstance(no_agent, Refused) and no_agent.code == "flowyte"
    assert "no such item" in no_agent.message
    assert env.sandbox.numbers[number.id].default_agent_id is None
    assert [d["code"] for d in env.refused(REQUESTER, "assign")] == ["bad_input", "not_owned"]
    failed = [e for e in env.audit() if e.action == "assign" and e.outcome == "failed"]
    assert json.loads(failed[0].detail)["status"] == 404


async def test_assign_when_flowyte_requires_a_published_agent(env):
    env.sandbox.require_published_agent = True
    number = await owned_number(env)
    result = await env.service.assign(REQUESTER, number.e164, "agt_draft")
    assert isinstance(result, Refused) and "publish it first" in result.message


async def test_assign_the_number_a_purchase_bought(env):
    request = await pending(env)
    await env.service.approve(APPROVER, request.id)
    result = await env.service.assign_purchased(REQUESTER, request.id, "agt_sales")
    assert isinstance(result, Assigned) and result.number.default_agent_id == "agt_sales"

    other = await held(env, 1)
    refused = await env.service.assign_purchased(REQUESTER, other.id, "agt_sales")
    assert isinstance(refused, Refused) and refused.code == "unknown"
    assert env.refused(REQUESTER, "assign") == [{"code": "unknown"}]


async def test_unassign_keeps_the_number(env):
    number = await owned_number(env)
    await env.service.assign(REQUESTER, number.e164, "agt_support")
    result = await env.service.unassign(REQUESTER, number.e164)
    assert isinstance(result, Unassigned) and result.number.default_agent_id is None
    assert env.sandbox.numbers[number.id].default_agent_id is None
    row = [e for e in env.audit() if e.action == "unassign"][-1]
    assert json.loads(row.detail) == {"previous_agent": "agt_support"}

    refused = await env.service.unassign(REQUESTER, "+14155559999")
    assert isinstance(refused, Refused) and refused.code == "not_owned"


async def test_publish_an_agent(env):
    result = await env.service.publish(REQUESTER, "agt_draft")
    assert isinstance(result, Published) and result.agent_id == "agt_draft"
    assert env.sandbox.agents["agt_draft"].published_version_id == result.version.id
    (call,) = env.app.calls("POST", "/agents/agt_draft/publish")
    assert call.headers["idempotency-key"] == "numbot-publish-agt_draft-v1"

    double_click = await env.service.publish(REQUESTER, "agt_draft")
    assert isinstance(double_click, Published)
    assert double_click.version.id == result.version.id  # replayed, not published twice


async def test_publish_refusals(env):
    bad = await env.service.publish(REQUESTER, "agt draft")
    assert isinstance(bad, Refused) and bad.code == "bad_input"
    assert env.refused(REQUESTER, "publish") == [{"code": "bad_input"}]
    missing = await env.service.publish(REQUESTER, "agt_nobody")
    assert isinstance(missing, Refused) and missing.code == "flowyte"


async def test_two_people_publishing_the_same_version_both_succeed(env):
    first = await env.service.publish(REQUESTER, "agt_draft")
    second = await env.service.publish(APPROVER, "agt_draft")
    assert isinstance(first, Published)
    assert isinstance(second, Published), second


async def test_import_with_and_without_an_agent(env):
    result = await env.service.import_number(REQUESTER, "+14155550000", "agt_support")
    assert isinstance(result, Imported) and result.agent.id == "agt_support"
    assert result.number.default_agent_id == "agt_support"
    assert result.number.monthly_cost == Decimal("0.00")
    plain = await env.service.import_number(REQUESTER, "+14155550001", None)
    assert isinstance(plain, Imported) and plain.agent is None
    assert env.sandbox.balance == Decimal("25.00")


async def test_import_refusals(env):
    await env.service.import_number(REQUESTER, "+14155550000", None)
    again = await env.service.import_number(REQUESTER, "+14155550000", None)
    assert isinstance(again, Refused) and again.code == "flowyte"
    assert "already on this Flowyte account" in again.message
    bad = await env.service.import_number(REQUESTER, "14155550000", None)
    assert isinstance(bad, Refused) and bad.code == "bad_input"
    bad_agent = await env.service.import_number(REQUESTER, "+14155550002", "agt; drop")
    assert isinstance(bad_agent, Refused) and bad_agent.code == "bad_input"
    assert [d["code"] for d in env.refused(REQUESTER, "import")] == ["bad_input", "bad_input"]
    assert len(env.sandbox.numbers) == 1


async def test_reads(env):
    found = await env.service.search(REQUESTER, SearchQuery(area_code="415", limit=3))
    assert isinstance(found, SearchResults) and len(found.numbers) == 3
    assert all(n.setup_cost == Decimal("1.00") for n in found.numbers)
    wallet = await env.service.wallet(REQUESTER)
    assert isinstance(wallet, WalletView) and wallet.wallet.balance_usd == Decimal("25.00")
    await owned_number(env)
    listing = await env.service.list_numbers(REQUESTER)
    assert isinstance(listing, NumberList) and len(listing.numbers) == 1
    assert set(listing.agents) == {"agt_support", "agt_sales", "agt_draft"}
    actions = [(e.action, e.outcome) for e in env.audit()]
    assert ("search", "ok") in actions and ("wallet", "ok") in actions and ("list", "ok") in actions


async def test_reads_when_flowyte_is_down(env):
    env.transport.fail("GET", "/billing/wallet", "connect", times=2)
    result = await env.service.wallet(REQUESTER)
    assert isinstance(result, Refused) and result.code == "flowyte"
    assert "could not be reached" in result.message
    row = env.audit()[-1]
    assert (row.action, row.outcome) == ("wallet", "failed")
    assert json.loads(row.detail) == {"code": "FlowyteUnavailable"}


async def test_audit_never_holds_a_secret(env):
    request = await held(env)
    await env.service.request_purchase(
        REQUESTER, request.id, "paste accident: xoxb-1234-SECRETBOT and flowyte_sk_live_SECRETKEY"
    )
    text = "\n".join(e.detail for e in env.audit())
    assert "SECRETBOT" not in text and "SECRETKEY" not in text
    assert "***" in text


# --- the brief's own wiring: a plain ASGITransport and an in-memory database ------------------


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts purchase calls on their way to the sandbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.purchases = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/numbers/purchase"):
            self.purchases += 1
        return await self.inner.handle_async_request(request)


async def test_twelve_approvals_over_an_in_memory_database_buy_once():
    clock = FakeClock()
    sandbox = SandboxFlowyte(clock=clock, balance=Decimal("25.00"), seed=3)
    transport = CountingTransport(httpx.ASGITransport(app=sandbox.asgi()))
    http = httpx.AsyncClient(
        transport=transport,
        base_url="http://sb/api/v1/",
        headers={"Authorization": "Bearer flowyte_sk_test"},
    )
    storage = Storage(connect(":memory:"), AUDIT_KEY, clock=clock)
    notifier = RecordingNotifier()
    service = NumbersService(
        flowyte=FlowyteClient(http),
        storage=storage,
        approvers=APPROVERS,
        notifier=notifier,
        sandbox=True,
        clock=clock,
        timing=Timing(grace=0),
    )
    try:
        e164 = sandbox.inventory_for("212")[0].e164
        hold = await service.reserve(REQUESTER, e164)
        assert isinstance(hold, Held)
        asked = await service.request_purchase(REQUESTER, hold.request.id, "front desk")
        assert isinstance(asked, Requested) and asked.card_posted

        results = await asyncio.gather(*(service.approve(a, hold.request.id) for a in APPROVERS))
        assert sum(isinstance(r, Decided) for r in results) == 1
        assert {r.code for r in results if isinstance(r, Refused)} <= {
            "in_flight",
            "already_decided",
        }
        assert transport.purchases == 1
        assert len(sandbox.numbers) == 1
        refused = [e for e in storage.audit.entries() if e.outcome == "refused"]
        assert len(refused) == 11 and {e.action for e in refused} == {"approve"}
        assert storage.audit.verify().ok
    finally:
        await http.aclose()
        storage.close()


# --- every refusal is audited ------------------------------------------------------------------


async def test_every_policy_refusal_writes_one_refused_row_by_its_actor(env):
    request = await pending(env)
    number = await owned_number(env)
    service = env.service
    before = len([e for e in env.audit() if e.outcome == "refused"])
    attempts = [
        (REQUESTER, "reserve", service.reserve(REQUESTER, "not a number")),
        (STRANGER, "request_purchase", service.request_purchase(STRANGER, request.id, "x")),
        (REQUESTER, "request_purchase", service.request_purchase(REQUESTER, request.id, "x")),
        (APPROVER, "approve", service.approve(APPROVER, "req_zzzz")),
        (STRANGER, "approve", service.approve(STRANGER, request.id)),
        (REQUESTER, "approve", service.approve(REQUESTER, request.id)),
        (STRANGER, "reject", service.reject(STRANGER, request.id)),
        (REQUESTER, "assign", service.assign(REQUESTER, number.e164, "no such agent!")),
        (REQUESTER, "assign", service.assign_purchased(REQUESTER, request.id, "agt_sales")),
        (REQUESTER, "unassign", service.unassign(REQUESTER, "+14155559999")),
        (REQUESTER, "publish", service.publish(REQUESTER, "../x")),
        (REQUESTER, "import", service.import_number(REQUESTER, "+1", None)),
        (REQUESTER, "request_release", service.request_release(REQUESTER, "+1-415", "x")),
    ]
    for actor, action, call in attempts:
        result = await call
        assert isinstance(result, Refused), (action, result)
        rows = env.refused(actor, action)
        assert rows and rows[-1]["code"] == result.code, (action, rows)
        assert set(rows[-1]) <= {"code", "policy"}, rows  # nothing but why (and which rules)
    after = len([e for e in env.audit() if e.outcome == "refused"])
    assert after - before == len(attempts)
    assert (await env.get(request.id)).status == "pending"


async def test_an_approval_refused_for_an_expired_hold_is_audited_as_refused(env):
    request = await pending(env)
    env.clock.advance(minutes=31)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "expired"
    assert env.refused(APPROVER, "approve") == [{"code": "expired"}]


# --- lost answers on calls that nobody reconciles ---------------------------------------------


async def _lost_reserve(env):
    env.transport.fail("POST", "/numbers/reserve", "lost")
    return await env.service.reserve(REQUESTER, env.e164())


async def _lost_import(env):
    env.transport.fail("POST", "/numbers/import", "lost")
    return await env.service.import_number(REQUESTER, "+14155550000", None)


async def _lost_assign(env):
    number = await owned_number(env)
    env.transport.fail("POST", f"/numbers/{number.id}/assign", "lost")
    return await env.service.assign(REQUESTER, number.e164, "agt_support")


async def _lost_publish(env):
    env.transport.fail("POST", "/agents/agt_draft/publish", "lost")
    return await env.service.publish(REQUESTER, "agt_draft")


@pytest.mark.parametrize("call", [_lost_reserve, _lost_import, _lost_assign, _lost_publish])
async def test_a_lost_answer_on_an_unreconciled_call_is_refused_and_audited(env, call):
    result = await call(env)
    assert isinstance(result, Refused) and result.code == "flowyte"
    row = env.audit()[-1]
    assert row.outcome == "failed" and json.loads(row.detail) == {"code": "OutcomeUnknown"}
    assert not env.notifier.told


@pytest.mark.parametrize("call", [_lost_reserve, _lost_import, _lost_assign, _lost_publish])
async def test_a_lost_answer_on_an_unreconciled_call_promises_no_report(env, call):
    result = await call(env)
    assert isinstance(result, Refused)
    assert "report back" not in result.message


# --- resume: releases ----------------------------------------------------------------------------


async def _release_request(env):
    number = await owned_number(env)
    result = await env.service.request_release(REQUESTER, number.e164, "not needed")
    assert isinstance(result, Requested)
    return number, result.request


async def test_resume_finishes_an_approved_release(env):
    number, request = await _release_request(env)
    _move(env, request, "pending", "approved")
    service = env.new_service(fresh_db=True)
    assert await service.resume() == 1
    assert (await service.request(request.id)).status == "released"
    assert number.id not in env.sandbox.numbers


async def test_resume_reconciles_a_release_that_happened(env):
    number, request = await _release_request(env)
    _move(env, request, "pending", "approved", "releasing")
    await env.client.release_number(number.id)  # reached Flowyte just before the crash
    service = env.new_service(fresh_db=True)
    assert await service.resume() == 1
    assert (await service.request(request.id)).status == "released"


async def test_resume_reconciles_a_release_that_did_not_happen(env):
    number, request = await _release_request(env)
    _move(env, request, "pending", "approved", "releasing")
    service = env.new_service(fresh_db=True)
    assert await service.resume() == 1
    final = await service.request(request.id)
    assert final.status == "failed" and "not released" in final.detail
    assert number.id in env.sandbox.numbers


async def test_resume_when_flowyte_is_down_keeps_checking_until_it_answers(env):
    request = await pending(env)
    _move(env, request, "pending", "approved", "purchasing")
    env.transport.fail("POST", "/numbers/purchase", "connect")
    env.transport.fail("GET", "/numbers", "connect", times=2)
    service = env.new_service(fresh_db=True, timing=Timing(quiet=5, grace=0))
    env.clock.advance(seconds=6)
    await service.resume()
    checking = await service.request(request.id)
    assert checking.status == "checking" and checking.check_attempts == 1
    assert await service.resume() == 0  # the next look is one quiet window away
    env.clock.advance(seconds=6)
    assert await service.resume() == 1
    # A replay refused a connection is no answer (nor is a list it cannot read); this look's
    # replay reaches Flowyte, which buys now, under the one key.
    final = await service.request(request.id)
    assert final.status == "purchased"
    assert len(env.sandbox.numbers) == 1 and env.sandbox.balance == Decimal("22.85")
    assert {p.headers.get("idempotency-key") for p in env.purchases()} == {request.idempotency_key}


# --- money stays Decimal end to end ------------------------------------------------------------


async def test_costs_survive_the_database_as_exact_decimals(env):
    e164 = env.e164()
    env.sandbox.inventory[e164].setup_cost = Decimal("0.10")
    env.sandbox.inventory[e164].monthly_cost = Decimal("0.20")
    request = await held(env)
    reloaded = await env.new_service(fresh_db=True).request(request.id)
    assert reloaded.setup_cost == Decimal("0.10") and reloaded.monthly_cost == Decimal("0.20")
    assert reloaded.total_cost == Decimal("0.30")  # 0.1 + 0.2 in float is 0.30000000000000004
    assert str(reloaded.setup_cost) == "0.10"


async def test_a_price_drop_after_the_request_still_buys(env):
    request = await pending(env)
    env.sandbox.inventory[request.e164].monthly_cost = Decimal("0.50")
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided) and result.request.status == "purchased"


# --- timestamps without an offset ------------------------------------------------------------------


@pytest.fixture
def tokyo_host(monkeypatch):
    """Run as on a host whose local time zone is east of UTC."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_a_hold_expiry_without_an_offset_is_read_as_utc(tokyo_host):
    clock = FakeClock()
    expires = clock() + timedelta(minutes=30)

    def flowyte(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/numbers/reserve"):
            naive = expires.replace(tzinfo=None).isoformat()
            hold = {"id": "rsv_1", "e164": "+14155550100", "expiresAt": naive}
            hold |= {"setupCost": 1, "monthlyCost": 1}
            return httpx.Response(201, json={"success": True, "data": hold})
        return httpx.Response(200, json={"success": True, "data": {"balanceUsd": 25}})

    http = httpx.AsyncClient(base_url="http://f/api/v1/", transport=httpx.MockTransport(flowyte))
    storage = Storage(connect(":memory:"), AUDIT_KEY, clock=clock)
    service = NumbersService(
        flowyte=FlowyteClient(http),
        storage=storage,
        approvers=APPROVERS,
        notifier=RecordingNotifier(),
        clock=clock,
    )
    try:
        held_ = await service.reserve(REQUESTER, "+14155550100")
        assert isinstance(held_, Held)
        assert held_.request.hold_expires_at == expires
        asked = await service.request_purchase(REQUESTER, held_.request.id, "x")
        assert isinstance(asked, Requested), asked
    finally:
        await http.aclose()
        storage.close()


# --- resume must not settle a purchase whose POST is still running ------------------------------

QUIET = 20.0


class HeldPurchase(httpx.AsyncBaseTransport):
    """Flowyte takes A's purchase, then holds its answer until the test lets it go."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/numbers/purchase"):
            self.arrived.set()
            await asyncio.wait_for(self.release.wait(), 10)
        return await self.inner.handle_async_request(request)


async def test_a_sweep_inside_the_quiet_window_leaves_a_purchase_in_flight_alone(env):
    """B sweeps while A's purchase call is still running: inside the quiet window, B must not
    touch the request; once A's answer lands, the request is purchased, once."""
    request = await pending(env)
    held = HeldPurchase(env.transport)
    http = httpx.AsyncClient(
        base_url="http://sandbox/api/v1/",
        headers={"Authorization": "Bearer flowyte_sk_test_x"},
        transport=held,
    )
    a = env.new_service(flowyte=FlowyteClient(http), timing=Timing(quiet=QUIET, grace=0))
    b = env.new_service(timing=Timing(quiet=QUIET, grace=0), fresh_db=True)
    try:
        approving = asyncio.create_task(a.approve(APPROVER, request.id))
        await asyncio.wait_for(held.arrived.wait(), 10)
        env.clock.advance(seconds=QUIET - 1)  # the call has run almost the whole window
        await b.resume()  # may redraw the card; must not take the request up
        assert (await b.request(request.id)).status == "purchasing"
        assert not [e for e in env.audit() if e.action == "resume"]
        held.release.set()
        result = await approving
    finally:
        await http.aclose()
    assert isinstance(result, Decided) and result.request.status == "purchased"
    assert len(env.purchases()) == 1
    assert not any("nothing was charged" in text for text in env.notifier.texts)


def test_the_quiet_window_outlasts_any_flowyte_call():
    from bot.config.settings import Settings
    from bot.process.wiring import build_flowyte, timing_for

    for seconds in (1, 10, 120):
        settings = Settings(_env_file=None, NUMBOT_FLOWYTE_TIMEOUT=seconds)
        client = build_flowyte(settings)
        assert timing_for(settings, client).quiet > client.max_call_seconds >= seconds


# --- what the requester, the approver and the card are told -----------------------------------


async def test_a_cancel_and_a_rejection_say_which_they_were(env):
    cancelled = await env.service.reject(REQUESTER, (await pending(env)).id)
    assert isinstance(cancelled, Decided)
    assert cancelled.message == f"Request for {cancelled.request.e164} cancelled."
    rejected = await env.service.reject(APPROVER, (await pending(env, 1)).id)
    assert isinstance(rejected, Decided)
    assert rejected.message == f"Request for {rejected.request.e164} rejected by <@{APPROVER}>."
    actions = [(e.actor, e.action) for e in env.audit() if e.state in ("cancelled", "rejected")]
    assert actions == [(REQUESTER, "cancel"), (APPROVER, "reject")]


async def test_a_hold_flowyte_will_not_give_back_is_recorded_and_the_rejection_stands(env):
    request = await pending(env)
    env.transport.fail("DELETE", f"/numbers/reserve/{request.reservation_id}", 503, times=2)
    result = await env.service.reject(APPROVER, request.id)
    assert isinstance(result, Decided) and result.request.status == "rejected"
    [row] = [e for e in env.audit() if e.action == "release_hold"]
    assert (row.actor, row.subject, row.outcome) == ("numbot", request.id, "failed")
    assert row.detail_fields() == {"code": "ServerError"}


async def test_a_release_request_carries_its_reason_saving_and_card(env):
    number = await owned_number(env)
    result = await env.service.request_release(REQUESTER, number.e164, "not needed")
    assert isinstance(result, Requested) and result.card_posted
    request = result.request
    assert request.reason == "not needed"  # shown on the card as "Why:"
    assert request.monthly_cost == number.monthly_cost  # shown as what it saves
    assert (request.card_channel, request.card_ts) == CARD  # where the requester is pointed


# --- a price comes whole or not at all ---------------------------------------------------------


def _hold_answer(env, e164, **prices):
    hold = {
        "id": "rsv_partial",
        "e164": e164,
        "expiresAt": (env.clock() + timedelta(minutes=30)).isoformat(),
    }
    return {"success": True, "data": hold | prices}


async def test_a_hold_answered_with_half_a_price_is_priced_from_the_inventory(env):
    e164 = env.e164()
    env.transport.fail(
        "POST", "/numbers/reserve", 201, body=_hold_answer(env, e164, setupCost="0.10")
    )
    held_ = await env.service.reserve(REQUESTER, e164)
    assert isinstance(held_, Held)
    assert (held_.request.setup_cost, held_.request.monthly_cost) == (
        Decimal("1.00"),
        Decimal("1.15"),
    )


async def priceless_hold(env):
    """A hold Flowyte answered without a price, taken while its inventory did not answer
    either: numbot holds it, and has sealed no price for it."""
    e164 = env.e164()
    env.transport.fail("POST", "/numbers/reserve", 201, body=_hold_answer(env, e164))
    env.transport.fail("GET", f"/numbers/available/{e164}", "connect", times=4)
    result = await env.service.reserve(REQUESTER, e164)
    assert isinstance(result, Held) and result.request.setup_cost is None
    env.transport.faults.clear()
    return result.request


async def test_half_a_price_is_no_price_to_request_on(env):
    request = await priceless_hold(env)
    partial = {"success": True, "data": {"e164": request.e164, "setupCost": "1.00"}}
    env.transport.fail("GET", f"/numbers/available/{request.e164}", 200, body=partial)
    asked = await env.service.request_purchase(REQUESTER, request.id, "x")
    assert isinstance(asked, Refused) and asked.code == "no_price"
    assert env.storage.requests.get(request.id).status == "held"


async def test_a_price_learned_at_request_time_is_the_price_approved(env):
    request = await priceless_hold(env)
    asked = await env.service.request_purchase(REQUESTER, request.id, "x")
    assert isinstance(asked, Requested)
    assert (asked.request.setup_cost, asked.request.monthly_cost) == (
        Decimal("1.00"),
        Decimal("1.15"),
    )
    card, _balance = env.notifier.posted[-1]
    assert card.total_cost == Decimal("2.15")
    [filing] = [e for e in env.audit() if e.action == "request_purchase"]
    terms = filing.detail_fields()["terms"]
    assert (terms["setup"], terms["monthly"]) == ("1.00", "1.15")  # sealed as quoted then


# --- the sweep ---------------------------------------------------------------------------------


async def test_a_flagged_request_is_left_to_an_operator_and_blocks_nothing(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    forged = await pending(env)
    _sql_edit = "UPDATE requests SET status='approved', decided_by=? WHERE id=?"
    env.storage.db.conn.execute(_sql_edit, (APPROVER, forged.id))
    env.clock.advance(seconds=1)
    honest = await pending(env, 1)
    _move(env, honest, "pending", "approved")  # then the process died
    env.clock.advance(seconds=11)
    assert await service.resume() == 2  # the forged one first (older), then the honest one
    assert (await service.request(honest.id)).status == "purchased"
    assert (await service.request(forged.id)).status == "approved"
    rows = len(env.audit())
    env.clock.advance(seconds=60)
    assert await service.resume() == 0  # flagged: left alone, nothing more written
    assert len(env.audit()) == rows and len(env.notifier.alerts) == 1
    later = await pending(env, 2)
    _move(env, later, "pending", "approved")  # interrupted later on
    env.clock.advance(seconds=11)
    assert await service.resume() == 1  # the flagged one still comes first in the queue
    assert (await service.request(later.id)).status == "purchased"


async def test_a_card_the_sweep_posts_shows_the_balance_for_a_purchase_only(env):
    class Down:
        async def post_card(self, request, *, balance):
            raise ConnectionError("slack down")

    down = env.new_service(notifier=Down())
    purchase = (await down.reserve(REQUESTER, env.e164(0))).request
    await down.request_purchase(REQUESTER, purchase.id, "x")
    number = await owned_number(env)
    release = (await down.request_release(REQUESTER, number.e164, "x")).request
    assert await env.service.resume() == 2
    posted = {r.id: balance for r, balance in env.notifier.posted}
    assert posted == {purchase.id: Decimal("25.00"), release.id: None}


async def test_the_sweep_comes_back_when_the_next_piece_of_work_falls_due(env):
    class Down:
        async def post_card(self, request, *, balance):
            raise ConnectionError("slack down")

    service = env.new_service(timing=Timing(quiet=10, grace=0))
    assert await service.next_due() == float("inf")  # nothing to do: no wake-up
    request = await held(env)  # its hold lapses in 30 minutes
    assert await service.next_due() == 30 * 60
    env.clock.advance(seconds=100)
    assert await service.next_due() == 30 * 60 - 100
    _move(env, request, "held", "pending", "approved")  # in flight: taken up after 10 s quiet
    assert await service.next_due() == 10
    env.clock.advance(seconds=4)
    cardless = (await service.reserve(REQUESTER, env.e164(1))).request
    await env.new_service(notifier=Down()).request_purchase(REQUESTER, cardless.id, "x")
    assert await service.next_due() == 6  # the in-flight request's window ends first
    env.clock.advance(seconds=7)
    assert await service.next_due() == 0  # overdue: at once, never negative
    assert await service.resume() == 1  # the approved purchase; the card's window is still open
    assert await service.next_due() == 3  # the missing card is posted once its window passes
    checking = await pending(env, 2)
    _move(env, checking, "pending", "approved", "purchasing", "checking")
    env.storage.requests.set_fields(checking.id, next_check_at=env.clock() + timedelta(seconds=2))
    assert await service.next_due() == 2  # the next look at Flowyte


# --- every refusal says why, in words ------------------------------------------------------------


async def _bad_number(env):
    return await env.service.reserve(REQUESTER, "call me")


async def _unknown_hold(env):
    return await env.service.request_purchase(REQUESTER, "req_000000000000", "x")


async def _already_requested(env):
    return await env.service.request_purchase(REQUESTER, (await pending(env)).id, "again")


async def _lapsed_hold(env):
    request = await held(env)
    env.clock.advance(minutes=31)
    return await env.service.request_purchase(REQUESTER, request.id, "late")


async def _no_price(env):
    env.sandbox.configure(reservations="id_only")
    env.transport.fail("GET", f"/numbers/available/{env.e164()}", 503, times=8)
    return await env.service.request_purchase(REQUESTER, (await held(env)).id, "x")


async def _release_twice(env):
    number = await owned_number(env)
    await env.service.request_release(REQUESTER, number.e164, "x")
    return await env.service.request_release(REQUESTER, number.e164, "again")


async def _reject_unknown(env):
    return await env.service.reject(APPROVER, "req_000000000000")


async def _reject_by_a_stranger(env):
    return await env.service.reject(STRANGER, (await pending(env)).id)


async def _check_a_settled_request(env):
    bought = await env.service.approve(APPROVER, (await pending(env)).id)
    return await env.service.check(bought.request.id)


@pytest.mark.parametrize(
    ("refused_by", "code"),
    [
        (_bad_number, "bad_input"),
        (_unknown_hold, "unknown"),
        (_already_requested, "already_requested"),
        (_lapsed_hold, "expired"),
        (_no_price, "no_price"),
        (_release_twice, "already_requested"),
        (_reject_unknown, "unknown"),
        (_reject_by_a_stranger, "not_approver"),
        (_check_a_settled_request, "already_decided"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
async def test_every_refusal_tells_the_person_why_in_words(env, refused_by, code):
    result = await refused_by(env)
    assert isinstance(result, Refused) and result.code == code
    assert isinstance(result.message, str) and len(result.message) > 20
    assert "None" not in result.message


# --- who may open the reject modal, and on what ---------------------------------------------


async def test_the_reject_modal_opens_for_an_approver_or_the_requester_on_an_undecided_request(env):
    hold = await held(env)
    assert (await env.service.rejectable(REQUESTER, hold.id)).id == hold.id  # cancel a hold
    request = await pending(env, 1)
    assert (await env.service.rejectable(REQUESTER, request.id)).id == request.id
    assert (await env.service.rejectable(APPROVER, request.id)).id == request.id
    stranger = await env.service.rejectable(STRANGER, request.id)
    assert stranger == Refused(
        "not_approver", "Only an approver or the requester can reject this request."
    )
    assert [d["code"] for d in env.refused(STRANGER, "reject")] == ["not_approver"]
    _move(env, request, "pending", "approved")  # under way: too late to reject
    late = await env.service.rejectable(APPROVER, request.id)
    assert isinstance(late, Refused) and late.code == "in_flight"
    assert late.message.startswith("Already approved by <@")
    assert [d["code"] for d in env.refused(APPROVER, "reject")] == ["in_flight"]


async def test_rejecting_an_unknown_request_is_refused_and_audited_under_a_bounded_id(env):
    forged = "req_" + "x" * 60
    for actor in (APPROVER, STRANGER):
        refused = await env.service.rejectable(actor, forged)
        assert refused == Refused(
            "unknown", "That request does not exist (the message may be from an old install)."
        )
    [entry, _] = [e for e in env.audit() if e.action == "reject"]
    assert (entry.actor, entry.subject, entry.outcome) == (APPROVER, forged[:40], "refused")


async def test_a_publish_or_an_assignment_is_seen_at_once_not_after_the_agents_cache_ages(env):
    """`/numbers list` and Home read agents through a cache of a minute: a publish clears it,
    so nobody reads "never published" right after publishing."""
    cached = {a.id: a for a in await env.service.agents(max_age=60)}
    assert cached["agt_draft"].published is False
    published = await env.service.publish(REQUESTER, "agt_draft")
    assert not isinstance(published, Refused)
    again = {a.id: a for a in await env.service.agents(max_age=60)}
    assert again["agt_draft"].published is True
    number = await owned_number(env)
    await env.service.agents(max_age=60)
    reads = len(env.app.calls("GET", "/agents"))
    await env.service.assign(REQUESTER, number.e164, "agt_support")
    await env.service.agents(max_age=60)
    assert len(env.app.calls("GET", "/agents")) == reads + 1  # read afresh after it


async def test_an_unassignment_or_an_import_clears_the_agents_cache_as_an_assignment_does(env):
    """Each change of what a number reaches reads agents and Home afresh, not a minute late."""
    number = await owned_number(env)
    await env.service.assign(REQUESTER, number.e164, "agt_support")
    await env.service.agents(max_age=60)
    reads = len(env.app.calls("GET", "/agents"))
    await env.service.agents(max_age=60)
    assert len(env.app.calls("GET", "/agents")) == reads  # cached
    assert isinstance(await env.service.unassign(REQUESTER, number.e164), Unassigned)
    await env.service.agents(max_age=60)
    assert len(env.app.calls("GET", "/agents")) == reads + 1  # read afresh after it
    imported = await env.service.import_number(REQUESTER, "+14155550077", "agt_support")
    assert not isinstance(imported, Refused)
    await env.service.agents(max_age=60)
    assert len(env.app.calls("GET", "/agents")) == reads + 2  # read afresh after it too

"""Carrying out an approval: unknown outcomes settled on evidence only, the price re-check
failing closed, and nothing executed that the sealed audit log does not back.

Headless, over the in-memory sandbox (tests/bot/conftest.py). The fixture's quiet window is
0; tests that need a real window pass their own Timing and move the fake clock.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from bot.flowyte import errors as fe
from bot.flowyte.client import FlowyteClient
from bot.kernel.outcomes import Decided, Held, Refused, Requested
from bot.workflow import Timing
from bot.workflow.evidence import (
    PurchaseEvidence,
    Verdict,
    next_check_delay,
    purchase_verdict,
    release_verdict,
    replay_outcome,
)
from bot.workflow.execution import outcome_of
from bot.workflow.policy import NO_POLICY
from storage.requests import AuditNote
from tests.bot.conftest import API_KEY, APPROVER, APPROVERS, REQUESTER, binds, sealed_approval

SECOND = APPROVERS[1]


async def pending(env, index: int = 0, service=None):
    service = service or env.service
    held = await service.reserve(REQUESTER, env.e164(index))
    assert isinstance(held, Held), held
    asked = await service.request_purchase(REQUESTER, held.request.id, "support line")
    assert isinstance(asked, Requested), asked
    return asked.request


def keys(env):
    return [p.headers.get("idempotency-key") for p in env.purchases()]


def status_of(env, request_id):
    return env.storage.requests.get(request_id).status


# --- unknown outcomes ------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["lost", "garbled", 503, 504, 408])
async def test_an_answer_lost_after_flowyte_bought_is_settled_by_the_replay(env, fault):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", fault)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided) and result.request.status == "purchased", result
    # Asked again with the same key and body: applied once, whichever call reached Flowyte.
    assert set(keys(env)) == {request.idempotency_key}
    assert len(keys(env)) == (2 if fault in ("lost", "garbled") else 1)
    assert env.sandbox.balance == Decimal("22.85")
    states = [e.state for e in env.audit() if e.subject == request.id and e.state]
    assert states[-3:] == ["purchasing", "checking", "purchased"]
    assert any("still confirming with flowyte" in t.lower() for t in env.notifier.texts)


async def test_a_replay_while_the_first_call_runs_is_not_an_answer(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "timeout")
    in_progress = {"status": 409, "code": "idempotency_in_progress"}
    env.transport.fail("POST", "/numbers/purchase", 409, body=in_progress)
    env.transport.fail("GET", "/numbers", "connect", times=2)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "checking"
    assert status_of(env, request.id) == "checking"
    again = await env.service.approve(SECOND, request.id)
    assert isinstance(again, Refused) and again.code == "in_flight"


async def test_only_a_definite_refusal_of_the_replay_settles_it_as_not_bought(env):
    """The first call's answer is lost; the replay, with the same key and body, is refused
    with a code that says the hold is gone: that, and only that, proves nothing was bought,
    however soon it comes (Flowyte answered this very key)."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout")  # never reached Flowyte
    refused = {"status": 409, "code": "reservation_expired"}
    env.transport.fail("POST", "/numbers/purchase", 409, body=refused)
    result = await service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "expired"
    final = env.storage.requests.get(request.id)
    assert final.status == "expired" and "nothing was charged" in final.detail
    assert "asked again with the same request" in final.detail
    assert not env.purchases() and env.sandbox.balance == Decimal("25.00")
    assert not env.sandbox.numbers


async def test_a_replay_whose_answer_is_lost_too_proves_nothing(env):
    """A replay is a purchase call: if its answer is lost, it may still land. Look after look
    the request stays checking, whatever the owned list lacks, until a replay is answered."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout", times=3)  # the call, two replays
    result = await service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "checking"
    env.clock.advance(seconds=11)
    await service.resume()
    looked = env.storage.requests.get(request.id)
    assert looked.status == "checking" and looked.check_attempts == 2
    assert "nothing was charged" not in " ".join(env.notifier.texts)
    env.clock.advance(seconds=41)  # the next look, after backoff: this replay is answered
    await service.resume()
    assert status_of(env, request.id) == "purchased"
    assert len(env.sandbox.numbers) == 1 and env.sandbox.balance == Decimal("22.85")
    assert set(keys(env)) == {request.idempotency_key}  # one key, bought once


async def test_an_unreadable_owned_list_keeps_the_request_checking(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "lost")  # bought, answer lost
    env.transport.fail("POST", "/numbers/purchase", 503)  # the replay fails
    env.transport.fail("GET", "/numbers", 200, body="<html>maintenance</html>")
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "checking"
    assert "nothing was charged" not in " ".join(env.notifier.texts)
    assert status_of(env, request.id) == "checking"
    assert await env.service.resume() == 1  # the next look: the list reads, it is ours
    assert status_of(env, request.id) == "purchased"


async def test_one_look_at_a_time(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout")
    env.transport.fail("POST", "/numbers/purchase", 503)
    env.transport.fail("GET", "/numbers", "connect", times=2)
    await service.approve(APPROVER, request.id)
    env.clock.advance(seconds=11)
    other = env.new_service(timing=Timing(quiet=10, grace=0), fresh_db=True)
    due = env.storage.requests.get(request.id)
    looks = await asyncio.gather(
        service.executor.checker.check(due), other.executor.checker.check(due)
    )
    busy = [r for r in looks if isinstance(r, Refused) and r.code == "checking"]
    settled = [r for r in looks if isinstance(r, Decided)]
    assert len(busy) == 1 and len(settled) == 1
    assert "still confirming with Flowyte" in busy[0].message  # whoever asked is told why
    assert len([e for e in env.audit() if e.subject == request.id and e.state == "purchased"]) == 1
    assert len(env.sandbox.numbers) == 1


async def test_a_check_that_drags_on_alerts_the_approvers_once(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "timeout", times=10)
    env.transport.fail("GET", "/numbers", "connect", times=20)
    await env.service.approve(APPROVER, request.id)
    for _ in range(5):
        await env.service.resume()
    assert len([a for a in env.notifier.alerts if "keeps checking" in a]) == 1


# --- the price re-check fails closed ---------------------------------------------------------


@pytest.mark.parametrize("fault", [503, "connect", 404])
async def test_no_fresh_quote_no_purchase(env, fault):
    request = await pending(env)
    times = 2 if fault != 404 else 1  # GETs are tried twice in this fixture
    env.transport.fail("GET", f"/numbers/available/{request.e164}", fault, times=times)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and "re-check the price" in result.message
    assert not env.purchases()
    back = env.storage.requests.get(request.id)
    assert back.status == "pending" and back.decided_by is None
    assert env.sandbox.reservations[request.reservation_id].state == "active"  # hold kept
    retry = await env.service.approve(SECOND, request.id)
    assert isinstance(retry, Decided) and retry.request.status == "purchased"


async def test_a_quote_without_a_price_buys_nothing(env):
    request = await pending(env)
    env.transport.fail(
        "GET",
        f"/numbers/available/{request.e164}",
        200,
        body={"success": True, "data": {"e164": request.e164}},
    )
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and "re-check the price" in result.message
    assert "(its quote has no price)" in result.message
    assert not env.purchases()


@pytest.mark.parametrize(
    "setup,monthly,bought",
    [
        ("1.00", "1.16", False),
        ("1.01", "1.15", False),
        ("1.00", "1.15", True),
        ("0.99", "1.15", True),
    ],
)
async def test_the_quote_binds_to_the_cent(env, setup, monthly, bought):
    request = await pending(env)
    number = env.sandbox.inventory[request.e164]
    number.setup_cost, number.monthly_cost = Decimal(setup), Decimal(monthly)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided) is bought, result
    assert bool(env.purchases()) is bought


# --- 402 without amounts ---------------------------------------------------------------------


async def test_a_402_without_amounts_still_says_by_how_much(env):
    env.sandbox.configure(amounts_on_402=False)
    request = await pending(env)
    env.sandbox.balance = Decimal("1.00")
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and "short by $1.15" in result.message


# --- reservations that answer only {id} -------------------------------------------------------


async def test_a_hold_answered_with_only_its_id_is_a_hold(env):
    env.sandbox.configure(reservations="id_only")
    held = await env.service.reserve(REQUESTER, env.e164())
    assert isinstance(held, Held), held
    assert held.request.hold_expires_at == env.clock() + timedelta(minutes=30)
    assert held.request.setup_cost == Decimal("1.00")  # priced from the inventory instead


async def test_no_price_no_request(env):
    env.sandbox.configure(reservations="id_only")
    env.transport.fail("GET", f"/numbers/available/{env.e164()}", 503, times=8)
    held = await env.service.reserve(REQUESTER, env.e164())
    assert isinstance(held, Held) and held.request.setup_cost is None
    asked = await env.service.request_purchase(REQUESTER, held.request.id, "x")
    assert isinstance(asked, Refused) and asked.code == "no_price"
    assert env.storage.requests.get(held.request.id).status == "held"


# --- compare-and-set boundaries --------------------------------------------------------------


async def test_execute_only_takes_an_approved_request(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "connect")
    await env.service.approve(APPROVER, request.id)  # back to pending, nothing bought
    approved = await env.service.approve(SECOND, request.id)
    assert isinstance(approved, Decided)
    stale = replace(approved.request, status="approved")  # a second process's old copy
    again = await env.service.executor.execute(stale)
    assert isinstance(again, Refused)
    assert len(env.purchases()) == 1


async def test_an_approved_request_cannot_be_rejected_or_cancelled(env):
    request = await pending(env)
    moved = approved_in_storage(env, request)
    assert moved is not None
    for actor in (SECOND, REQUESTER):
        result = await env.service.reject(actor, request.id)
        assert isinstance(result, Refused) and result.code == "in_flight", result
    assert status_of(env, request.id) == "approved"


# --- only a sealed approval spends -----------------------------------------------------------


def approved_in_storage(env, request):
    """A sealed approval by APPROVER, written as numbot's approve would (no click, no call)."""
    return env.storage.requests.transition(
        request.id,
        from_statuses=("pending",),
        to_status="approved",
        note=AuditNote(APPROVER, "approve", detail=sealed_approval(request)),
        decided_by=APPROVER,
    )


def purchase_started_in_storage(env, request):
    """The purchase call sent, as the executor records it just before sending."""
    return env.storage.requests.transition(
        request.id,
        from_statuses=("approved",),
        to_status="purchasing",
        note=AuditNote(
            "numbot",
            "purchase_started",
            detail=json.dumps({"idempotency_key": request.idempotency_key}),
        ),
    )


def _sql(env, statement, *args):
    env.storage.db.conn.execute(statement, args)


async def test_an_approval_written_into_the_database_is_flagged_not_executed(env):
    request = await pending(env)
    _sql(
        env, "UPDATE requests SET status='approved', decided_by=? WHERE id=?", APPROVER, request.id
    )
    for _ in range(3):
        assert await env.service.resume() >= 0
    assert not env.purchases()
    alarms = [e for e in env.audit() if e.action == "integrity_alarm"]
    assert len(alarms) == 1 and alarms[0].subject == request.id
    assert len(env.notifier.alerts) == 1 and request.id in env.notifier.alerts[0]


@pytest.mark.parametrize(
    "column,value",
    [
        ("e164", "+14155559999"),
        ("setup_cost", "0.01"),
        ("monthly_cost", "0.01"),
        ("reservation_id", "rsv_other"),
        ("decided_by", "UAPPROVER05"),
        ("requester", "UAPPROVER05"),
    ],
)
async def test_an_approved_request_edited_after_approval_is_not_executed(env, column, value):
    request = await pending(env)
    env.transport.fail("GET", f"/numbers/available/{request.e164}", "connect", times=4)
    # Approve it for real, then stall before execution: the price check cannot be made.
    approved_in_storage(env, request)
    _sql(env, f"UPDATE requests SET {column}=? WHERE id=?", value, request.id)
    result = await env.service.executor.execute(env.storage.requests.get(request.id))
    assert isinstance(result, Refused) and result.code == "unauthentic", result
    assert not env.purchases()


async def test_an_approval_counts_only_while_its_approver_may_still_approve(env):
    """Who may approve is checked at the click, and again before the money moves: an
    approver removed in between no longer counts, and nothing is bought."""
    request = await pending(env)
    strict = env.new_service(approvers=APPROVERS[1:])  # APPROVER is no longer one
    refused = await strict.approve(APPROVER, request.id)
    assert isinstance(refused, Refused) and refused.code == "not_approver"
    approved_in_storage(env, request)
    result = await strict.executor.execute(env.storage.requests.get(request.id))
    assert isinstance(result, Refused) and result.code == "flowyte", result
    assert f"<@{APPROVER}> may no longer approve" in result.message
    assert f"<@{SECOND}>" in result.message.split("may no longer approve")[1]  # who may now
    assert "Nothing was spent" in result.message
    assert status_of(env, request.id) == "pending" and not env.purchases()
    assert not [e for e in env.audit() if e.action == "integrity_alarm"]  # a policy, not tampering
    [back] = [e for e in env.audit() if e.subject == request.id and e.outcome == "failed"]
    assert back.state == "pending" and back.detail_fields()["code"] == "quorum"
    # Whoever may approve now approves it, and it is bought.
    done = await strict.approve(SECOND, request.id)
    assert isinstance(done, Decided) and done.request.status == "purchased"


async def test_an_old_approval_cannot_be_reused_after_the_request_went_back_to_pending(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "connect")
    await env.service.approve(APPROVER, request.id)  # approved, then back to pending
    assert status_of(env, request.id) == "pending"
    _sql(
        env, "UPDATE requests SET status='approved', decided_by=? WHERE id=?", APPROVER, request.id
    )
    result = await env.service.executor.execute(env.storage.requests.get(request.id))
    assert isinstance(result, Refused) and result.code == "unauthentic"
    assert not env.purchases()


async def test_a_real_approval_executes(env):
    request = await pending(env)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided) and result.request.status == "purchased"
    approve = next(e for e in env.audit() if e.action == "approve" and e.outcome == "ok")
    # The sealed approval names exactly what was approved (and later versions read it back).
    assert approve.detail_fields()["binds"] == {
        "kind": "purchase",
        "e164": request.e164,
        "requester": REQUESTER,
        "reservation": request.reservation_id,
        "number": "",
        "setup": "1.00",
        "monthly": "1.15",
    }


async def test_an_approved_release_pointed_at_another_number_is_not_executed(env):
    number = (await env.service.import_number(REQUESTER, "+14155550600", None)).number
    other = (await env.service.import_number(REQUESTER, "+14155550601", None)).number
    request = (await env.service.request_release(REQUESTER, number.e164, "x")).request
    approved_in_storage(env, request)
    _sql(env, "UPDATE requests SET number_id=? WHERE id=?", other.id, request.id)
    result = await env.service.executor.execute(env.storage.requests.get(request.id))
    assert isinstance(result, Refused) and result.code == "unauthentic", result
    assert request.id in result.message and "number id differ" in result.message
    assert other.id in env.sandbox.numbers and number.id in env.sandbox.numbers


@pytest.mark.parametrize(
    "replay,owned,verdict",
    [
        ("bought", "unknown", Verdict.DONE),
        ("bought", "absent", Verdict.DONE),  # Flowyte's list may lag its replay
        ("unknown", "listed", Verdict.DONE),
        ("not_asked", "listed", Verdict.DONE),
        ("refused", "absent", Verdict.NOT_DONE),  # a definite refusal of the replay: the proof
        ("refused", "unknown", Verdict.NOT_DONE),
        ("unknown", "absent", Verdict.UNSURE),  # absent from the list is no proof
        ("not_asked", "absent", Verdict.UNSURE),
        ("unknown", "unknown", Verdict.UNSURE),
    ],
)
def test_purchase_verdicts(replay, owned, verdict):
    assert purchase_verdict(PurchaseEvidence(replay=replay, owned=owned)) is verdict


def _problem(status, code=None):
    from bot.flowyte.errors import Problem, error_for

    return error_for(
        Problem(status=status, code=code), retry_after=None, method="POST", path="numbers/purchase"
    )


@pytest.mark.parametrize(
    "status,code,proof",
    [
        (402, "insufficient_balance", "refused"),
        (404, "reservation_not_found", "refused"),
        (409, "reservation_expired", "refused"),
        (409, "number_unavailable", "refused"),
        (422, "reservation_mismatch", "refused"),
        (422, None, "refused"),
        (409, "idempotency_in_progress", "unknown"),  # the first call is still running
        (409, "request_in_progress", "unknown"),
        (409, "conflict", "unknown"),  # a code the docs do not give: no answer
        (409, None, "unknown"),
        (422, "idempotency_mismatch", "unknown"),  # numbot sends the same body
        (400, "validation_error", "unknown"),
        (401, None, "unknown"),
        (403, None, "unknown"),
        (408, None, "unknown"),
        (429, None, "unknown"),
        (500, None, "unknown"),
        (503, None, "unknown"),
    ],
)
def test_only_a_definite_refusal_of_a_replay_proves_not_bought(status, code, proof):
    assert replay_outcome(_problem(status, code)) == proof
    assert replay_outcome(fe.OutcomeUnknown("lost")) == "unknown"
    assert replay_outcome(fe.FlowyteUnavailable("down")) == "unknown"


def test_release_verdicts():
    assert release_verdict("absent", settled=False) is Verdict.DONE
    assert release_verdict("listed", settled=False) is Verdict.UNSURE
    assert release_verdict("listed", settled=True) is Verdict.NOT_DONE
    assert release_verdict("unknown", settled=True) is Verdict.UNSURE


@pytest.mark.parametrize("pagination", ["no_cursor", "has_more", "links", "repeat"])
async def test_a_list_numbot_cannot_follow_proves_nothing_and_a_readable_one_finds_it(
    env, pagination
):
    """A Flowyte that serves short pages without a cursor (or pages numbot cannot follow),
    while every replay fails: the request stays checking; once the list reads, the number
    bought on a later page is found."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    for n in range(3):
        await env.client.import_number(f"+1415555010{n}")
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "lost")  # bought; the answer is lost
    env.transport.fail("POST", "/numbers/purchase", 503, times=3)  # and the replays fail
    env.sandbox.configure(page_size=1, pagination=pagination)
    await service.approve(APPROVER, request.id)
    env.clock.advance(seconds=11)
    await service.resume()
    assert status_of(env, request.id) == "checking"
    env.sandbox.configure(page_size=1, pagination="next_cursor")
    env.clock.advance(seconds=21)
    await service.resume()
    assert status_of(env, request.id) == "purchased"
    assert env.sandbox.balance == Decimal("22.85")


@pytest.mark.parametrize(
    "variant", [{"problems": "type_only"}, {"reservations": "id_only"}, {"page_size": 2}]
)
async def test_the_whole_story_against_each_documented_variant(env, variant):
    env.sandbox.configure(**variant)
    for n in range(5):
        await env.client.import_number(f"+1415555020{n}")
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "lost")
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided) and result.request.status == "purchased"
    listed = await env.service.list_numbers(REQUESTER)
    assert len(listed.numbers) == 6
    expired = await pending(env, index=1)
    env.clock.advance(minutes=31)
    late = await env.service.approve(APPROVER, expired.id)
    assert isinstance(late, Refused) and late.code == "expired"


async def test_a_reason_is_made_inert_by_the_service_whoever_calls_it(env):
    held = await env.service.reserve(REQUESTER, env.e164())
    hostile = "new line\n*Costs now:* $0.01\u202e\u200b lone \ud800 end"
    asked = await env.service.request_purchase(REQUESTER, held.request.id, hostile)
    assert isinstance(asked, Requested)
    stored = env.storage.requests.get(held.request.id).reason
    assert "\n" not in stored and "\u202e" not in stored and "\u200b" not in stored
    assert "\ud800" not in stored and stored.startswith("new line *Costs now:* $0.01")


# --- approvers told and reminded ---------------------------------------------------------------


async def test_approvers_get_a_copy_and_every_copy_follows_the_request(env):
    request = await pending(env)
    assert [r.id for r in env.notifier.notified] == [request.id]
    copies = env.storage.requests.copies(request.id)
    assert {c.recipient for c in copies} == set(APPROVERS[:2])
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided)
    redrawn = {(channel, r.status) for r, channel, _ in env.notifier.copies_updated}
    assert {(c.channel, "purchased") for c in copies} <= redrawn
    assert {c.drawn for c in env.storage.requests.copies(request.id)} == {"purchased"}
    told = [r.status for r in env.notifier.narrated]
    assert told[0] == "approved" and told[-1] == "purchased"


async def test_the_card_is_redrawn_as_approved_before_any_flowyte_call(env):
    request = await pending(env)
    env.transport.fail("GET", f"/numbers/available/{request.e164}", 503, times=2)
    await env.service.approve(APPROVER, request.id)
    statuses = [r.status for r in env.notifier.updated]
    assert statuses[:2] == ["approved", "pending"]  # shown approved, then back: nothing bought
    back = env.storage.requests.get(request.id)
    assert back.status == "pending" and "re-check the price" in back.detail


async def test_a_reminder_goes_out_once_when_the_hold_nears_its_end(env):
    service = env.new_service(timing=Timing(quiet=0, grace=0, remind_minutes=10))
    request = await pending(env, service=service)
    assert await service.resume() == 0  # 30 minutes left: nothing yet
    env.clock.advance(minutes=21)  # 9 minutes left
    assert await service.resume() == 1
    other = env.new_service(timing=Timing(quiet=0, grace=0, remind_minutes=10), fresh_db=True)
    assert await other.resume() == 0 and await service.resume() == 0  # once, in any process
    assert [r.id for r in env.notifier.reminded] == [request.id]
    assert env.storage.requests.get(request.id).reminded_at == env.clock()
    # Where they already have it: no second copy to act on, a reply under each copy.
    assert len(env.storage.requests.copies(request.id)) == 2
    assert [len(c) for c in env.notifier.reminded_copies] == [2]
    assert [e.action for e in env.audit() if e.subject == request.id][-1] == "remind"


async def test_remind_says_whether_it_reminded_and_never_twice(env):
    service = env.new_service(timing=Timing(quiet=0, grace=0, remind_minutes=10))
    request = await pending(env, service=service)
    headless = env.new_service(notifier=None)
    headless.ctx.notifier = None  # no Slack to remind through
    assert await headless.filing.remind(request) is False
    assert await service.filing.remind(request) is True
    assert await service.filing.remind(request) is False  # already claimed: not again
    assert [r.id for r in env.notifier.reminded] == [request.id]


async def test_a_rejection_carries_its_reason_to_the_card_and_the_requester(env):
    request = await pending(env)
    result = await env.service.reject(APPROVER, request.id, "not this\nquarter \u202e")
    assert isinstance(result, Decided) and result.request.detail == "not this quarter"
    assert "Their reason: not this quarter" in env.notifier.texts[-1]
    refused = await env.service.rejectable(SECOND, request.id)
    assert isinstance(refused, Refused) and refused.code == "already_decided"


# --- what each failed spending call says about whether it happened ---------------------------


def _api_error(status, code=None):
    problem = fe.Problem(status=status, code=code)
    return fe.error_for(problem, retry_after=None, method="POST", path="numbers/purchase")


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (_api_error(500), "unknown"),  # 5xx after sending: it may have happened
        (_api_error(503), "unknown"),
        (_api_error(408), "unknown"),
        (_api_error(409, "idempotency_in_progress"), "unknown"),  # the first call still runs
        (_api_error(409, "request_in_progress"), "unknown"),
        (_api_error(422, "idempotency_mismatch"), "unknown"),  # not an answer about this call
        (_api_error(409, "idempotency_mismatch"), "refused"),
        (_api_error(422, "reservation_mismatch"), "refused"),
        (_api_error(409, "reservation_expired"), "refused"),
        (_api_error(402, "insufficient_balance"), "refused"),
        (_api_error(499), "refused"),
        (_api_error(429), "nothing"),  # turned away before anything was done
        (fe.FlowyteUnavailable("refused"), "nothing"),
        (fe.OutcomeUnknown("lost"), "unknown"),
        (fe.UnexpectedAnswer("html"), "unknown"),
    ],
    ids=lambda v: v if isinstance(v, str) else str(v),
)
def test_what_a_failed_spending_call_says_about_whether_it_happened(exc, outcome):
    assert outcome_of(exc) == outcome


def test_looks_back_off_from_one_quiet_window_doubling_up_to_the_cap():
    delays = [next_check_delay(n, quiet=10, cap=300) for n in range(1, 8)]
    assert delays == [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    assert next_check_delay(0, quiet=10, cap=300) == 10.0


# --- a decision that money was not spent (or was released) rests on a stated end -------------


async def test_a_list_cut_short_never_proves_a_purchase_did_not_happen(env):
    """Flowyte forgot the key (a refused replay) and serves short pages without a cursor:
    the first page lacks the number that was bought, but it is not the whole list."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    for n in range(2):
        await env.client.import_number(f"+1415555030{n}")
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "lost")  # bought; the answer is lost
    env.transport.fail("POST", "/numbers/purchase", 503)  # the first look's replay
    env.sandbox.configure(page_size=1, pagination="no_cursor")
    await service.approve(APPROVER, request.id)
    env.storage.requests.set_fields(request.id, check_attempts=2)  # a look that replays
    env.transport.fail(
        "POST", "/numbers/purchase", 409, body={"status": 409, "code": "number_unavailable"}
    )
    env.clock.advance(seconds=11)
    await service.resume()
    assert status_of(env, request.id) == "checking"
    assert not any("nothing was charged" in t for t in env.notifier.texts)
    env.sandbox.configure(page_size=1, pagination="next_cursor")
    env.clock.advance(seconds=41)
    await service.resume()
    assert status_of(env, request.id) == "purchased"


async def test_a_list_cut_short_never_proves_a_release_happened(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    first = (await env.service.import_number(REQUESTER, "+14155550400", None)).number
    number = (await env.service.import_number(REQUESTER, "+14155550401", None)).number
    request = (await service.request_release(REQUESTER, number.e164, "not needed")).request
    env.transport.fail("DELETE", f"/numbers/{number.id}", "timeout")  # never reached Flowyte
    env.sandbox.configure(page_size=1, pagination="no_cursor")
    result = await service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "checking"
    assert "release of +14155550401" in result.message
    assert status_of(env, request.id) == "checking"  # the first page only had `first`
    assert number.id in env.sandbox.numbers and first.id in env.sandbox.numbers
    assert not any("was released" in t for t in env.notifier.texts)
    env.sandbox.configure(page_size=1, pagination="next_cursor")
    env.clock.advance(seconds=11)
    await service.resume()  # every call is over and the complete list still has it
    final = env.storage.requests.get(request.id)
    assert final.status == "failed" and "not released" in final.detail
    # The record says why at each step: unsure while the list was cut short, then settled
    # by reconciling with the complete list.
    trail = [e for e in env.audit() if e.subject == request.id and e.actor == "numbot"]
    unsure = [e.detail_fields() for e in trail if e.action == "check"]
    assert unsure and unsure[0]["owned"] == "unknown" and unsure[0]["attempt"] == 1
    settled = [e.detail_fields() for e in trail if e.outcome == "failed"]
    assert settled == [{"reconciled": True}]


# --- settling on a replay's answer -----------------------------------------------------------


async def test_a_replay_refused_on_a_later_look_settles_it_as_not_bought(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout")  # never reached Flowyte
    env.transport.fail("POST", "/numbers/purchase", 503)  # the first look's replay
    result = await service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "checking"
    assert "purchase of " + request.e164 in result.message  # the approver is told, too
    assert (
        "nothing is charged twice" in result.message and "looks next at <!date^" in result.message
    )
    assert any("purchase of " + request.e164 in t for t in env.notifier.texts)
    unavailable = {"status": 409, "code": "number_unavailable"}
    env.transport.fail("POST", "/numbers/purchase", 409, body=unavailable)
    env.clock.advance(seconds=11)
    await service.resume()  # a definite refusal: not bought; the hold is given back first
    final = env.storage.requests.get(request.id)
    assert final.status == "failed" and "nothing was charged" in final.detail
    assert not env.purchases() and env.sandbox.balance == Decimal("25.00")
    released = [e for e in env.audit() if e.subject == request.id and e.action == "release_hold"]
    assert [e.outcome for e in released] == ["ok"]  # once, before concluding


async def test_a_hold_in_use_when_given_back_means_a_purchase_is_running(env):
    """The replay is refused, but Flowyte will not let go of the hold (409): a purchase is
    running after all. numbot does not conclude; the next look's replay tells."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout")
    env.transport.fail(
        "POST", "/numbers/purchase", 409, body={"status": 409, "code": "number_unavailable"}
    )
    env.transport.fail(
        "DELETE",
        f"/numbers/reserve/{request.reservation_id}",
        409,
        body={"status": 409, "code": "reservation_in_use"},
    )
    result = await service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "checking"
    assert status_of(env, request.id) == "checking"
    [look] = [e for e in env.audit() if e.subject == request.id and e.action == "check"]
    assert look.detail_fields() == {"attempt": 1, "hold": "in_use", "replay": "refused"}
    env.clock.advance(seconds=11)
    await service.resume()  # the replay now buys with the same key: once
    assert status_of(env, request.id) == "purchased" and env.sandbox.balance == Decimal("22.85")


# --- a request edited, or an approval forged, while it is in flight ---------------------------


async def test_a_request_edited_while_checking_is_flagged_once_and_never_replayed(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "lost")  # bought; the answer is lost
    env.transport.fail("POST", "/numbers/purchase", 503)  # the replay fails
    env.transport.fail("GET", "/numbers", "connect", times=2)  # and the list cannot be read
    await service.approve(APPROVER, request.id)
    assert status_of(env, request.id) == "checking"
    sent = len(env.purchases())
    _sql(env, "UPDATE requests SET setup_cost='0.01' WHERE id=?", request.id)
    env.storage.requests.set_fields(request.id, check_attempts=2)  # a look that would replay
    for _ in range(3):
        env.clock.advance(seconds=31)  # past the lease of the look before
        await service.resume()
    assert len(env.purchases()) == sent  # a replay can spend: none was sent
    alarms = [e for e in env.audit() if e.action == "integrity_alarm"]
    assert len(alarms) == 1 and alarms[0].subject == request.id
    [alert] = env.notifier.alerts
    assert request.id in alert and "setup price differ" in alert


async def test_an_approval_forged_into_the_audit_log_without_the_key_is_not_executed(env):
    """Someone with the file and the source, but not the key, writes the approval entry
    too. Its seal cannot be made, so numbot flags the request instead of buying."""
    request = await pending(env)
    last = env.storage.audit.head()
    forged = last.seq + 1
    _sql(
        env,
        "INSERT INTO audit (seq, at, actor, action, subject, outcome, detail, state, prev_hash, hash)"
        " VALUES (?, ?, ?, 'approve', ?, 'ok', ?, 'approved', ?, ?)",
        forged,
        last.at,
        APPROVER,
        request.id,
        sealed_approval(request),
        "é" * 64,  # whatever it writes; here not even hex
        "0" * 64,
    )
    _sql(
        env, "UPDATE requests SET status='approved', decided_by=? WHERE id=?", APPROVER, request.id
    )
    await env.service.resume()
    assert not env.purchases()
    assert status_of(env, request.id) == "approved"
    [alert] = env.notifier.alerts
    assert request.id in alert and "not sealed with the audit key" in alert
    result = env.storage.audit.verify()
    assert not result.ok and result.bad_seq == forged
    env.verify = lambda: None  # the chain is broken on purpose: the fixture must not check it


@pytest.mark.parametrize("forged_entry", [False, True], ids=["row-edited", "row-and-log-edited"])
async def test_only_a_card_whose_status_numbot_sealed_is_redrawn(env, forged_entry):
    bought = await env.service.approve(APPROVER, (await pending(env)).id)
    assert isinstance(bought, Decided) and bought.message == f"Bought {bought.request.e164}."
    env.storage.requests.set_fields(bought.request.id, card_drawn="pending")  # an update failed
    request = await pending(env, index=1)
    if forged_entry:
        last = env.storage.audit.head()
        _sql(
            env,
            "INSERT INTO audit (seq, at, actor, action, subject, outcome, detail, state, prev_hash, hash)"
            " VALUES (?, ?, 'numbot', 'purchase', ?, 'ok', '', 'purchased', ?, ?)",
            last.seq + 1,
            last.at,
            request.id,
            last.hash,
            "0" * 64,
        )
        env.verify = lambda: None  # broken on purpose
    _sql(env, "UPDATE requests SET status='purchased' WHERE id=?", request.id)
    env.notifier.updated.clear()
    env.clock.advance(seconds=6)
    await env.service.resume()
    redrawn = [(r.id, r.status) for r in env.notifier.updated]
    assert redrawn == [(bought.request.id, "purchased")]  # the honest card is repaired
    assert env.storage.requests.get(bought.request.id).card_drawn == "purchased"


# --- releases: nothing sent, refused, or unknown ---------------------------------------------


async def test_a_release_that_never_reached_flowyte_waits_for_approval_again(env):
    number = (await env.service.import_number(REQUESTER, "+14155550500", None)).number
    request = (await env.service.request_release(REQUESTER, number.e164, "x")).request
    env.transport.fail("DELETE", f"/numbers/{number.id}", "connect")
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and "waiting for approval again" in result.message
    back = env.storage.requests.get(request.id)
    assert back.status == "pending" and back.decided_by is None
    assert number.id in env.sandbox.numbers
    done = await env.service.approve(SECOND, request.id)
    assert isinstance(done, Decided) and done.message == f"Released {number.e164}."


async def test_a_release_flowyte_refuses_fails_and_says_so(env):
    number = (await env.service.import_number(REQUESTER, "+14155550501", None)).number
    request = (await env.service.request_release(REQUESTER, number.e164, "x")).request
    env.transport.fail(
        "DELETE", f"/numbers/{number.id}", 409, body={"status": 409, "code": "number_busy"}
    )
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "failed"
    assert status_of(env, request.id) == "failed"
    assert env.notifier.texts[-1].startswith(f"Your request for {number.e164} failed")
    assert number.id in env.sandbox.numbers


# --- the price re-check says why it could not be made ------------------------------------------


@pytest.mark.parametrize(
    ("fault", "why"), [(503, "Flowyte answered 503"), ("connect", "Flowyte did not answer")]
)
async def test_an_unchecked_price_says_why(env, fault, why):
    request = await pending(env)
    env.transport.fail("GET", f"/numbers/available/{request.e164}", fault, times=2)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and f"({why})" in result.message


# --- one look at a time, across processes, for as long as a look takes ------------------------


class SlowList(httpx.AsyncBaseTransport):
    """The owned list answers only when the test lets it (a long listing), once armed."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.armed = False
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed and request.method == "GET" and request.url.path.endswith("/numbers"):
            self.arrived.set()
            await asyncio.wait_for(self.release.wait(), 10)
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("left", ["checking", "interrupted"])
async def test_while_one_look_is_under_way_another_process_leaves_the_request_alone(env, left):
    slow = SlowList(env.transport)
    http = httpx.AsyncClient(
        base_url="http://sandbox/api/v1/",
        headers={"Authorization": f"Bearer {API_KEY}"},
        transport=slow,
    )
    a = env.new_service(flowyte=FlowyteClient(http), timing=Timing(quiet=10, grace=0))
    b = env.new_service(timing=Timing(quiet=10, grace=0), fresh_db=True)
    request = await pending(env, service=a)
    if left == "checking":
        env.transport.fail("POST", "/numbers/purchase", "timeout")
        env.transport.fail("POST", "/numbers/purchase", 503, times=2)  # this look's replay too
        await a.approve(APPROVER, request.id)
        assert status_of(env, request.id) == "checking"
    else:  # a process stopped mid-purchase; its replay on resume fails
        approved_in_storage(env, request)
        purchase_started_in_storage(env, request)
        env.transport.fail("POST", "/numbers/purchase", 503)
    env.clock.advance(seconds=11)
    slow.armed = True
    try:
        looking = asyncio.create_task(a.resume())
        await asyncio.wait_for(slow.arrived.wait(), 10)  # A's look is listing the numbers
        env.clock.advance(seconds=12)  # longer than a quiet window, shorter than the lease
        written = len(env.audit())
        assert await b.resume() == 0  # B takes no look of its own
        assert len(env.audit()) == written
        slow.release.set()
        await looking
    finally:
        await http.aclose()
    assert status_of(env, request.id) in ("checking", "failed")


async def test_the_sweep_wakes_in_time_to_remind_not_when_the_hold_has_lapsed(env):
    service = env.new_service(timing=Timing(quiet=0, grace=0, remind_minutes=10))
    request = await pending(env, service=service)  # its hold lapses in 30 minutes
    assert await service.next_due() == 20 * 60  # the reminder is due 10 minutes before
    env.clock.advance(minutes=21)
    assert await service.resume() == 1
    assert await service.next_due() == 9 * 60  # reminded: next, the hold lapsing
    [entry] = [e for e in env.audit() if e.subject == request.id and e.action == "remind"]
    assert entry.outcome == "ok"
    assert entry.detail_fields() == {"told": 2, "lapses": str(request.hold_expires_at)}


async def test_a_reminder_slack_refuses_is_audited_as_failed_and_not_sent_twice(env):
    service = env.new_service(timing=Timing(quiet=0, grace=0, remind_minutes=10))
    request = await pending(env, service=service)
    tried = []

    async def down(req, copies):
        tried.append(req.id)
        raise ConnectionError("slack down")

    env.notifier.remind = down
    env.clock.advance(minutes=21)
    assert await service.resume() == 1
    assert await service.resume() == 0  # claimed once: approvers are not nagged in a loop
    assert tried == [request.id]
    reminds = [
        (e.actor, e.outcome)
        for e in env.audit()
        if e.subject == request.id and e.action == "remind"
    ]
    assert reminds == [("numbot", "failed")]


# --- the audit log tells each story with its facts -------------------------------------------


def story(env, request_id, *, skip=("reserve", "notify_approvers", "request_purchase", "approve")):
    """(actor, action, outcome, state, detail) of each entry about a request; policy hashes
    are checked present and left out."""
    told = []
    for e in env.audit():
        if e.subject != request_id or e.action in skip:
            continue
        fields = e.detail_fields()
        if "policy" in fields:
            assert len(str(fields.pop("policy"))) == 16
        told.append((e.actor, e.action, e.outcome, e.state, fields))
    return told


async def test_an_unknown_purchase_is_audited_with_the_failure_every_look_and_the_proof(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", 503, times=2)  # the call and a replay
    await service.approve(APPROVER, request.id)
    unavailable = {"status": 409, "code": "number_unavailable"}
    env.transport.fail("POST", "/numbers/purchase", 409, body=unavailable)
    env.clock.advance(seconds=11)
    await service.resume()  # the replay is definitely refused: proof
    assert story(
        env,
        request.id,
        skip=("reserve", "notify_approvers", "request_purchase", "approve", "purchase_started"),
    ) == [
        ("numbot", "purchase", "unknown", "checking", {"error": "injected", "status": 503}),
        (
            "numbot",
            "check",
            "unknown",
            None,
            {"attempt": 1, "owned": "absent", "replay": "unknown"},
        ),
        ("numbot", "release_hold", "ok", None, {"reservation": request.reservation_id}),
        (
            "numbot",
            "purchase",
            "failed",
            "failed",
            {"code": "number_unavailable", "reconciled": True, "replay": "refused", "status": 409},
        ),
    ]


async def test_a_purchase_whose_answer_was_lost_names_the_error_and_how_it_was_settled(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "lost")  # bought; the answer is lost
    await env.service.approve(APPROVER, request.id)
    [unknown, bought] = story(
        env,
        request.id,
        skip=("reserve", "notify_approvers", "request_purchase", "approve", "purchase_started"),
    )
    assert unknown == ("numbot", "purchase", "unknown", "checking", {"error": "OutcomeUnknown"})
    assert bought[1:4] == ("purchase", "ok", "purchased")
    assert bought[4]["evidence"] == "replay" and bought[4]["charged"] == "2.15"


async def test_a_request_taken_up_after_a_restart_is_audited_as_resumed_with_its_status(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    approved_in_storage(env, request)  # approved, then the process stopped before buying
    env.clock.advance(seconds=11)
    assert await service.resume() == 1
    assert story(env, request.id)[:2] == [
        ("numbot", "resume", "ok", None, {"status": "approved"}),
        (
            "numbot",
            "purchase_started",
            "ok",
            "purchasing",
            {"idempotency_key": request.idempotency_key},
        ),
    ]


async def test_a_release_is_audited_with_its_number_reason_and_evidence(env):
    number = (await env.service.import_number(REQUESTER, "+14155550600", None)).number
    request = (await env.service.request_release(REQUESTER, number.e164, "spare line")).request
    await env.service.approve(APPROVER, request.id)
    assert story(env, request.id, skip=("notify_approvers", "approve")) == [
        (
            REQUESTER,
            "request_release",
            "ok",
            "pending",
            {
                "approvals_needed": 1,
                "e164": "+14155550600",
                "number": number.id,
                "reason": "spare line",
                "terms": {
                    "kind": "release",
                    "e164": "+14155550600",
                    "requester": REQUESTER,
                    "reservation": "",
                    "number": number.id,
                    "setup": "",
                    "monthly": str(number.monthly_cost),
                    "approvals_needed": 1,
                    "policy": NO_POLICY.hash,
                },
            },
        ),
        (
            "numbot",
            "release_started",
            "ok",
            "releasing",
            {"idempotency_key": request.idempotency_key},
        ),
        ("numbot", "release", "ok", "released", {"evidence": "answer", "number": number.id}),
    ]


async def test_a_rejection_and_an_expiry_are_audited_with_why(env):
    rejected = await pending(env)
    await env.service.reject(APPROVER, rejected.id, "too dear")
    assert story(env, rejected.id)[0] == (
        APPROVER,
        "reject",
        "ok",
        "rejected",
        {"reason": "too dear"},
    )
    hold = await env.service.reserve(REQUESTER, env.e164(1))
    env.clock.advance(minutes=31)
    await env.service.resume()
    assert story(env, hold.request.id) == [
        (
            "numbot",
            "expire",
            "ok",
            "expired",
            {"hold_expires_at": str(hold.request.hold_expires_at)},
        ),
    ]


async def test_a_price_that_could_not_be_checked_or_that_changed_is_audited_with_which(env):
    unchecked = await pending(env)
    env.transport.fail("GET", f"/numbers/available/{unchecked.e164}", 503, times=2)
    await env.service.approve(APPROVER, unchecked.id)
    [back] = [s for s in story(env, unchecked.id) if s[2] == "failed"]
    assert back[1:4] == ("purchase", "failed", "pending")
    assert back[4]["code"] == "price_unchecked"
    changed = await pending(env, 1)
    env.sandbox.inventory[changed.e164].monthly_cost = Decimal("1.16")
    await env.service.approve(APPROVER, changed.id)
    [failed] = [s for s in story(env, changed.id) if s[2] == "failed"]
    assert failed[1:4] == ("purchase", "failed", "failed")
    assert failed[4]["code"] == "price_changed"
    priceless = await pending(env, 2)
    env.transport.fail(
        "GET",
        f"/numbers/available/{priceless.e164}",
        200,
        body={"success": True, "data": {"e164": priceless.e164}},
    )
    await env.service.approve(APPROVER, priceless.id)
    [back] = [s for s in story(env, priceless.id) if s[2] == "failed"]
    assert back[1:4] == ("purchase", "failed", "pending")
    assert back[4]["code"] == "price_unchecked"


async def test_a_purchase_and_its_approval_are_audited_with_what_was_bought_and_by_whose_word(env):
    request = await pending(env)
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Decided)
    number = result.request.number_id
    entries = story(env, request.id, skip=("reserve", "notify_approvers", "request_purchase"))
    approve = entries[0]
    assert approve[:4] == (APPROVER, "approve", "ok", "approved")
    assert approve[4] == {"binds": binds(request), "count": 1, "needed": 1}  # the policy: story()
    assert entries[-1] == (
        "numbot",
        "purchase",
        "ok",
        "purchased",
        {"charged": "2.15", "e164": request.e164, "evidence": "answer", "number": number},
    )


async def test_a_purchase_flowyte_never_received_goes_back_to_pending_audited_with_why(env):
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "connect")  # refused before anything was sent
    result = await env.service.approve(APPROVER, request.id)
    assert isinstance(result, Refused)
    assert result.message.endswith(" The request is waiting for approval again.")
    [back] = [s for s in story(env, request.id) if s[2] == "failed"]
    assert back == ("numbot", "purchase", "failed", "pending", {"error": "FlowyteUnavailable"})
    env.transport.fail(
        "POST", "/numbers/purchase", 409, body={"status": 409, "code": "number_unavailable"}
    )
    other = await pending(env, 1)
    await env.service.approve(APPROVER, other.id)
    [failed] = [s for s in story(env, other.id) if s[2] == "failed"]
    assert failed[1:4] == ("purchase", "failed", "failed")
    assert failed[4] == {"code": "number_unavailable", "status": 409}


async def test_a_purchase_interrupted_mid_call_is_audited_as_resumed_from_that_call(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    approved_in_storage(env, request)
    purchase_started_in_storage(env, request)  # the process stopped while the purchase call was out
    env.clock.advance(seconds=11)
    await service.resume()
    assert story(
        env,
        request.id,
        skip=("reserve", "notify_approvers", "request_purchase", "approve", "purchase_started"),
    )[:2] == [
        ("numbot", "resume", "ok", None, {"status": "purchasing"}),
        ("numbot", "resume", "unknown", "checking", {"interrupted": "purchasing"}),
    ]


async def test_the_integrity_alarm_records_what_was_wrong_and_the_status_it_found(env):
    """What an operator reads first: the audit entry says why numbot would not spend."""
    request = await pending(env)
    _sql(
        env, "UPDATE requests SET status='approved', decided_by=? WHERE id=?", APPROVER, request.id
    )
    await env.service.resume()
    [alarm] = [e for e in env.audit() if e.action == "integrity_alarm"]
    assert (alarm.actor, alarm.subject, alarm.outcome) == ("numbot", request.id, "refused")
    assert alarm.detail_fields() == {
        "problem": "the database says approved, the audit log says pending",
        "status": "approved",
    }
    [alert] = env.notifier.alerts
    assert alert.startswith(":rotating_light: ") and "the audit log says pending" in alert


async def test_a_reminder_waits_for_a_card_still_being_posted(env):
    """A request whose hold lapses soon is due for a reminder the moment it is filed; another
    process's sweep must not remind before the card exists (the reminder goes on the card)."""
    service = env.new_service(timing=Timing(quiet=0, grace=0, remind_minutes=40))  # due at once
    request = await pending(env, service=service)
    uncarded = replace(env.storage.requests.get(request.id), card_ts=None)
    assert await service.filing.remind(uncarded) is False  # its card is being posted
    assert env.storage.requests.get(request.id).reminded_at is None and not env.notifier.reminded
    env.clock.advance(seconds=61)  # no card a minute on: it failed; the requester still hears
    assert await service.filing.remind(uncarded) is True
    assert [r.id for r in env.notifier.reminded] == [request.id]


async def test_the_sweep_does_not_spin_on_a_reminder_waiting_for_its_card(env):
    # Due at once; a card-less request is re-carded by the sweep only after `quiet`.
    service = env.new_service(timing=Timing(quiet=30, grace=0, remind_minutes=40))
    request = await pending(env, service=service)
    env.storage.requests.set_fields(request.id, card_ts=None)  # its card is still being posted
    await service.resume()
    assert not env.notifier.reminded
    assert await service.next_due() >= 1.5  # looks again in a moment, not at once

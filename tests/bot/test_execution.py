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

import pytest

from bot.outcomes import Decided, Held, Refused, Requested
from bot.workflow import Timing
from bot.workflow.evidence import PurchaseEvidence, Verdict, purchase_verdict, release_verdict
from bot.workflow.integrity import Step, approval_problem, binding
from storage.requests import AuditNote
from tests.bot.conftest import APPROVER, APPROVERS, REQUESTER

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
    assert any("checking" in t.lower() for t in env.notifier.texts)


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


async def test_not_bought_is_never_concluded_inside_the_quiet_window(env):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout")  # never reached Flowyte
    refused = {"status": 409, "code": "reservation_expired"}
    env.transport.fail("POST", "/numbers/purchase", 409, body=refused)
    result = await service.approve(APPROVER, request.id)
    # A definite refusal and a complete list without the number... but the first call was
    # sent moments ago and Flowyte might still be finishing it.
    assert isinstance(result, Refused) and result.code == "checking"
    assert status_of(env, request.id) == "checking"
    assert not env.sandbox.numbers
    env.clock.advance(seconds=11)
    assert await service.resume() == 1
    # That look sends no replay; the list and the inventory settle it.
    final = env.storage.requests.get(request.id)
    assert final.status == "failed" and "nothing was charged" in final.detail
    assert not env.purchases() and env.sandbox.balance == Decimal("25.00")


async def test_a_replay_whose_answer_is_lost_too_proves_nothing(env):
    """A replay is a purchase call: if its answer is lost, it may still land, so that look
    cannot prove "not bought" even with the list and the inventory saying so."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout", times=2)  # the call and a replay
    result = await service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "checking"
    env.storage.requests.set_fields(request.id, check_attempts=2)  # a look that replays
    env.transport.fail("POST", "/numbers/purchase", "timeout")
    env.clock.advance(seconds=11)
    await service.resume()
    looked = env.storage.requests.get(request.id)
    assert looked.status == "checking" and looked.check_attempts == 3
    env.clock.advance(seconds=41)  # the next look is due after 4 quiet windows (backoff)
    await service.resume()  # no replay this time, every call is over: now it is proof
    assert status_of(env, request.id) == "failed"
    assert not env.purchases()


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
    settled = [r for r in looks if isinstance(r, Refused) and r.code == "failed"]
    assert len(busy) == 1 and len(settled) == 1
    assert len([e for e in env.audit() if e.subject == request.id and e.state == "failed"]) == 1


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
    moved = env.storage.requests.transition(
        request.id,
        from_statuses=("pending",),
        to_status="approved",
        note=AuditNote(APPROVER, "approve", detail=json.dumps({"binds": binding(request)})),
        decided_by=APPROVER,
    )
    assert moved is not None
    for actor in (SECOND, REQUESTER):
        result = await env.service.reject(actor, request.id)
        assert isinstance(result, Refused) and result.code == "in_flight", result
    assert status_of(env, request.id) == "approved"


# --- only a sealed approval spends -----------------------------------------------------------


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
        ("reservation_id", "rsv_other"),
        ("decided_by", "UAPPROVER05"),
        ("requester", "UAPPROVER05"),
    ],
)
async def test_an_approved_request_edited_after_approval_is_not_executed(env, column, value):
    request = await pending(env)
    env.transport.fail("GET", f"/numbers/available/{request.e164}", "connect", times=4)
    # Approve it for real, then stall before execution: the price check cannot be made.
    env.storage.requests.transition(
        request.id,
        from_statuses=("pending",),
        to_status="approved",
        note=AuditNote(APPROVER, "approve", detail=json.dumps({"binds": binding(request)})),
        decided_by=APPROVER,
    )
    _sql(env, f"UPDATE requests SET {column}=? WHERE id=?", value, request.id)
    result = await env.service.executor.execute(env.storage.requests.get(request.id))
    assert isinstance(result, Refused) and result.code == "unauthentic", result
    assert not env.purchases()


async def test_membership_is_checked_at_click_time_and_the_seal_records_that_it_was(env):
    """Who may approve is decided when they click; the sealed approval is numbot's record
    that it checked then, so a removal after the click does not undo a sealed approval."""
    request = await pending(env)
    strict = env.new_service(approvers=APPROVERS[1:])  # APPROVER is no longer one
    refused = await strict.approve(APPROVER, request.id)
    assert isinstance(refused, Refused) and refused.code == "not_approver"
    env.storage.requests.transition(
        request.id,
        from_statuses=("pending",),
        to_status="approved",
        note=AuditNote(APPROVER, "approve", detail=json.dumps({"binds": binding(request)})),
        decided_by=APPROVER,
    )
    result = await strict.executor.execute(env.storage.requests.get(request.id))
    assert isinstance(result, Decided) and result.request.status == "purchased"


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
    assert approve.detail_fields()["binds"]["e164"] == request.e164


# --- the pure decisions ---------------------------------------------------------------------


def _steps(*states, authentic=True, approver=APPROVER, binds=None, needed=1, partial=()):
    """held, pending, [partial approvals by `partial`], approved by `approver`, ..."""
    steps = []
    for state in states:
        if state == "approved":
            for who in partial:
                fields = {"binds": binds, "count": 1, "needed": needed}
                steps.append(Step(len(steps) + 1, who, "", fields, authentic, "approve"))
            fields = {"binds": binds, "needed": needed}
            steps.append(Step(len(steps) + 1, approver, "approved", fields, authentic, "approve"))
            continue
        actor = REQUESTER if not steps else "numbot"
        steps.append(Step(len(steps) + 1, actor, state, {}, authentic, ""))
    return steps


async def test_approval_problem_rules(env):
    request = await pending(env)
    approved = replace(request, status="approved", decided_by=APPROVER)
    terms = binding(approved)
    ok = _steps("held", "pending", "approved", binds=terms)
    assert approval_problem(approved, ok) is None
    assert "no audit entry" in approval_problem(approved, [])
    assert "says approved" in approval_problem(approved, ok[:-1])
    assert "not sealed" in approval_problem(
        approved, _steps("held", "pending", "approved", authentic=False, binds=terms)
    )
    assert "changed after" in approval_problem(replace(approved, e164="+14155550000"), ok)
    reopened = _steps("held", "pending", "approved", "pending", binds=terms)
    assert "since the request was last put up" in approval_problem(
        replace(approved, status="pending"), reopened
    )
    self_approved = _steps("held", "pending", "approved", approver=REQUESTER, binds=terms)
    assert "own request" in approval_problem(replace(approved, decided_by=REQUESTER), self_approved)
    # A quorum of two: both sealed, distinct, for the same terms.
    two = _steps("held", "pending", "approved", binds=terms, needed=2, partial=(SECOND,))
    assert approval_problem(approved, two) is None
    alone = _steps("held", "pending", "approved", binds=terms, needed=2)
    assert "1 distinct approval(s) are recorded where 2" in approval_problem(approved, alone)
    twice = _steps("held", "pending", "approved", binds=terms, needed=2, partial=(APPROVER,))
    assert "where 2 were needed" in approval_problem(approved, twice)


@pytest.mark.parametrize(
    "replay,owned,inventory,settled,verdict",
    [
        ("bought", "unknown", "not_asked", False, Verdict.DONE),
        ("unknown", "listed", "not_asked", False, Verdict.DONE),
        ("refused", "absent", "for_sale", False, Verdict.UNSURE),  # a call may still be running
        ("refused", "absent", "gone", True, Verdict.NOT_DONE),
        ("refused", "unknown", "not_asked", True, Verdict.UNSURE),  # the list is not proof
        ("unknown", "absent", "for_sale", True, Verdict.UNSURE),  # the replay itself may land
        ("not_asked", "absent", "for_sale", True, Verdict.NOT_DONE),
        ("not_asked", "absent", "gone", True, Verdict.UNSURE),
        ("not_asked", "absent", "unknown", True, Verdict.UNSURE),
    ],
)
def test_purchase_verdicts(replay, owned, inventory, settled, verdict):
    evidence = PurchaseEvidence(replay=replay, owned=owned, inventory=inventory)
    assert purchase_verdict(evidence, settled=settled) is verdict


def test_release_verdicts():
    assert release_verdict("absent", settled=False) is Verdict.DONE
    assert release_verdict("listed", settled=False) is Verdict.UNSURE
    assert release_verdict("listed", settled=True) is Verdict.NOT_DONE
    assert release_verdict("unknown", settled=True) is Verdict.UNSURE


@pytest.mark.parametrize("pagination", ["no_cursor", "has_more", "links", "repeat"])
async def test_a_list_whose_end_is_not_stated_never_proves_not_bought(env, pagination):
    """A Flowyte that serves short pages without a cursor (or pages numbot cannot follow):
    the number bought on a later page must not read as "absent"."""
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    for n in range(3):
        await env.client.import_number(f"+1415555010{n}")
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "lost")  # bought; the answer is lost
    env.transport.fail("POST", "/numbers/purchase", 503)  # and the replay fails
    env.sandbox.configure(page_size=1, pagination=pagination)
    await service.approve(APPROVER, request.id)
    env.clock.advance(seconds=11)
    await service.resume()  # no replay on this look; only the list and the inventory
    assert status_of(env, request.id) == "checking"
    env.sandbox.configure(page_size=1, pagination="next_cursor")
    env.clock.advance(seconds=21)
    await service.resume()
    assert status_of(env, request.id) == "purchased"


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
    assert len(env.storage.requests.copies(request.id)) == 3  # two copies and the reminder
    assert [e.action for e in env.audit() if e.subject == request.id][-1] == "remind"


async def test_a_rejection_carries_its_reason_to_the_card_and_the_requester(env):
    request = await pending(env)
    result = await env.service.reject(APPROVER, request.id, "not this\nquarter \u202e")
    assert isinstance(result, Decided) and result.request.detail == "not this quarter"
    assert "Their reason: not this quarter" in env.notifier.texts[-1]
    refused = await env.service.rejectable(SECOND, request.id)
    assert isinstance(refused, Refused) and refused.code == "already_decided"

"""What the audit log records of filing: holds, requests and their refusals, with the facts a
reader of the log needs (which number, which hold, under which policy, who was told)."""

from __future__ import annotations

import asyncio

from bot.kernel.outcomes import Held, Refused, Requested
from bot.workflow.policy import Policy
from tests.bot.conftest import REQUESTER


def last(env, action, outcome="ok"):
    return [e for e in env.audit() if e.action == action and e.outcome == outcome][-1]


async def test_a_hold_records_its_number_reservation_and_policy(env):
    e164 = env.e164(0)
    held = await env.service.reserve(REQUESTER, e164)
    assert isinstance(held, Held)
    entry = last(env, "reserve")
    assert (entry.actor, entry.subject, entry.state) == (REQUESTER, held.request.id, "held")
    fields = entry.detail_fields()
    assert fields["e164"] == e164
    assert fields["reservation"] == held.request.reservation_id
    assert fields["policy"] == env.service.ctx.policy.hash


async def test_a_hold_over_the_limit_records_the_policy_that_refused_it(env):
    service = env.new_service(policy=Policy.model_validate({"max_open_holds": 1}))
    assert isinstance(await service.reserve(REQUESTER, env.e164(0)), Held)
    refused = await service.reserve(REQUESTER, env.e164(1))
    assert isinstance(refused, Refused) and refused.code == "too_many_holds"
    [fields] = env.refused(REQUESTER, "reserve")
    assert fields == {"code": "too_many_holds", "policy": service.ctx.policy.hash}


async def test_a_request_records_its_reason_quorum_and_policy_and_who_was_told(env):
    held = await env.service.reserve(REQUESTER, env.e164(0))
    asked = await env.service.request_purchase(REQUESTER, held.request.id, "support line")
    assert isinstance(asked, Requested)
    fields = last(env, "request_purchase").detail_fields()
    assert fields["reason"] == "support line" and fields["approvals_needed"] == 1
    assert fields["policy"] == env.service.ctx.policy.hash
    assert last(env, "notify_approvers").detail_fields() == {"told": 2}
    # The approvers' copies show the same wallet balance as the card.
    [(_, card_balance)] = env.notifier.posted
    assert card_balance is not None and env.notifier.notified_balances == [card_balance]


async def test_refused_requests_are_recorded_under_the_request_action(env):
    held = await env.service.reserve(REQUESTER, env.e164(0))
    await env.service.request_purchase(REQUESTER, held.request.id, "support line")
    again = await env.service.request_purchase(REQUESTER, held.request.id, "again")
    assert isinstance(again, Refused) and again.code == "already_requested"
    long_id = "req_" + "x" * 200
    gone = await env.service.request_purchase(REQUESTER, long_id, "x")
    assert isinstance(gone, Refused) and gone.code == "unknown"
    refusals = [
        (e.subject, e.detail_fields()["code"])
        for e in env.audit()
        if e.action == "request_purchase" and e.outcome == "refused"
    ]
    assert refusals == [(held.request.id, "already_requested"), (long_id[:40], "unknown")]


async def test_a_lapsed_hold_cannot_be_requested_and_the_refusal_is_recorded(env):
    held = await env.service.reserve(REQUESTER, env.e164(0))
    env.clock.advance(minutes=31)
    refused = await env.service.request_purchase(REQUESTER, held.request.id, "late")
    assert isinstance(refused, Refused) and refused.code == "expired"
    assert [f["code"] for f in env.refused(REQUESTER, "request_purchase")] == ["expired"]


async def test_two_requests_of_one_hold_at_once_file_it_once_and_record_the_other(env):
    held = await env.service.reserve(REQUESTER, env.e164(0))
    both = await asyncio.gather(
        env.service.request_purchase(REQUESTER, held.request.id, "first"),
        env.service.request_purchase(REQUESTER, held.request.id, "second"),
    )
    assert sorted(type(r).__name__ for r in both) == ["Refused", "Requested"]
    [refused] = [r for r in both if isinstance(r, Refused)]
    assert refused.code == "already_requested"
    assert [f["code"] for f in env.refused(REQUESTER, "request_purchase")] == ["already_requested"]
    assert (
        len([e for e in env.audit() if e.action == "request_purchase" and e.outcome == "ok"]) == 1
    )

"""The spend policy in the workflow, headless: quorum, cap, budget, hold limit, audited with
the policy's hash (tests/bot/conftest.py for the sandbox set-up)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.kernel.outcomes import Decided, Held, Refused, Requested
from bot.workflow.policy import Policy
from tests.bot.conftest import APPROVER, APPROVERS, REQUESTER

SECOND, THIRD = APPROVERS[1], APPROVERS[2]


def with_policy(env, **rules):
    return env.new_service(policy=Policy.model_validate(rules))


async def held(env, service, index=0, who=REQUESTER):
    result = await service.reserve(who, env.e164(index))
    assert isinstance(result, Held), result
    return result.request


async def requested(env, service, index=0):
    request = await held(env, service, index)
    result = await service.request_purchase(REQUESTER, request.id, "support line")
    return result


async def test_two_distinct_approvals_buy_once_and_the_same_approver_counts_once(env):
    service = with_policy(env, quorum=[{"above_usd": "2.00", "approvals": 2}])
    asked = await requested(env, service)
    assert isinstance(asked, Requested) and asked.request.approvals_needed == 2
    first = await service.approve(APPROVER, asked.request.id)
    assert isinstance(first, Decided) and "counted: 1 of 2" in first.message
    assert first.request.status == "pending" and first.request.approvals == (APPROVER,)
    again = await service.approve(APPROVER, asked.request.id)
    assert isinstance(again, Refused) and again.code == "already_counted"
    assert not env.purchases()
    second = await service.approve(SECOND, asked.request.id)
    assert isinstance(second, Decided) and second.request.status == "purchased"
    assert len(env.purchases()) == 1
    approvals = [e for e in env.audit() if e.action == "approve" and e.outcome == "ok"]
    assert [(e.actor, e.state) for e in approvals] == [(APPROVER, None), (SECOND, "approved")]
    assert {e.detail_fields()["policy"] for e in approvals} == {service.ctx.policy.hash}
    assert approvals[-1].detail_fields()["needed"] == 2


async def test_under_the_tier_one_approval_is_enough(env):
    service = with_policy(env, quorum=[{"above_usd": "2.15", "approvals": 2}])  # $2.15 is not above
    asked = await requested(env, service)
    assert asked.request.approvals_needed == 1
    done = await service.approve(APPROVER, asked.request.id)
    assert isinstance(done, Decided) and done.request.status == "purchased"


async def test_the_requester_never_counts(env):
    service = with_policy(env, approvers=[REQUESTER], quorum=[{"above_usd": "1", "approvals": 2}])
    asked = await requested(env, service)
    refused = await service.approve(REQUESTER, asked.request.id)
    assert isinstance(refused, Refused) and refused.code == "self_approval"


async def test_many_last_approvals_at_once_buy_once(env):
    service = with_policy(env, quorum=[{"above_usd": "1", "approvals": 3}])
    asked = await requested(env, service)
    results = await asyncio.gather(*(service.approve(a, asked.request.id) for a in APPROVERS))
    assert len(env.purchases()) == 1
    bought = [r for r in results if isinstance(r, Decided) and r.request.status == "purchased"]
    assert len(bought) == 1
    approvals = [e for e in env.audit() if e.action == "approve" and e.outcome == "ok"]
    assert len(approvals) == 3 and len({e.actor for e in approvals}) == 3


async def test_a_reject_by_any_approver_ends_a_half_approved_request(env):
    service = with_policy(env, quorum=[{"above_usd": "1", "approvals": 2}])
    asked = await requested(env, service)
    await service.approve(APPROVER, asked.request.id)
    rejected = await service.reject(SECOND, asked.request.id, "no")
    assert isinstance(rejected, Decided) and rejected.request.status == "rejected"
    late = await service.approve(THIRD, asked.request.id)
    assert isinstance(late, Refused) and not env.purchases()


async def test_a_cap_refuses_before_a_card_is_posted(env):
    service = with_policy(env, max_purchase_usd="2.00")
    asked = await requested(env, service)
    assert (
        isinstance(asked, Refused)
        and asked.message == "$2.15 is over the $2.00 cap for one purchase."
    )
    assert not env.notifier.posted
    [row] = env.refused(REQUESTER, "request_purchase")
    assert row == {"code": "over_cap", "charge": "2.15", "policy": service.ctx.policy.hash}


async def test_the_budget_counts_pending_requests(env):
    service = with_policy(env, monthly_budget_usd="4.00")
    first = await requested(env, service, 0)
    assert isinstance(first, Requested)
    assert env.notifier.budgets[-1] == "This month: $0.00 of $4.00"
    second = await requested(env, service, 1)
    assert isinstance(second, Refused) and second.code == "over_budget"
    assert "$0.00 spent + $2.15 pending of $4.00" in second.message


async def test_the_budget_is_checked_again_when_the_last_approval_lands(env):
    """Two requests fit the budget one at a time; approving both would not."""
    lenient = with_policy(env)  # both requested while there was no budget
    a = await requested(env, lenient, 0)
    b = await requested(env, lenient, 1)
    strict = with_policy(env, monthly_budget_usd="4.00")
    results = await asyncio.gather(
        strict.approve(APPROVER, a.request.id), strict.approve(APPROVER, b.request.id)
    )
    assert len(env.purchases()) == 1
    refused = [r for r in results if isinstance(r, Refused)]
    assert len(refused) == 1 and refused[0].code == "over_budget"
    [row] = env.refused(APPROVER, "approve")  # the refusal is audited with the policy it used
    assert row == {"code": "over_budget", "policy": strict.ctx.policy.hash}
    assert "$2.15 is spent or being bought of $4.00" in refused[0].message
    waiting = [r for r in (a, b) if env.storage.requests.get(r.request.id).status == "pending"]
    assert len(waiting) == 1 and waiting[0].request.approvals == ()  # not counted


async def test_a_hold_limit_names_what_you_hold(env):
    service = with_policy(env, max_open_holds=2)
    await held(env, service, 0)
    await held(env, service, 1)
    third = await service.reserve(REQUESTER, env.e164(2))
    assert isinstance(third, Refused) and third.code == "too_many_holds"
    assert env.e164(0) in third.message and env.e164(1) in third.message
    assert len(env.sandbox.reservations) == 2  # Flowyte was not asked
    other = await service.reserve(APPROVER, env.e164(2))  # the limit is per person
    assert isinstance(other, Held)


async def test_a_purchase_that_failed_needs_a_full_new_round(env):
    service = with_policy(env, quorum=[{"above_usd": "1", "approvals": 2}])
    asked = await requested(env, service)
    await service.approve(APPROVER, asked.request.id)
    env.transport.fail("POST", "/numbers/purchase", "connect")
    back = await service.approve(SECOND, asked.request.id)
    assert isinstance(back, Refused) and env.storage.requests.get(asked.request.id).approvals == ()
    counted = await service.approve(SECOND, asked.request.id)
    assert isinstance(counted, Decided) and counted.request.status == "pending"
    done = await service.approve(THIRD, asked.request.id)
    assert isinstance(done, Decided) and done.request.status == "purchased"
    assert env.sandbox.balance == Decimal("22.85")


async def test_home_and_the_card_show_this_month_against_the_budget(env):
    service = with_policy(env, monthly_budget_usd="10.00")
    asked = await requested(env, service)
    done = await service.approve(APPROVER, asked.request.id)
    assert isinstance(done, Decided)
    home = await service.home(REQUESTER)
    assert home.spend.budget == Decimal("10.00") and home.spend.committed == Decimal("2.15")
    assert env.notifier.budgets == ["This month: $0.00 of $10.00"]


async def test_each_counted_approval_says_how_many_more_and_redraws_every_copy(env):
    service = with_policy(env, quorum=[{"above_usd": "1", "approvals": 3}])
    request = (await requested(env, service)).request
    drawn = len(env.notifier.updated)
    first = await service.approve(APPROVER, request.id)
    assert first.message == (
        "Your approval is counted: 1 of 3. It needs 2 more approvers before anything is bought."
    )
    assert [r.approvals for r in env.notifier.updated[drawn:]] == [(APPROVER,)]  # the count shows
    again = await service.approve(APPROVER, request.id)
    assert again == Refused(
        "already_counted",
        "Your approval is already counted (1 of 3); another approver must approve too.",
    )
    [refused] = env.refused(APPROVER, "approve")
    assert refused == {"code": "already_counted", "policy": service.ctx.policy.hash}
    second = await service.approve(SECOND, request.id)
    assert second.message.endswith("It needs 1 more approver before anything is bought.")
    assert env.storage.requests.get(request.id).approvals == (APPROVER, SECOND)
    assert not env.purchases()
    last = await service.approve(THIRD, request.id)
    assert isinstance(last, Decided) and last.request.status == "purchased"


async def test_a_release_needs_the_release_quorum_whatever_the_purchase_tiers_ask(env):
    service = with_policy(
        env, release_approvals=2, quorum=[{"above_usd": "0", "approvals": 3}]
    )  # an unknown charge would need 3 under the purchase tiers
    number = (await service.import_number(REQUESTER, "+14155550000", None)).number
    asked = await service.request_release(REQUESTER, number.e164, "line retired")
    assert isinstance(asked, Requested) and asked.request.approvals_needed == 2
    filed = [e for e in env.audit() if e.action == "request_release"][-1].detail_fields()
    assert filed["approvals_needed"] == 2 and filed["policy"] == service.ctx.policy.hash
    first = await service.approve(APPROVER, asked.request.id)
    assert isinstance(first, Decided) and first.request.status == "pending"
    assert number.id in env.sandbox.numbers
    second = await service.approve(SECOND, asked.request.id)
    assert isinstance(second, Decided) and second.request.status == "released"
    assert number.id not in env.sandbox.numbers

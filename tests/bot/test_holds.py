"""Your work, found again: `holds()` lists it, and Reserve on your own hold says so."""

from __future__ import annotations

import json

from bot.kernel.outcomes import AlreadyHeld, Decided, Held, Holds, Refused, Requested
from tests.bot.conftest import APPROVER, APPROVERS, REQUESTER, STRANGER


async def hold(env, index: int = 0, who: str = REQUESTER):
    result = await env.service.reserve(who, env.e164(index))
    assert isinstance(result, Held), result
    return result.request


def reserves(env) -> int:
    return len(env.app.calls("POST", "/numbers/reserve"))


async def test_reserving_a_number_you_hold_returns_your_hold_without_asking_flowyte(env):
    mine = await hold(env)
    assert reserves(env) == 1
    again = await env.service.reserve(REQUESTER, mine.e164)
    assert again == AlreadyHeld(mine)
    assert reserves(env) == 1  # Flowyte was not asked again
    assert env.refused(REQUESTER, "reserve") == [{"code": "already_held", "e164": mine.e164}]
    entry = env.audit()[-1]
    assert (entry.subject, entry.outcome, entry.state) == (mine.id, "refused", None)


async def test_a_pending_request_is_your_hold_too(env):
    mine = await hold(env)
    requested = await env.service.request_purchase(REQUESTER, mine.id, "support")
    assert isinstance(requested, Requested)
    again = await env.service.reserve(REQUESTER, mine.e164)
    assert isinstance(again, AlreadyHeld) and again.request.status == "pending"
    assert reserves(env) == 1


async def test_someone_else_s_hold_still_goes_to_flowyte(env):
    theirs = await hold(env)
    result = await env.service.reserve(STRANGER, theirs.e164)
    assert isinstance(result, Refused)  # Flowyte says it is taken
    assert reserves(env) == 2


async def test_a_lapsed_or_finished_hold_is_not_yours_any_more(env):
    mine = await hold(env)
    env.clock.advance(minutes=31)
    result = await env.service.reserve(REQUESTER, mine.e164)
    assert not isinstance(result, AlreadyHeld)
    assert reserves(env) == 2
    cancelled = await hold(env, 1)
    assert isinstance(await env.service.reject(REQUESTER, cancelled.id), Decided)
    result = await env.service.reserve(REQUESTER, cancelled.e164)
    assert isinstance(result, Held) and result.request.id != cancelled.id


async def test_holds_lists_your_open_work_and_who_may_approve_it(env):
    first = await hold(env, 0)
    second = await hold(env, 1)
    requested = await env.service.request_purchase(REQUESTER, second.id, "support")
    assert isinstance(requested, Requested)
    await hold(env, 2, who=STRANGER)  # not theirs
    done = await hold(env, 3)
    await env.service.reject(REQUESTER, done.id)  # cancelled: no longer open
    listed = await env.service.holds(REQUESTER)
    assert isinstance(listed, Holds)
    assert sorted(r.id for r in listed.requests) == sorted([first.id, second.id])
    pending = next(r for r in listed.requests if r.id == second.id)
    assert pending.status == "pending" and pending.card_channel  # where its card is
    assert REQUESTER not in listed.approvers  # never their own approver
    assert set(listed.approvers) == set(APPROVERS)
    entry = env.audit()[-1]
    assert (entry.actor, entry.action, json.loads(entry.detail)) == (
        REQUESTER,
        "holds",
        {"count": 2},
    )


async def test_holds_leaves_out_a_hold_that_has_lapsed(env):
    await hold(env)
    env.clock.advance(minutes=31)
    assert (await env.service.holds(REQUESTER)).requests == []


async def test_an_approver_s_own_list_names_the_other_approvers(env):
    listed = await env.service.holds(APPROVER)
    assert listed.requests == [] and APPROVER not in listed.approvers

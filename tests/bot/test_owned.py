"""The owned-number index through the service (bot/workflow/owned.py), over the sandbox."""

from __future__ import annotations

import pytest

from bot.kernel.outcomes import Assigned, NumberList, Refused
from bot.workflow.owned import Unfinished
from tests.bot.conftest import APPROVER


def gets_of_list(env) -> int:
    return len(env.app.calls("GET", "/api/v1/numbers"))


async def test_a_refresh_reads_every_page_and_the_list_pages_from_the_index(env):
    env.sandbox.configure(page_size=7)
    seeded = env.sandbox.seed_owned(45)
    assert await env.service.owned.refresh() is True
    assert gets_of_list(env) == 7  # every page, to the one that says it is the last
    state = await env.service.owned.state()
    assert state.complete_count == 45 and not state.running and state.seen == 45
    before = gets_of_list(env)
    listed = await env.service.list_numbers(APPROVER, page=2, rows=20, fresh=False)
    assert isinstance(listed, NumberList)
    assert listed.total == 45 and listed.page == 2 and listed.as_of == state.complete_at
    assert [n.e164 for n in listed.numbers] == sorted(seeded)[40:]
    past_the_end = await env.service.list_numbers(APPROVER, page=99, rows=20, fresh=False)
    assert isinstance(past_the_end, NumberList) and past_the_end.page == 2
    assert gets_of_list(env) == before  # pages come from the index


async def test_released_elsewhere_goes_after_a_complete_refresh_never_an_incomplete_one(env):
    env.sandbox.configure(page_size=5)
    seeded = env.sandbox.seed_owned(20)
    assert await env.service.owned.refresh() is True
    env.sandbox.release_elsewhere(seeded[3])
    env.transport.fail("GET", "/numbers", 503, times=10)  # pages fail past the retries
    env.clock.advance(seconds=1)
    assert await env.service.owned.refresh() is False
    assert (await env.storage.run(env.storage.owned.counts))[0] == 20  # nothing removed
    state = await env.service.owned.state()
    assert not state.complete and state.complete_count == 20
    env.transport.faults.clear()
    env.clock.advance(seconds=1)
    assert await env.service.owned.refresh() is True
    assert await env.storage.run(env.storage.owned.find, seeded[3]) is None
    assert (await env.storage.run(env.storage.owned.counts))[0] == 19


async def test_a_number_in_the_index_resolves_with_one_call(env):
    env.sandbox.configure(page_size=5)
    seeded = env.sandbox.seed_owned(30)
    assert await env.service.owned.refresh() is True
    before = gets_of_list(env)
    assigned = await env.service.assign(APPROVER, seeded[27], "agt_sales")
    assert isinstance(assigned, Assigned)
    assert gets_of_list(env) == before  # no walk
    row = await env.storage.run(env.storage.owned.find, seeded[27])
    assert row is not None and row.agent_id == "agt_sales"  # kept fresh by the assignment
    assert (await env.service.unassign(APPROVER, seeded[27])).number.default_agent_id is None
    row = await env.storage.run(env.storage.owned.find, seeded[27])
    assert row is not None and row.agent_id is None


async def test_a_number_missing_from_the_index_is_looked_for_with_an_early_exit(env):
    env.sandbox.configure(page_size=5)
    seeded = env.sandbox.seed_owned(50)
    found = await env.service.owned.find(seeded[12])  # never refreshed: not in the index
    assert found is not None and found.e164 == seeded[12]
    assert gets_of_list(env) == 3  # pages 1-3 of 10, then it stopped
    assert await env.storage.run(env.storage.owned.find, seeded[12]) is not None
    assert await env.service.owned.find("+19995550000") is None  # read to the end: not ours
    with pytest.raises(Unfinished) as unfinished:
        await env.service.owned.find("+19995550001", walk_seconds=0.0)
    assert unfinished.value.seen == 5


async def test_an_index_row_flowyte_no_longer_has_is_dropped_and_not_owned_said(env):
    seeded = env.sandbox.seed_owned(3)
    assert await env.service.owned.refresh() is True
    env.sandbox.release_elsewhere(seeded[1])
    refused = await env.service.assign(APPROVER, seeded[1], "agt_sales")
    assert isinstance(refused, Refused) and refused.code == "not_owned"
    assert await env.storage.run(env.storage.owned.find, seeded[1]) is None


async def test_not_found_yet_is_said_so_never_not_owned(env):
    env.sandbox.configure(page_size=1)
    env.sandbox.seed_owned(3)
    env.service.owned.find_walk_seconds = 0.0
    refused = await env.service.assign(APPROVER, "+19995550002", "agt_sales")
    assert isinstance(refused, Refused) and refused.code == "not_found_yet"
    assert "not found" in refused.message and "Try again" in refused.message


def test_a_refresh_is_due_until_one_completes_then_every_interval():
    from datetime import UTC, datetime, timedelta

    from bot.workflow.owned import OwnedBook
    from storage.owned import RefreshState

    book = OwnedBook(ctx=None, refresh_minutes=15)  # type: ignore[arg-type]
    now = datetime(2030, 1, 1, tzinfo=UTC)
    never = RefreshState(None, None, False, 0, None, None)
    assert book.due(never, now)
    failed_first = RefreshState(now, now, False, 300, None, None)
    assert book.due(failed_first, now)  # nothing complete yet: try again at once
    # a long walk (ten minutes) that ended a minute ago: the interval counts from its end
    ended = now - timedelta(minutes=1)
    done = RefreshState(now - timedelta(minutes=11), ended, True, 9, ended, 9)
    assert not book.due(done, now)
    assert not book.due(done, now, within=120.0)
    assert book.due(done, now, within=30.0)  # /numbers list of a large organization
    assert book.due(done, now + timedelta(minutes=14))
    assert book.due(done, now, within=0.0)  # a small organization's /numbers list
    incomplete_after = RefreshState(now - timedelta(minutes=2), ended, False, 5, now, 9)
    assert not book.due(incomplete_after, now)  # the last complete read stands until then

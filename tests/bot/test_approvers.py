"""bot/workflow/approvers.py: who may approve, with user groups read through a fake Directory
and time from an injected clock (no sleeps)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.workflow.approvers import EVENTS_KEPT, MAX_AGE, ApproverSet
from bot.workflow.policy import Policy

ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"
FINANCE, OPS = "S0FINANCE", "S0OPS"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeDirectory:
    """Groups as a dict; every read recorded; reads can be held at a gate or made to fail."""

    def __init__(self, **groups: set[str]) -> None:
        self.groups = {name: set(members) for name, members in groups.items()}
        self.reads: list[str] = []
        self.gate: asyncio.Event | None = None
        self.failing: dict[str, Exception] = {}

    async def group_members(self, group_id: str) -> frozenset[str]:
        self.reads.append(group_id)
        if self.gate is not None:
            await self.gate.wait()
        if group_id in self.failing:
            raise self.failing[group_id]
        if group_id not in self.groups:
            raise LookupError(f"no user group {group_id}")
        return frozenset(self.groups[group_id])


async def reads_begun(directory: FakeDirectory, count: int) -> None:
    """Let the loop run until `count` reads have reached the directory."""
    for _ in range(100):
        if len(directory.reads) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(directory.reads)} read(s), not {count}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def approvers(directory: FakeDirectory | None, clock: Clock, *groups: str, static=(ALICE,)):
    return ApproverSet(frozenset(static), groups, directory, monotonic=clock)


async def test_named_approvers_need_no_read(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    people = approvers(directory, clock, FINANCE)
    assert await people.includes(ALICE)
    assert directory.reads == []


async def test_a_group_member_may_approve_and_others_may_not(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    people = approvers(directory, clock, FINANCE)
    assert await people.includes(BOB)
    assert not await people.includes(CAROL)
    assert directory.reads == [FINANCE]  # the second question was answered from the cache


async def test_without_groups_only_the_named_approve(clock):
    people = ApproverSet(frozenset({ALICE}), (), None, monotonic=clock)
    assert await people.includes(ALICE)
    assert not await people.includes(BOB)


async def test_someone_removed_from_a_group_loses_the_right_within_max_age(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    people = approvers(directory, clock, FINANCE)
    assert await people.includes(BOB)
    directory.groups[FINANCE].discard(BOB)  # an admin removes Bob from the group
    clock.now += MAX_AGE - 0.01
    assert await people.includes(BOB)  # still within the cache's age
    clock.now += 0.01
    assert not await people.includes(BOB)  # MAX_AGE after the read began: read again
    assert directory.reads == [FINANCE, FINANCE]


async def test_someone_added_to_a_group_may_approve_once_the_cache_is_old(clock):
    directory = FakeDirectory(**{FINANCE: set()})
    people = approvers(directory, clock, FINANCE)
    assert not await people.includes(BOB)
    directory.groups[FINANCE].add(BOB)
    clock.now += MAX_AGE
    assert await people.includes(BOB)


async def test_the_age_counts_from_when_the_read_began(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    directory.gate = asyncio.Event()
    people = approvers(directory, clock, FINANCE)
    asking = asyncio.create_task(people.includes(BOB))
    await reads_begun(directory, 1)
    clock.now += 4  # Slack takes 4 s to answer
    directory.gate.set()
    assert await asking
    clock.now += MAX_AGE - 4  # MAX_AGE after the read began, 4 s less after it ended
    directory.gate = None
    await people.includes(BOB)
    assert directory.reads == [FINANCE, FINANCE]


async def test_concurrent_lookups_of_one_group_share_one_read(clock):
    directory = FakeDirectory(**{FINANCE: {BOB, CAROL}})
    directory.gate = asyncio.Event()
    people = approvers(directory, clock, FINANCE)
    asking = [asyncio.create_task(people.includes(u)) for u in (BOB, CAROL, DAVE, BOB, CAROL)]
    await reads_begun(directory, 1)
    for _ in range(10):
        await asyncio.sleep(0)  # every click is waiting now
    directory.gate.set()
    assert await asyncio.gather(*asking) == [True, True, False, True, True]
    assert directory.reads == [FINANCE]


async def test_a_read_older_than_max_age_still_under_way_is_not_joined(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    directory.gate = asyncio.Event()
    people = approvers(directory, clock, FINANCE)
    first = asyncio.create_task(people.includes(BOB))
    await reads_begun(directory, 1)
    clock.now += MAX_AGE  # that read is hanging; its answer could be too old
    second = asyncio.create_task(people.includes(BOB))
    await reads_begun(directory, 2)
    directory.gate.set()
    assert await first and await second


async def test_a_cancelled_click_does_not_cancel_the_read_others_wait_for(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    directory.gate = asyncio.Event()
    people = approvers(directory, clock, FINANCE)
    impatient = asyncio.create_task(people.includes(CAROL))
    patient = asyncio.create_task(people.includes(BOB))
    await reads_begun(directory, 1)
    impatient.cancel()
    await asyncio.sleep(0)
    directory.gate.set()
    assert await patient
    assert impatient.cancelled()
    assert directory.reads == [FINANCE]


async def test_when_slack_cannot_be_asked_only_the_named_approve(clock, caplog):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    people = approvers(directory, clock, FINANCE)
    assert await people.includes(BOB)
    directory.failing[FINANCE] = RuntimeError("Slack did not answer within 5 s")
    clock.now += MAX_AGE
    with caplog.at_level(logging.WARNING, logger="bot.workflow.approvers"):
        assert not await people.includes(BOB)  # the older read said yes: not trusted now
        assert await people.includes(ALICE)
    [record] = [r for r in caplog.records if r.name == "bot.workflow.approvers"]
    assert BOB in record.getMessage() and FINANCE in record.getMessage()
    assert "Slack did not answer within 5 s" in record.getMessage()


async def test_a_failure_is_not_cached(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    directory.failing[FINANCE] = RuntimeError("timeout")
    people = approvers(directory, clock, FINANCE)
    assert not await people.includes(BOB)
    del directory.failing[FINANCE]
    assert await people.includes(BOB)  # the next click asks again, at once
    assert directory.reads == [FINANCE, FINANCE]


async def test_one_group_failing_does_not_hide_another(clock):
    directory = FakeDirectory(**{OPS: {BOB}})
    directory.failing[FINANCE] = RuntimeError("no_such_subteam")
    people = approvers(directory, clock, FINANCE, OPS)
    assert await people.includes(BOB)
    assert not await people.includes(CAROL)


async def test_a_fresh_group_answers_without_reading_a_stale_one(clock):
    directory = FakeDirectory(**{FINANCE: {CAROL}, OPS: {BOB}})
    people = approvers(directory, clock, FINANCE, OPS)
    await people.everyone()  # both read at t
    clock.now += MAX_AGE - 1
    await people.includes(DAVE)  # nobody's: both still fresh, no read
    assert directory.reads == [FINANCE, OPS]
    assert await people.includes(BOB)
    assert directory.reads == [FINANCE, OPS]


async def test_groups_without_a_directory_count_nobody(clock, caplog):
    people = approvers(None, clock, FINANCE)
    with caplog.at_level(logging.WARNING, logger="bot.workflow.approvers"):
        assert not await people.includes(BOB)
    assert any(FINANCE in r.getMessage() for r in caplog.records)
    assert await people.includes(ALICE)
    assert await people.everyone() == {ALICE}


async def test_everyone_is_the_named_and_every_group_s_members(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}, OPS: {CAROL, ALICE}})
    people = approvers(directory, clock, FINANCE, OPS)
    assert await people.everyone() == {ALICE, BOB, CAROL}


async def test_everyone_falls_back_to_the_members_last_read(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}, OPS: {CAROL}})
    people = approvers(directory, clock, FINANCE, OPS)
    await people.everyone()
    clock.now += MAX_AGE
    directory.failing[FINANCE] = RuntimeError("Slack is down")
    directory.groups[OPS] = {DAVE}
    assert await people.everyone() == {ALICE, BOB, DAVE}  # Bob from the last read; OPS afresh
    directory.failing[OPS] = RuntimeError("Slack is down")
    fresh = approvers(directory, clock, FINANCE, OPS)
    assert await fresh.everyone() == {ALICE}  # nothing read before: only the named


async def test_known_is_a_snapshot_without_io(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    people = approvers(directory, clock, FINANCE)
    assert people.known() == {ALICE}
    await people.includes(CAROL)
    reads = list(directory.reads)
    clock.now += 10 * MAX_AGE
    assert people.known() == {ALICE, BOB}  # however old
    assert directory.reads == reads


async def test_known_whole_names_everyone_only_once_every_group_was_read(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}, OPS: {CAROL}})
    assert approvers(directory, clock).known_whole() == {ALICE}  # no groups: the named
    people = approvers(directory, clock, FINANCE, OPS)
    assert people.known_whole() is None  # nobody can say who is in FINANCE yet
    directory.failing[OPS] = RuntimeError("Slack is down")
    await people.everyone()  # FINANCE read, OPS not
    assert people.known_whole() is None
    del directory.failing[OPS]
    await people.everyone()
    reads = list(directory.reads)
    clock.now += 10 * MAX_AGE
    assert people.known_whole() == {ALICE, BOB, CAROL}  # however old, without a read
    assert directory.reads == reads


def test_for_policy_joins_the_environment_and_the_policy():
    policy = Policy(approvers=(BOB,), approver_groups=(FINANCE, OPS, FINANCE))
    people = ApproverSet.for_policy(policy, (ALICE, BOB), None)
    assert people.static == {ALICE, BOB}
    assert people.groups == (FINANCE, OPS)
    assert people.max_age == MAX_AGE


async def test_kept_fresh_in_the_background_a_click_never_reads_a_group(clock):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    people = approvers(directory, clock, FINANCE)
    keeping = asyncio.create_task(people.keep_fresh(every=0))
    try:
        await reads_begun(directory, 1)
        for _ in range(5):  # each round: time passes past a read's trust, and a read follows
            clock.now += MAX_AGE / 3
            before = len(directory.reads)
            await reads_begun(directory, before + 1)
            await asyncio.sleep(0)
            assert people.includes_now(BOB) is True  # answered without asking Slack
        clicks_read = len(directory.reads)
        assert await people.includes(BOB)
        assert not await people.includes(CAROL)
        assert len(directory.reads) <= clicks_read + 1  # at most the loop's own next read
    finally:
        keeping.cancel()
        await asyncio.gather(keeping, return_exceptions=True)


async def test_a_failing_background_read_is_logged_once_and_its_recovery_once(clock, caplog):
    directory = FakeDirectory(**{FINANCE: {BOB}})
    directory.failing[FINANCE] = RuntimeError("ratelimited")
    people = approvers(directory, clock, FINANCE)
    caplog.set_level(logging.INFO, logger="bot.workflow.approvers")
    for _ in range(3):
        await people._refresh(FINANCE)
        clock.now += MAX_AGE  # each read a new one, not the one under way
    del directory.failing[FINANCE]
    await people._refresh(FINANCE)
    await people._refresh(FINANCE)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("could not read user group S0FINANCE" in m for m in messages) == 1
    assert sum("user group S0FINANCE read again: 1 member(s)" in m for m in messages) == 1


async def test_slack_s_removal_event_applies_at_once_even_over_a_read_under_way(clock):
    directory = FakeDirectory(**{FINANCE: {BOB, CAROL}})
    people = approvers(directory, clock, FINANCE)
    assert await people.includes(BOB)
    # A background read begins; Slack still lists Bob, then he is removed and the event comes.
    directory.gate = asyncio.Event()
    clock.now += 1
    reading = asyncio.create_task(people._read(FINANCE, after=clock.now))
    await reads_begun(directory, 2)
    clock.now += 1
    assert people.members_changed(FINANCE, removed=[BOB])
    assert people.includes_now(BOB) is False  # at once, from the event alone
    directory.gate.set()
    assert BOB not in await reading  # the older read cannot give the right back
    assert not await people.includes(BOB)
    assert await people.includes(CAROL)
    assert len(directory.reads) == 2
    # A read begun after the event says what Slack says: Bob back in the group counts.
    directory.gate = None
    clock.now += MAX_AGE
    assert await people.includes(BOB)
    # The event is forgotten only once no read begun before it can still answer.
    assert BOB in people._removed[FINANCE]
    clock.now += EVENTS_KEPT
    await people.includes(BOB)
    assert people._removed[FINANCE] == {}


async def test_an_older_read_outliving_a_newer_one_cannot_give_a_removed_right_back(clock):
    class Snapshots(FakeDirectory):
        """Each read answers the members as they were when it began, when its gate opens."""

        async def group_members(self, group_id: str) -> frozenset[str]:
            self.reads.append(group_id)
            members, gate = frozenset(self.groups[group_id]), self.gate
            if gate is not None:
                await gate.wait()
            return members

    directory = Snapshots(**{FINANCE: {BOB, CAROL}})
    people = approvers(directory, clock, FINANCE)
    slow = directory.gate = asyncio.Event()
    old = asyncio.create_task(people._read(FINANCE))  # began with Bob in; Slack is slow
    await reads_begun(directory, 1)
    clock.now += 1
    directory.groups[FINANCE].discard(BOB)
    people.members_changed(FINANCE, removed=[BOB])
    clock.now += 1
    directory.gate = None
    assert BOB not in await people._read(FINANCE, after=clock.now)  # a newer read ends first
    slow.set()
    assert BOB not in await old  # and did not make numbot forget the event
    assert not await people.includes(BOB)


async def test_someone_added_is_read_afresh_at_their_first_click(clock):
    directory = FakeDirectory(**{FINANCE: {CAROL}})
    people = approvers(directory, clock, FINANCE)
    assert not await people.includes(BOB)
    directory.groups[FINANCE].add(BOB)
    clock.now += 1  # the last read is still trusted
    assert not people.members_changed(OPS, added=[BOB])  # not an approvers' group: ignored
    assert people.members_changed(FINANCE, added=[BOB])
    assert await people.includes(BOB)
    assert directory.reads == [FINANCE, FINANCE]
    assert await people.includes(BOB)  # and then from the read, as anyone
    assert directory.reads == [FINANCE, FINANCE]


async def test_an_added_event_cannot_make_an_approver_slack_does_not_list(clock):
    directory = FakeDirectory(**{FINANCE: {CAROL}})
    people = approvers(directory, clock, FINANCE)
    assert await people.includes(CAROL)
    people.members_changed(FINANCE, added=[DAVE])  # the event alone proves nothing
    assert not await people.includes(DAVE)

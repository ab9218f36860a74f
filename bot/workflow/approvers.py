"""Who may approve: named people, and the members of Slack user groups, kept fresh apart
from the clicks.

    approvers = ApproverSet.for_policy(policy, settings.NUMBOT_APPROVERS, SlackDirectory(client))
    await approvers.keep_fresh()          # in the background: each group read every `refresh`
    await approvers.includes("U0BOB")     # at each click: may this person approve?
    approvers.members_changed(group, removed=[...], added=[...])  # Slack's event, at once
    await approvers.everyone()            # whom to tell about a request (DMs, reminders)
    approvers.known()                     # a snapshot without asking Slack (App Home redraws)

The static people (NUMBOT_APPROVERS and the policy's `approvers`) are fixed at start. A
group's members are read through a Directory (bot/kernel/ports.py) in the background every
`refresh` seconds (NUMBOT_USERGROUP_REFRESH_SECONDS, 20) and trusted for `max_age` (three
times that), counted from when the read began. So a click, and the purchase after the last
one, never waits on Slack to list a group: with Slack slow or rate-limiting, the money does
not wait with it (an approver's click reads a group itself only when the background reads
have failed for longer than `max_age`).

Slack's `subteam_members_changed` event applies at once: someone removed loses the right
before any read (and a read begun before the event cannot give it back); someone added is
read afresh on their first click. Without the event, a change takes effect within `max_age`.

When Slack cannot say who is in a group, nobody is counted from it: `includes` fails closed
(and logs why), whatever an older read said. Telling people is not deciding, so `everyone`
falls back to the last members it read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from bot.kernel.ports import Directory
from bot.workflow.policy import Policy

logger = logging.getLogger("bot.workflow.approvers")

REFRESH = 20.0  # seconds between background reads of each group
EVENTS_KEPT = 600.0  # seconds Slack's membership events are kept over reads begun after them
MAX_AGE = (
    3 * REFRESH
)  # seconds a group's members may be trusted after the read that found them began


@dataclass(frozen=True)
class Membership:
    """Whether someone may approve now; when not, the groups Slack could not be asked about."""

    allowed: bool
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Read:
    members: frozenset[str]
    began: float  # monotonic time the read began: the members are at least this fresh


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class ApproverSet:
    def __init__(
        self,
        static: Iterable[str],
        groups: Iterable[str] = (),
        directory: Directory | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE,
    ) -> None:
        self._static: frozenset[str] = frozenset(static)
        self._groups: tuple[str, ...] = tuple(dict.fromkeys(groups))  # in order, once each
        self._env: frozenset[str] = frozenset()
        self._policy: Callable[[], Policy] | None = None
        self.directory = directory
        self.max_age = max_age
        self._monotonic = monotonic
        self._cache: dict[str, _Read] = {}
        self._reading: dict[str, tuple[float, asyncio.Task[frozenset[str]]]] = {}
        # From Slack's events, by group: who was removed / added, and when (monotonic).
        self._removed: dict[str, dict[str, float]] = {}
        self._added: dict[str, dict[str, float]] = {}
        self._failing: set[str] = set()  # groups whose last background read failed

    @property
    def static(self) -> frozenset[str]:
        """The people named: NUMBOT_APPROVERS and, when following a policy, its `approvers`
        as the policy stands now."""
        if self._policy is None:
            return self._static
        return self._env | frozenset(self._policy().approvers)

    @property
    def groups(self) -> tuple[str, ...]:
        if self._policy is None:
            return self._groups
        return tuple(dict.fromkeys(self._policy().approver_groups))

    def follow(self, policy: Callable[[], Policy], env_approvers: Iterable[str]) -> ApproverSet:
        """Take the named people and groups from `policy()` at each use (a policy file edited
        while numbot runs applies from the next click)."""
        self._policy = policy
        self._env = frozenset(env_approvers)
        return self

    @classmethod
    def for_policy(
        cls,
        policy: Policy,
        env_approvers: Iterable[str],
        directory: Directory | None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE,
    ) -> ApproverSet:
        """NUMBOT_APPROVERS and the policy's approvers, and the policy's user groups."""
        return cls(
            frozenset(env_approvers) | frozenset(policy.approvers),
            policy.approver_groups,
            directory,
            monotonic=monotonic,
            max_age=max_age,
        )

    # -- the questions ------------------------------------------------------------------------

    async def includes(self, user: str) -> bool:
        """May `user` approve, now? A named approver, or a member of a group as Slack has it
        (at most `max_age` old). A group Slack cannot be asked about counts nobody."""
        return (await self.check(user)).allowed

    async def check(self, user: str) -> Membership:
        """`includes`, and when it says no, the groups Slack could not say anything about
        (so the person can be told that, not that they are no approver)."""
        if user in self.static:
            return Membership(True)
        if not self.groups:
            return Membership(False)
        if self.directory is None:
            logger.warning(
                "%s is not counted as an approver: numbot cannot read user groups %s here",
                user,
                ", ".join(self.groups),
            )
            return Membership(False, self.groups)
        to_read: list[tuple[str, float]] = []  # each group, and a read begun no earlier than
        for group in self.groups:
            fresh = self._fresh(group)
            joined = self._added.get(group, {}).get(user)
            if fresh is None:
                to_read.append((group, 0.0))
            elif user in fresh:
                return Membership(True)
            elif joined is not None:  # Slack said they joined since that read
                to_read.append((group, joined))
        results = await asyncio.gather(
            *(self._read(g, after=after) for g, after in to_read), return_exceptions=True
        )
        to_read_groups = [group for group, _ in to_read]
        unread = []
        for group, result in zip(to_read_groups, results, strict=True):
            if isinstance(result, frozenset):
                if user in result:
                    return Membership(True)
            elif isinstance(result, Exception):
                logger.warning(
                    "cannot tell whether %s is in user group %s, so not counted from it: %s",
                    user,
                    group,
                    _why(result),
                )
                unread.append(group)
            else:
                raise result  # cancelled: not an answer
        return Membership(False, tuple(unread))

    def includes_now(self, user: str) -> bool | None:
        """`includes` without asking Slack (before an ack): True or False when what numbot
        holds tells, None when it would need a group's members read afresh."""
        if user in self.static:
            return True
        unknown = False
        for group in self.groups:
            fresh = self._fresh(group)
            if fresh is None or (user not in fresh and user in self._added.get(group, {})):
                unknown = True
            elif user in fresh:
                return True
        return None if unknown else False

    async def everyone(self) -> frozenset[str]:
        """Everyone who may approve, to tell them about a request: the named people and each
        group's members (when Slack cannot say, the members numbot last read)."""
        people = set(self.static)
        if not self.groups:
            return frozenset(people)
        if self.directory is None:
            logger.warning("cannot read user groups %s here", ", ".join(self.groups))
            return self.known()
        results = await asyncio.gather(
            *(self._members(g) for g in self.groups), return_exceptions=True
        )
        for group, result in zip(self.groups, results, strict=True):
            if isinstance(result, frozenset):
                people |= result
            elif isinstance(result, Exception):
                last = self._cache.get(group)
                logger.warning(
                    "could not read user group %s (%s); telling the %d member(s) numbot last read",
                    group,
                    _why(result),
                    len(last.members) if last else 0,
                )
                if last is not None:
                    people |= last.members
            else:
                raise result
        return frozenset(people)

    def known_group_members(self) -> frozenset[str]:
        """Every member of the groups numbot has read, however long ago; no I/O."""
        people: set[str] = set()
        for group in self.groups:
            read = self._cache.get(group)
            if read is not None:
                people |= read.members
        return frozenset(people)

    def known(self) -> frozenset[str]:
        """The named approvers and every group member numbot has read, however long ago;
        no I/O. For showing, never for deciding."""
        people = set(self.static)
        for read in self._cache.values():
            people |= read.members
        return frozenset(people)

    def known_whole(self) -> frozenset[str] | None:
        """Everyone who may approve as numbot last read them (no I/O), or None while a group
        of the policy's has never been read (numbot cannot say who is in it). For naming who
        a request waits for, never for deciding."""
        people = set(self.static)
        for group in self.groups:
            read = self._cache.get(group)
            if read is None:
                return None
            people |= read.members
        return frozenset(people)

    # -- keeping groups fresh -----------------------------------------------------------------

    async def keep_fresh(self, every: float | None = None, *, read_first: bool = True) -> None:
        """Read each group every `every` seconds (default: a third of `max_age`), until
        cancelled, so clicks find members fresh enough without asking Slack (`read_first`
        False: the groups were just read, wait first). A failing read is logged when it
        starts failing and when it recovers, not every time."""
        every = self.max_age / 3 if every is None else every
        if not read_first:
            await asyncio.sleep(every)
        while True:
            if self.directory is not None:
                for group in self.groups:
                    await self._refresh(group)
            await asyncio.sleep(every)

    async def _refresh(self, group: str) -> None:
        try:
            members = await self._read(group)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if group not in self._failing:
                self._failing.add(group)
                logger.warning(
                    "could not read user group %s (%s): its members are trusted for %.0f s "
                    "after the last read, then nobody is counted from it until Slack answers",
                    group,
                    _why(exc),
                    self.max_age,
                )
            return
        if group in self._failing:
            self._failing.discard(group)
            logger.info("user group %s read again: %d member(s)", group, len(members))

    def members_changed(
        self, group: str, *, removed: Iterable[str] = (), added: Iterable[str] = ()
    ) -> bool:
        """Slack says `group`'s members changed: the removed lose the right now (also over a
        read already under way), the added are read afresh at their first click. False when
        `group` is none of the approvers' groups."""
        if group not in self.groups:
            return False
        now = self._monotonic()
        gone = {user: now for user in removed}
        self._removed.setdefault(group, {}).update(gone)
        self._added.setdefault(group, {}).update({user: now for user in added})
        for user in gone:
            self._added[group].pop(user, None)
        read = self._cache.get(group)
        if read is not None and gone:
            self._cache[group] = _Read(read.members - frozenset(gone), read.began)
        return True

    # -- reading groups -----------------------------------------------------------------------

    def _fresh(self, group: str) -> frozenset[str] | None:
        read = self._cache.get(group)
        if read is None or self._monotonic() - read.began >= self.max_age:
            return None
        return read.members

    async def _members(self, group: str) -> frozenset[str]:
        fresh = self._fresh(group)
        return fresh if fresh is not None else await self._read(group)

    async def _read(self, group: str, *, after: float = 0.0) -> frozenset[str]:
        """The group's members from the directory; a read already under way, begun less than
        `max_age` ago (and not before `after`), is shared rather than repeated. Waiters may
        be cancelled; the read goes on for the others."""
        now = self._monotonic()
        current = self._reading.get(group)
        if current is not None and now - current[0] < self.max_age and current[0] >= after:
            task = current[1]
        else:
            task = asyncio.create_task(self._fetch(group, now), name=f"numbot-usergroup-{group}")
            self._reading[group] = (now, task)
            task.add_done_callback(partial(self._read_done, group))
        return await asyncio.shield(task)

    async def _fetch(self, group: str, began: float) -> frozenset[str]:
        assert self.directory is not None  # callers check first
        members = frozenset(await self.directory.group_members(group))
        # Removals Slack announced after this read began are newer than what it found.
        removed = self._removed.get(group, {})
        members -= {user for user, at in removed.items() if at >= began}
        last = self._cache.get(group)
        if last is None or last.began <= began:
            self._cache[group] = _Read(members, began)
            # Events are forgotten only long after any read that began before them could
            # still answer (an older read may outlive a newer one, Slack retrying it).
            forget_before = began - EVENTS_KEPT
            for events in (removed, self._added.get(group, {})):
                for user in [u for u, at in events.items() if at < forget_before]:
                    del events[user]
        return members

    def _read_done(self, group: str, task: asyncio.Task[frozenset[str]]) -> None:
        current = self._reading.get(group)
        if current is not None and current[1] is task:
            del self._reading[group]
        if not task.cancelled():
            task.exception()  # seen here, so a read nobody awaited any more is not reported

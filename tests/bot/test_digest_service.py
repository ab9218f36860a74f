"""The daily digest through NumbersService: claimed once across processes, posted, retried.

Audit entries carry the real time they were written, so these tests set the service's
clock a day ahead: "yesterday" for the service is today for the entries the test writes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.kernel.outcomes import Decided, Digest, Held, Refused, Requested
from bot.workflow.digest import LEASE, RETRY_AFTER, summarise, to_detail
from tests.bot.conftest import APPROVER, CARD, REQUESTER, RecordingNotifier


class DigestNotifier(RecordingNotifier):
    def __init__(self, *, fail: int = 0) -> None:
        super().__init__()
        self.digests: list[Digest] = []
        self.fail = fail

    async def post_digest(self, digest: Digest) -> tuple[str, str]:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("channel_not_found")
        self.digests.append(digest)
        return CARD


def tomorrow_at(hour: int) -> datetime:
    """`hour` o'clock (UTC) tomorrow: the digest then due covers today, real time."""
    today = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


def digest_service(env, notifier: DigestNotifier, *, hour: int = 9, fresh_db: bool = False):
    return env.new_service(notifier=notifier, digest_hour=hour, fresh_db=fresh_db)


async def buy_one_and_refuse_one(env) -> None:
    held = await env.service.reserve(REQUESTER, env.e164(0))
    assert isinstance(held, Held)
    requested = await env.service.request_purchase(REQUESTER, held.request.id, "support")
    assert isinstance(requested, Requested)
    assert isinstance(await env.service.approve(REQUESTER, held.request.id), Refused)  # own
    assert isinstance(await env.service.approve(APPROVER, held.request.id), Decided)


async def something_happened(env) -> None:
    """One refusal today: a day with activity has a digest."""
    assert isinstance(await env.service.reserve(REQUESTER, "not a number"), Refused)


async def test_the_digest_counts_the_day_and_carries_its_own_sealed_head(env):
    env.clock.now = tomorrow_at(10)
    await buy_one_and_refuse_one(env)
    notifier = DigestNotifier()
    service = digest_service(env, notifier)
    assert await service.daily_digest() == 1
    (digest,) = notifier.digests
    summary = digest.summary
    assert summary.day == datetime.now(UTC).date()
    assert summary.spent == Decimal("2.15") and summary.outcomes["purchased"] == 1
    assert summary.requested == 1 and summary.refusals == {"approve": 1}
    head = env.storage.audit.head()
    assert head is not None and (head.action, head.subject) == ("digest", summary.day.isoformat())
    assert (digest.head, digest.entries) == (head.hash, head.seq)
    result = env.storage.audit.verify(expect_head=digest.head)
    assert result.ok and result.head == digest.head and result.entries == digest.entries


async def test_two_processes_on_one_database_post_the_day_once(env):
    env.clock.now = tomorrow_at(10)
    await something_happened(env)
    first, second = DigestNotifier(), DigestNotifier()
    one = digest_service(env, first)
    two = digest_service(env, second, fresh_db=True)  # its own connection: another process
    for _ in range(3):
        await one.resume()
        await two.resume()
    assert len(first.digests) + len(second.digests) == 1
    claims = [e for e in env.audit() if e.action == "digest"]
    assert len(claims) == 1


async def test_a_quiet_day_gets_no_digest(env):
    """Nothing happened (here: numbot held no data yet that day): nothing to post or claim."""
    env.clock.now = tomorrow_at(10)
    notifier = DigestNotifier()
    assert await digest_service(env, notifier).daily_digest() == 0
    assert notifier.digests == [] and not [e for e in env.audit() if e.action == "digest"]


async def test_nothing_is_posted_again_until_the_next_day_falls_due(env):
    env.clock.now = tomorrow_at(10)
    await something_happened(env)
    notifier = DigestNotifier()
    service = digest_service(env, notifier)
    assert await service.daily_digest() == 1
    env.clock.advance(hours=22)  # 08:00 the day after: the next one is due at 09:00
    assert await service.daily_digest() == 0
    env.clock.advance(hours=1)
    assert await service.daily_digest() == 0  # the next day was quiet: no post
    assert len(notifier.digests) == 1


async def test_a_digest_slack_refused_is_retried_as_it_was_claimed(env):
    env.clock.now = tomorrow_at(10)
    await something_happened(env)
    notifier = DigestNotifier(fail=1)
    service = digest_service(env, notifier)
    assert await service.daily_digest() == 0
    claim = next(e for e in env.audit() if e.action == "digest")
    assert [(e.action, e.outcome) for e in env.audit()][-1] == ("post_digest", "failed")
    assert await service.daily_digest() == 0  # not before the retry is due
    env.clock.advance(seconds=RETRY_AFTER.total_seconds())
    other = DigestNotifier()
    assert await digest_service(env, other, fresh_db=True).daily_digest() == 1  # any process
    (digest,) = other.digests
    assert (digest.head, digest.entries) == (claim.hash, claim.seq)  # the claim's head
    env.clock.advance(minutes=10)
    assert await service.daily_digest() == 0  # posted: never again
    assert notifier.digests == []


async def test_each_refusal_doubles_the_wait_before_the_next_try(env):
    env.clock.now = tomorrow_at(10)
    await something_happened(env)
    notifier = DigestNotifier(fail=2)
    service = digest_service(env, notifier)
    assert await service.daily_digest() == 0  # refused once: again in 10 s
    env.clock.advance(seconds=10)
    assert await service.daily_digest() == 0  # refused twice: again in 20 s
    env.clock.advance(seconds=19)
    assert await service.daily_digest() == 0 and notifier.fail == 0  # not tried yet
    env.clock.advance(seconds=1)
    assert await service.daily_digest() == 1
    failures = [json.loads(e.detail) for e in env.audit() if e.action == "post_digest"]
    assert failures == [{"attempt": 1}, {"attempt": 2}]


async def test_the_sweep_posts_it_and_wakes_up_when_the_next_one_falls_due(env):
    env.clock.now = tomorrow_at(10)
    await something_happened(env)
    notifier = DigestNotifier()
    service = digest_service(env, notifier)
    await service.resume()
    assert len(notifier.digests) == 1
    assert await service.next_due() == 23 * 3600  # tomorrow at 09:00, exactly


async def test_no_digest_when_switched_off_or_without_slack(env):
    env.clock.now = tomorrow_at(10)
    notifier = DigestNotifier()
    off = env.new_service(notifier=notifier, digest_hour=None)
    assert await off.daily_digest() == 0
    await off.resume()
    headless = env.new_service(notifier=None, digest_hour=9)
    headless.ctx.notifier = None
    assert await headless.daily_digest() == 0
    assert notifier.digests == [] and not [e for e in env.audit() if e.action == "digest"]


async def test_a_digest_survives_a_restart_between_claim_and_post(env):
    """The claimer died: nobody posts until its lease runs out, then one process does."""
    env.clock.now = tomorrow_at(10)
    service = digest_service(env, DigestNotifier())
    day = (env.clock() - timedelta(days=1)).date()
    summary = summarise(day, [], still_checking=0)
    claimed = await env.storage.run(
        service.digests.store.claim,
        day.isoformat(),
        to_detail(summary),
        lease_until=env.clock() + LEASE,
    )
    assert claimed is not None  # ...and the process died before posting
    notifier = DigestNotifier()
    restarted = digest_service(env, notifier, fresh_db=True)
    assert await restarted.daily_digest() == 0
    env.clock.advance(seconds=LEASE.total_seconds())
    assert await restarted.daily_digest() == 1
    assert notifier.digests[0].summary == summary


async def test_the_digest_names_numbers_that_began_to_reach_nobody_that_day(env):
    from storage.owned import OwnedRow

    day = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    rows = [OwnedRow(f"+1646555{i:04d}", f"num_{i}", None, Decimal("1.15")) for i in range(12)]
    old = OwnedRow("+14155550000", "num_old", None, Decimal("1.15"))
    await env.storage.run(env.storage.owned.put, [old], day - timedelta(days=3))
    await env.storage.run(env.storage.costs.track_idle, frozenset(), day - timedelta(days=3))
    await env.storage.run(env.storage.owned.put, rows, day)
    await env.storage.run(env.storage.costs.track_idle, frozenset(), day)
    env.clock.now = tomorrow_at(10)
    notifier = DigestNotifier()
    assert await digest_service(env, notifier).daily_digest() == 1  # nothing else happened
    (digest,) = notifier.digests
    assert digest.summary.new_idle_total == 12 and len(digest.summary.new_idle) == 10
    assert digest.summary.new_idle[0] == "+16465550000"
    # What was sealed is what a retry would post again.
    head = env.storage.audit.head()
    assert head is not None and json.loads(head.detail)["new_idle_total"] == 12


def test_a_digest_sealed_before_idle_numbers_were_counted_still_reads():
    from bot.workflow.digest import from_detail

    old = json.dumps(
        {
            "day": "2026-11-30",
            "spent": "0",
            "unpriced": 0,
            "requested": 0,
            "outcomes": {},
            "still_checking": 0,
            "refusals": {"approve": 1},
        }
    )
    summary = from_detail(old)
    assert summary.new_idle == () and summary.new_idle_total == 0

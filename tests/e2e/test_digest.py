"""The daily digest through real bot processes: two of them on one database post it once,
in the approval channel, with the audit head `numbot audit verify` reports.

NUMBOT_DIGEST_HOUR=0 makes yesterday's digest due at once, whatever the time of day. The
database is seeded with sealed entries dated yesterday (UTC), written here with the audit
key before either process starts, so the digest has something to count.
"""

import itertools
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import storage.audit
from storage.audit import AuditKey, AuditLog, stamp
from storage.db import connect
from storage.requests import AuditNote, RequestStore
from tests.e2e.harness import ALICE, APPROVAL_CHANNEL, AUDIT_KEY, BOB, BotProcess, texts
from tests.e2e.test_golden_path import run_cli

DIGEST_NOW = {"NUMBOT_DIGEST_HOUR": "0", "NUMBOT_SWEEP_SECONDS": "0.2"}


def seed_yesterday(path, monkeypatch) -> str:
    """One purchase ($2.15) and one refusal, sealed, at noon yesterday (UTC); the day."""
    noon = datetime.combine(
        (datetime.now(UTC) - timedelta(days=1)).date(), datetime.min.time(), tzinfo=UTC
    ) + timedelta(hours=12)
    ticks = itertools.count()
    monkeypatch.setattr(
        storage.audit, "utc_now", lambda: stamp(noon + timedelta(seconds=next(ticks)))
    )
    db = connect(path)
    requests = RequestStore(db, AuditLog(db, AuditKey(AUDIT_KEY)), clock=lambda: noon)
    request = requests.create(
        AuditNote(ALICE, "reserve"),
        kind="purchase",
        status="held",
        e164="+14155550199",
        requester=ALICE,
        reservation_id="rsv_seeded",
        setup_cost=Decimal("1.00"),
        monthly_cost=Decimal("1.15"),
        hold_expires_at=noon + timedelta(minutes=30),
    )
    steps = [
        ("held", "pending", AuditNote(ALICE, "request_purchase")),
        ("pending", "approved", AuditNote(BOB, "approve")),
        ("approved", "purchasing", AuditNote("numbot", "purchase_started")),
        ("purchasing", "purchased", AuditNote("numbot", "purchase", detail='{"charged": "2.15"}')),
    ]
    for before, after, note in steps:
        assert requests.transition(request.id, from_statuses=(before,), to_status=after, note=note)
    requests.audit.append(
        actor=ALICE,
        action="approve",
        subject=request.id,
        outcome="refused",
        detail='{"code": "self_approval"}',
    )
    db.conn.close()
    monkeypatch.undo()
    return noon.date().isoformat()


def is_digest(call) -> bool:
    return (
        call.method == "chat.postMessage"
        and call.body.get("channel") == APPROVAL_CHANNEL
        and "daily digest" in texts(call.body)
    )


def saw_the_digest(bot: BotProcess) -> bool:
    """This process posted a digest, or found its day claimed by another."""
    out = bot.output()
    return "posted the digest for" in out or "is already claimed" in out


def test_two_processes_post_yesterday_s_digest_once_with_the_verified_head(
    slack, flowyte, tmp_path, monkeypatch
):
    day = seed_yesterday(tmp_path / "numbot.db", monkeypatch)
    bots = [BotProcess(slack, flowyte.url, tmp_path, **DIGEST_NOW) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:  # both start at once, and race for the day
            list(pool.map(lambda b: b.start(), bots))
        slack.wait_for(is_digest, timeout=20)
        deadline = time.monotonic() + 20
        # One process sweeps at a time (bot/process/sweep_lease.py), so one of them posts it; the
        # claim itself is raced by two connections in tests/storage/test_digests.py.
        while not any(saw_the_digest(b) for b in bots):
            assert time.monotonic() < deadline, [b.output()[-2000:] for b in bots]
            time.sleep(0.05)
        verified = run_cli(bots[0], "audit", "verify")
    finally:
        for b in bots:
            b.stop()

    digests = [c for c in slack.calls() if is_digest(c)]
    posted_days = [re.search(r"digest for (\d{4}-\d\d-\d\d)", c.body["text"])[1] for c in digests]
    assert len(posted_days) == len(set(posted_days)) == 1  # once, by one of the two

    assert verified.returncode == 0, verified.stderr
    head = re.search(r"head ([0-9a-f]{64})", verified.stdout)[1]
    count = re.search(r"intact: (\d+) entries", verified.stdout)[1]
    shown = texts(digests[0].body)
    assert f"`{head}`" in shown and f"{int(count):,} entries" in shown

    if posted_days[0] == day:  # (unless the test ran across midnight UTC)
        assert "*Spent:* $2.15 on 1 purchase" in shown
        assert "1 new" in shown and "purchased 1" in shown
        assert "*Refusals:* 1 (approve 1)" in shown


def test_with_a_digest_channel_the_digest_goes_there_not_to_the_approval_channel(
    slack, flowyte, tmp_path, monkeypatch
):
    seed_yesterday(tmp_path / "numbot.db", monkeypatch)
    bot = BotProcess(
        slack, flowyte.url, tmp_path, NUMBOT_DIGEST_CHANNEL="C0DIGEST", **DIGEST_NOW
    ).start()
    try:
        [posted] = slack.wait_for(
            lambda c: c.method == "chat.postMessage" and "daily digest" in texts(c.body),
            timeout=20,
        )
    finally:
        bot.stop()
    assert posted.body["channel"] == "C0DIGEST"
    assert not [c for c in slack.calls() if is_digest(c)]  # none in the approval channel

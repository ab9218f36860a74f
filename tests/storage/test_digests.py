"""The digest's claim, lease and bookkeeping; the read-only queries behind the digest and
`/numbers holds`, and the indexes that serve them (migration 005)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

import storage.audit
from storage.audit import AuditKey, AuditLog
from storage.db import connect
from storage.digests import DigestStore
from storage.requests import AuditNote, RequestStore

KEY = AuditKey("digests-test-audit-key-0123456789abcdef")
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
DAY = "2026-11-27"


def stores(db):
    audit = AuditLog(db, KEY)
    return DigestStore(db, audit), RequestStore(db, audit), audit


def plan(db, sql: str, params: list[object]) -> str:
    return " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())


# --------------------------------------------------------------------------- the claim


def test_a_day_is_claimed_once_with_a_sealed_entry_holding_its_summary(db_target):
    db = connect(db_target)
    digests, _, audit = stores(db)
    entry = digests.claim(DAY, '{"spent": "2.15"}', lease_until=NOW + timedelta(minutes=2))
    assert entry is not None
    assert (entry.actor, entry.action, entry.subject, entry.detail) == (
        "numbot",
        "digest",
        DAY,
        '{"spent": "2.15"}',
    )
    assert audit.head() == entry  # the digest's head is its own entry
    assert digests.claim(DAY, "{}", lease_until=NOW) is None  # a second claim loses
    assert [e.action for e in audit.entries()] == ["digest"]  # and writes nothing
    row = digests.get(DAY)
    assert row is not None and row.seq == entry.seq and row.posted_at is None
    assert audit.verify().ok


def test_a_sealed_claim_holds_even_if_its_row_is_gone(db_target):
    """The audit log cannot lose the claim (its triggers refuse DELETE); the row can."""
    db = connect(db_target)
    digests, _, _ = stores(db)
    digests.claim(DAY, "{}", lease_until=NOW)
    db.execute("DELETE FROM digests")
    assert digests.claim(DAY, "{}", lease_until=NOW) is None


def test_two_processes_claiming_the_same_day_have_one_winner(db_target):
    path = db_target
    connect(path).close()
    winners, barrier = [], threading.Barrier(8)

    def claim(i):
        digests, _, _ = stores(connect(path))  # its own connection, as another process has
        barrier.wait()
        if digests.claim(DAY, f'{{"by": {i}}}', lease_until=NOW):
            winners.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    _, _, audit = stores(connect(path))
    assert [e.subject for e in audit.entries() if e.action == "digest"] == [DAY]
    assert audit.verify().ok


# --------------------------------------------------------------------------- posting, retries


def test_a_posted_day_is_never_retried(db_target):
    db = connect(db_target)
    digests, _, _ = stores(db)
    digests.claim(DAY, "{}", lease_until=NOW)
    digests.posted(DAY, channel="C0APPROVALS", ts="1.0001", at=NOW)
    assert digests.unposted(NOW + timedelta(days=1)) == []
    row = digests.get(DAY)
    assert row is not None and (row.channel, row.ts) == ("C0APPROVALS", "1.0001")


def test_a_refused_post_is_retried_after_its_lease_by_one_taker(db_target):
    db = connect(db_target)
    digests, _, _ = stores(db)
    digests.claim(DAY, "{}", lease_until=NOW + timedelta(minutes=2))
    assert digests.unposted(NOW) == []  # leased to the claimer while it posts
    digests.failed(DAY, retry_at=NOW + timedelta(seconds=10))
    assert digests.unposted(NOW + timedelta(seconds=9)) == []
    (row,) = digests.unposted(NOW + timedelta(seconds=10))
    assert digests.take(row, lease_until=NOW + timedelta(minutes=3))
    assert not digests.take(row, lease_until=NOW + timedelta(minutes=3))  # taken already
    assert digests.get(DAY).attempts == 2


def test_a_claimer_that_died_mid_post_is_taken_over_once_its_lease_runs_out(db_target):
    db = connect(db_target)
    digests, _, _ = stores(db)
    digests.claim(DAY, "{}", lease_until=NOW + timedelta(minutes=2))
    assert digests.unposted(NOW + timedelta(minutes=1, seconds=59)) == []
    assert [r.day for r in digests.unposted(NOW + timedelta(minutes=2))] == [DAY]


# --------------------------------------------------------------------------- the digest's facts


def test_digest_facts_are_one_day_of_moves_and_refusals(monkeypatch, db_target):
    db = connect(db_target)
    _, _, audit = stores(db)
    stamps = iter(
        [
            "2026-11-26T23:59:59.999999Z",  # the day before
            "2026-11-27T00:00:00.000000Z",
            "2026-11-27T12:00:00.000000Z",
            "2026-11-27T12:00:00.000001Z",
            "2026-11-27T23:59:59.999999Z",
            "2026-11-28T00:00:00.000000Z",  # the day after
        ]
    )
    monkeypatch.setattr(storage.audit, "utc_now", lambda: next(stamps))
    audit.append(actor="U1", action="cancel", subject="r1", outcome="ok", state="cancelled")
    audit.append(actor="U1", action="cancel", subject="r2", outcome="ok", state="cancelled")
    audit.append(actor="U1", action="search", subject="415", outcome="ok")  # neither: skipped
    audit.append(actor="U2", action="approve", subject="r3", outcome="refused")
    audit.append(actor="U1", action="expire", subject="r4", outcome="ok", state="expired")
    audit.append(actor="U1", action="expire", subject="r5", outcome="ok", state="expired")
    start = datetime(2026, 11, 27, tzinfo=UTC)
    facts = audit.digest_facts(start, start + timedelta(days=1))
    assert [e.subject for e in facts] == ["r2", "r3", "r4"]
    assert audit.verify().ok


def test_the_digest_and_holds_queries_are_served_by_indexes():
    db = connect(":memory:")
    assert "audit_digest_facts" in plan(
        db,
        "SELECT seq FROM audit WHERE at >= ? AND at < ? "
        "AND (state IS NOT NULL OR outcome = 'refused')",
        ["a", "b"],
    )
    assert "digests_unposted" in plan(
        db, "SELECT day FROM digests WHERE posted_at IS NULL AND lease_until <= ?", ["x"]
    )
    # One person's open requests: either index reads only theirs.
    assert re.search(
        r"INDEX (requests_open_by_requester|requests_requester_status) \(requester=\?",
        plan(
            db,
            "SELECT id FROM requests WHERE requester = ? AND status IN ('held', 'pending') "
            "AND (hold_expires_at IS NULL OR hold_expires_at > ?)",
            ["U1", "x"],
        ),
    )
    assert "requests_open_by_requester" in plan(
        db,
        "SELECT id FROM requests WHERE requester = ? AND e164 = ? AND kind = 'purchase' "
        "AND status IN ('held', 'pending') AND hold_expires_at > ?",
        ["U1", "+1", "x"],
    )


# --------------------------------------------------------------------------- a person's own work


def make(store, **over):
    values = dict(
        kind="purchase",
        status="held",
        e164="+14155550100",
        requester="U1",
        reservation_id="rsv_1",
        setup_cost=Decimal("1.00"),
        monthly_cost=Decimal("1.15"),
        hold_expires_at=NOW + timedelta(minutes=30),
    )
    values.update(over)
    return store.create(AuditNote(values["requester"], "reserve"), **values)


def test_open_hold_is_the_person_s_live_hold_on_that_number(db_target):
    _, requests, _ = stores(connect(db_target))
    mine = make(requests)
    make(requests, requester="U2", e164="+14155550101")
    assert requests.open_hold("U1", "+14155550100", NOW) == mine
    assert requests.open_hold("U2", "+14155550100", NOW) is None  # not theirs
    assert requests.open_hold("U1", "+14155550199", NOW) is None  # another number
    assert requests.open_hold("U1", "+14155550100", NOW + timedelta(minutes=30)) is None  # lapsed


@pytest.mark.parametrize("status", ["approved", "purchased", "cancelled", "expired", "failed"])
def test_open_hold_ignores_requests_past_waiting(status, db_target):
    _, requests, _ = stores(connect(db_target))
    make(requests, status=status)
    assert requests.open_hold("U1", "+14155550100", NOW) is None


def test_open_of_lists_holds_and_waiting_requests_soonest_to_lapse_first(db_target):
    _, requests, _ = stores(connect(db_target))
    later = make(requests, e164="+14155550101", hold_expires_at=NOW + timedelta(minutes=25))
    sooner = make(
        requests, e164="+14155550102", status="pending", hold_expires_at=NOW + timedelta(minutes=5)
    )
    release = make(
        requests,
        kind="release",
        status="pending",
        e164="+14155550103",
        reservation_id=None,
        hold_expires_at=None,
        number_id="num_1",
    )
    make(requests, e164="+14155550104", hold_expires_at=NOW - timedelta(seconds=1))  # lapsed
    make(requests, e164="+14155550105", status="purchased")
    make(requests, e164="+14155550106", requester="U2")
    assert [r.id for r in requests.open_of("U1", NOW)] == [sooner.id, later.id, release.id]


def test_count_checking(db_target):
    _, requests, _ = stores(connect(db_target))
    make(requests, status="checking")
    make(requests, status="checking", e164="+14155550101")
    make(requests, status="purchased", e164="+14155550102")
    assert requests.count_checking() == 2

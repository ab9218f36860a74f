import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage.audit import AuditKey, AuditLog
from storage.db import connect
from storage.requests import AuditNote, RequestStore

KEY = AuditKey("requests-test-audit-key-0123456789abcdef")


def store_on(db):
    return RequestStore(db, AuditLog(db, KEY))


def make(store, **over):
    values = dict(
        kind="purchase",
        status="pending",
        e164="+14155550100",
        requester="U1",
        reservation_id="rsv_1",
        setup_cost=Decimal("1.00"),
        monthly_cost=Decimal("1.15"),
        hold_expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    values.update(over)
    return store.create(AuditNote("U1", "request_purchase"), **values)


def test_round_trip_keeps_decimals_and_times():
    store = store_on(connect(":memory:"))
    r = make(store)
    assert r.setup_cost == Decimal("1.00") and r.total_cost == Decimal("2.15")
    assert r.hold_expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert r.idempotency_key == f"numbot-purchase-{r.id}"
    assert not r.hold_expired(datetime(2029, 12, 31, tzinfo=UTC))
    assert not r.hold_expired(datetime(2030, 1, 1, tzinfo=UTC) - timedelta(microseconds=1))
    assert r.hold_expired(datetime(2030, 1, 1, tzinfo=UTC))  # at the instant it lapses
    assert r.hold_expired(datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=1))


def test_transition_is_compare_and_set_and_audited_together():
    db = connect(":memory:")
    store = store_on(db)
    audit = store.audit
    r = make(store)
    won = store.transition(
        r.id,
        from_statuses=("pending",),
        to_status="approved",
        note=AuditNote("U2", "approve"),
        decided_by="U2",
    )
    assert won.status == "approved" and won.decided_by == "U2"
    lost = store.transition(
        r.id,
        from_statuses=("pending",),
        to_status="approved",
        note=AuditNote("U3", "approve"),
        decided_by="U3",
    )
    assert lost is None
    assert store.get(r.id).decided_by == "U2"
    actions = [(e.actor, e.action, e.state) for e in audit.entries()]
    assert actions == [
        ("U1", "request_purchase", "pending"),
        ("U2", "approve", "approved"),
    ]  # the loser wrote nothing


def test_concurrent_transitions_from_two_connections_have_one_winner(tmp_path):
    path = tmp_path / "n.db"
    r = make(store_on(connect(path)))
    winners = []
    barrier = threading.Barrier(12)

    def click(i):
        store = store_on(connect(path))  # its own connection, as another process would have
        barrier.wait()
        if store.transition(
            r.id,
            from_statuses=("pending",),
            to_status="approved",
            note=AuditNote(f"U{i}", "approve"),
            decided_by=f"U{i}",
        ):
            winners.append(i)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert AuditLog(connect(path), KEY).verify().ok


def test_with_status_and_open_for_number():
    store = store_on(connect(":memory:"))
    a = make(store)
    make(store, status="purchased")
    assert [r.id for r in store.with_status("pending")] == [a.id]
    assert len(store.open_for_number("+14155550100", "purchase")) == 1


def test_set_fields_never_moves_the_status_or_the_quiet_clock():
    import pytest

    store = store_on(connect(":memory:"))
    r = make(store)
    store.set_fields(r.id, card_channel="C1", card_ts="1.0", card_drawn="pending")
    after = store.get(r.id)
    assert after.card_ts == "1.0" and after.updated_at == r.updated_at
    with pytest.raises(ValueError):
        store.set_fields(r.id, status="approved")


def test_due_work_is_found_by_due_time():
    clock_now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    db = connect(":memory:")
    store = RequestStore(db, AuditLog(db, KEY), clock=lambda: clock_now)
    lapsing = make(store, hold_expires_at=clock_now + timedelta(minutes=1))
    make(store, hold_expires_at=clock_now + timedelta(minutes=30))
    assert store.lapsed_holds(clock_now) == []
    assert [r.id for r in store.lapsed_holds(clock_now + timedelta(minutes=1))] == [lapsing.id]
    assert [r.id for r in store.cardless(clock_now)] and store.cardless(
        clock_now - timedelta(seconds=1)
    ) == []
    due = store.next_due()
    assert due["hold"] == clock_now + timedelta(minutes=1) and due["in_flight"] is None


def test_home_queries_find_one_person_s_rows_and_count_the_rest():
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    db = connect(":memory:")
    store = RequestStore(db, AuditLog(db, KEY), clock=lambda: now)
    live = [
        make(store, status="held", requester="U1", hold_expires_at=now + timedelta(minutes=m))
        for m in (9, 3, 5)
    ]
    make(store, status="held", requester="U1", hold_expires_at=now)  # lapsed at this instant
    make(store, status="held", requester="U2", hold_expires_at=now + timedelta(minutes=1))
    rows, total = store.holds_of("U1", now, 2)
    assert [r.id for r in rows] == [live[1].id, live[2].id] and total == 3
    mine = make(store, requester="U1")
    theirs = make(store, requester="U2", hold_expires_at=now + timedelta(minutes=1))
    release = make(store, requester="U3", kind="release", hold_expires_at=None)
    rows, total = store.waiting_for("U1", 10)
    assert [r.id for r in rows] == [theirs.id, release.id] and total == 2  # never U1's own
    assert store.waiting_for("U1", 1) == ([theirs], 2)
    assert mine.id in [r.id for r in store.requests_of("U1", open_limit=5, settled_limit=5)]
    assert store.holds_of("U9", now, 5) == ([], 0)


def test_spend_is_summed_in_decimal_over_purchases_in_the_window():
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    db = connect(":memory:")
    store = RequestStore(db, AuditLog(db, KEY), clock=lambda: now)
    for setup, monthly in (("0.10", "0.20"), ("0.10", "0.20"), ("0.10", "0.20")):
        make(store, status="purchased", setup_cost=Decimal(setup), monthly_cost=Decimal(monthly))
    make(store, status="failed")
    total, count = store.spent_between(now, now + timedelta(seconds=1))
    assert (total, count) == (Decimal("0.90"), 3) and str(total) == "0.90"
    assert store.spent_between(now + timedelta(seconds=1), now + timedelta(days=1)) == (
        Decimal(0),
        0,
    )

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


def test_round_trip_keeps_decimals_and_times(db_target):
    store = store_on(connect(db_target))
    r = make(store)
    assert r.setup_cost == Decimal("1.00") and r.total_cost == Decimal("2.15")
    assert r.hold_expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert r.idempotency_key == f"numbot-purchase-{r.id}"
    assert not r.hold_expired(datetime(2029, 12, 31, tzinfo=UTC))
    assert not r.hold_expired(datetime(2030, 1, 1, tzinfo=UTC) - timedelta(microseconds=1))
    assert r.hold_expired(datetime(2030, 1, 1, tzinfo=UTC))  # at the instant it lapses
    assert r.hold_expired(datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=1))


def test_transition_is_compare_and_set_and_audited_together(db_target):
    db = connect(db_target)
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


def test_concurrent_transitions_from_two_connections_have_one_winner(db_target):
    path = db_target
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


def test_with_status_and_open_for_number(db_target):
    store = store_on(connect(db_target))
    a = make(store)
    make(store, status="purchased")
    assert [r.id for r in store.with_status("pending")] == [a.id]
    assert len(store.open_for_number("+14155550100", "purchase")) == 1


def test_set_fields_never_moves_the_status_or_the_quiet_clock(db_target):
    import pytest

    store = store_on(connect(db_target))
    r = make(store)
    store.set_fields(r.id, card_channel="C1", card_ts="1.0", card_drawn="pending")
    after = store.get(r.id)
    assert after.card_ts == "1.0" and after.updated_at == r.updated_at
    with pytest.raises(ValueError):
        store.set_fields(r.id, status="approved")
    with pytest.raises(ValueError):  # the quiet window counts from updated_at
        store.set_fields(r.id, updated_at="2000-01-01T00:00:00.000000Z")
    assert store.get(r.id).updated_at == r.updated_at


def test_due_work_is_found_by_due_time(db_target):
    clock_now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    db = connect(db_target)
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


def test_home_queries_find_one_person_s_rows_and_count_the_rest(db_target):
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    db = connect(db_target)
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


def test_what_waits_for_an_approver_puts_what_they_already_approved_last(db_target):
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    db = connect(db_target)
    store = RequestStore(db, AuditLog(db, KEY), clock=lambda: now)
    soonest = make(store, requester="U2", hold_expires_at=now + timedelta(minutes=1))
    later = make(store, requester="U3", hold_expires_at=now + timedelta(minutes=9))
    for request in (soonest, later):
        store.set_fields(request.id, approvals_needed=2)
    approval = store.approve(soonest.id, "U1", detail=lambda *_: "", month_start=now, needed=2)
    assert approval.outcome == "counted"
    rows, total = store.waiting_for("U1", 10)
    assert [r.id for r in rows] == [later.id, soonest.id] and total == 2
    assert rows[1].approvals == ("U1",) and rows[0].approvals == ()
    assert store.waiting_for("U1", 1) == ([rows[0]], 2)  # a cap cuts what waits on others
    # For anyone else, the soonest hold still comes first.
    assert [r.id for r in store.waiting_for("U4", 10)[0]] == [soonest.id, later.id]


def test_spend_is_summed_in_decimal_over_purchases_in_the_window(db_target):
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    db = connect(db_target)
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


def test_only_request_columns_can_be_written():
    """Column names go into the SQL text: anything but a known column is refused."""
    import pytest

    store = store_on(connect(":memory:"))
    r = make(store)
    with pytest.raises(ValueError, match="not request columns"):
        store.set_fields(r.id, **{"card_ts = 'x', status": "approved"})
    with pytest.raises(ValueError, match="not request columns"):
        make(store, no_such_column="U2")
    assert store.get(r.id).status == "pending"


def test_check_and_send_times_round_trip_as_times():
    store = store_on(connect(":memory:"))
    r = make(store)
    at = datetime(2030, 1, 1, 12, 30, 5, tzinfo=UTC)
    store.set_fields(r.id, next_check_at=at, last_sent_at=at - timedelta(seconds=20))
    back = store.get(r.id)
    assert back.next_check_at == at and back.last_sent_at == at - timedelta(seconds=20)


def test_an_open_request_is_one_for_that_number_and_kind_until_it_is_final():
    store = store_on(connect(":memory:"))
    waiting = make(store)
    in_flight = make(store, status="checking")
    make(store, e164="+14155550199")  # another number
    make(store, kind="release")  # another kind
    make(store, status="purchased")  # final
    found = {r.id for r in store.open_for_number("+14155550100", "purchase")}
    assert found == {waiting.id, in_flight.id}


def test_stamps_are_utc_whatever_the_hosts_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        now = datetime(2030, 1, 1, 12, tzinfo=UTC)
        db = connect(":memory:")
        store = RequestStore(db, AuditLog(db, KEY), clock=lambda: now)
        r = make(store, status="approved")
        assert r.updated_at == "2030-01-01T12:00:00.000000Z"
        assert r.last_change == now  # the quiet window is measured from the real moment
        assert store.next_due()["in_flight"] == now
        assert [x.id for x in store.quiet_in_flight(now)] == [r.id]
        assert store.quiet_in_flight(now - timedelta(microseconds=1)) == []
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_nul_is_stored_and_looked_up_alike_on_both_engines(db_target):
    """PostgreSQL's text holds no NUL: written or looked up, it becomes U+FFFD on both engines."""
    store = store_on(connect(db_target))
    r = make(store, reason="a\x00b", requester="U\x001")
    assert store.get(r.id).reason == "a\ufffdb"
    assert store.open_hold("U\x001", r.e164, datetime(2029, 1, 1, tzinfo=UTC)).id == r.id
    assert [x.id for x in store.open_of("U\ufffd1", datetime(2029, 1, 1, tzinfo=UTC))] == [r.id]
    assert store.audit.verify().ok

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage.audit import AuditLog
from storage.db import connect
from storage.requests import AuditNote, RequestStore


def make(store, **over):
    values = dict(kind="purchase", status="pending", e164="+14155550100", requester="U1", reservation_id="rsv_1",
                  setup_cost=Decimal("1.00"), monthly_cost=Decimal("1.15"),
                  hold_expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    values.update(over)
    return store.create(AuditNote("U1", "request_purchase"), **values)


def test_round_trip_keeps_decimals_and_times():
    store = RequestStore(connect(":memory:"))
    r = make(store)
    assert r.setup_cost == Decimal("1.00") and r.total_cost == Decimal("2.15")
    assert r.hold_expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert r.idempotency_key == f"numbot-purchase-{r.id}"
    assert not r.hold_expired(datetime(2029, 12, 31, tzinfo=UTC))
    assert r.hold_expired(datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=1))


def test_transition_is_compare_and_set_and_audited_together():
    db = connect(":memory:")
    store, audit = RequestStore(db), AuditLog(db)
    r = make(store)
    won = store.transition(r.id, from_statuses=("pending",), to_status="approved", note=AuditNote("U2", "approve"), decided_by="U2")
    assert won.status == "approved" and won.decided_by == "U2"
    lost = store.transition(r.id, from_statuses=("pending",), to_status="approved", note=AuditNote("U3", "approve"), decided_by="U3")
    assert lost is None
    assert store.get(r.id).decided_by == "U2"
    actions = [(e.actor, e.action) for e in audit.entries()]
    assert actions == [("U1", "request_purchase"), ("U2", "approve")]  # the loser wrote nothing


def test_concurrent_transitions_from_two_connections_have_one_winner(tmp_path):
    path = tmp_path / "n.db"
    r = make(RequestStore(connect(path)))
    winners = []
    barrier = threading.Barrier(12)

    def click(i):
        store = RequestStore(connect(path))  # its own connection, as another process would have
        barrier.wait()
        if store.transition(r.id, from_statuses=("pending",), to_status="approved", note=AuditNote(f"U{i}", "approve"), decided_by=f"U{i}"):
            winners.append(i)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert AuditLog(connect(path)).verify().ok


def test_with_status_and_open_for_number():
    store = RequestStore(connect(":memory:"))
    a = make(store)
    make(store, status="purchased")
    assert [r.id for r in store.with_status("pending")] == [a.id]
    assert len(store.open_for_number("+14155550100", "purchase")) == 1

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage.db import connect
from storage.owned import OwnedIndex, OwnedRow

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


def rows(*e164s, agent=None):
    return [OwnedRow(e, f"num_{e[1:]}", agent, Decimal("1.15"), "available") for e in e164s]


def test_put_find_page_count_and_remove(db_target):
    index = OwnedIndex(connect(db_target))
    assert index.find("+14155550100") is None and index.counts() == (0, 0)
    assert index.put(rows("+14155550102", "+14155550100", "+14155550101"), T0) == 3
    index.put([OwnedRow("+14155550101", "num_x", "agt_sales", Decimal("2.00"), "assigned")], T0)
    found = index.find("+14155550101")
    assert found == OwnedRow(
        "+14155550101", "num_x", "agt_sales", Decimal("2.00"), "assigned", seen_at=T0
    )
    assert [r.e164 for r in index.page(0, 2)] == ["+14155550100", "+14155550101"]
    assert [r.e164 for r in index.page(2, 2)] == ["+14155550102"]
    assert index.page(3, 2) == []
    assert index.counts() == (3, 2)
    assert [r.e164 for r in index.unrouted(10)] == ["+14155550100", "+14155550102"]
    assert index.remove("+14155550100") and not index.remove("+14155550100")
    assert index.counts() == (2, 1)


def test_a_complete_refresh_removes_what_it_did_not_see_an_incomplete_one_nothing(db_target):
    index = OwnedIndex(connect(db_target))
    assert not index.refresh_state().running and index.refresh_state().complete_at is None
    index.put(rows("+14155550100", "+14155550101", "+14155550102"), T0)
    # an incomplete walk sees only one of them: nothing is removed
    started = T0 + timedelta(minutes=1)
    index.refresh_started(started)
    state = index.refresh_state()
    assert state.running and state.started_at == started and state.seen == 0
    index.put(rows("+14155550100"), started + timedelta(seconds=1))
    index.refresh_seen(1)
    assert index.refresh_state().seen == 1
    assert index.refresh_finished(started + timedelta(seconds=2), started, complete=False) == 0
    state = index.refresh_state()
    assert not state.running and not state.complete and state.complete_at is None
    assert index.counts() == (3, 3)
    # a complete walk sees two; numbot itself bought one more while it ran: that one stays
    started = T0 + timedelta(minutes=2)
    index.refresh_started(started)
    index.put(rows("+14155550100", "+14155550101"), started + timedelta(seconds=1))
    index.put(rows("+14155550199"), started + timedelta(seconds=2))
    finished = started + timedelta(seconds=3)
    assert index.refresh_finished(finished, started, complete=True) == 1
    assert index.find("+14155550102") is None
    state = index.refresh_state()
    assert state.complete and state.complete_at == finished and state.complete_count == 3
    assert not state.running

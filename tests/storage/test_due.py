"""storage/due.py: the sweep finds its work by due time, through the index that serves each
query, however many requests are open; and what it finds is exactly what is due. The same
for a number's open requests, which a release request looks up, and one person's App Home
(storage/people.py)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from storage.db import connect, write_transaction
from storage.rows import _to_row
from tests.storage.test_requests import make, store_on

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
OPEN = 2000  # pending requests whose holds lapse tomorrow: what the sweep must not read
_serial = itertools.count()


def clone(store, template_id: str, n: int, **columns) -> list[str]:
    """`n` copies of a request row, each with its own id, number and (one of 500) requester,
    straight into the table."""
    row = next(store.db.query("SELECT * FROM requests WHERE id = ?", [template_id]))
    row.update(_to_row(columns))
    names = list(row)
    sql = f"INSERT INTO requests ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    ids = []
    with write_transaction(store.db) as tx:
        for _ in range(n):
            serial = next(_serial)
            row["id"] = f"{template_id}_{serial:07d}"
            row["e164"] = f"+1415{serial:07d}"
            row["requester"] = columns.get("requester", f"U0CLONE{serial % 500:03d}")
            tx.execute(sql, [row[c] for c in names])
            ids.append(row["id"])
    return ids


@pytest.fixture
def crowded(db_target):
    """OPEN pending requests not due for a day, and a few of each kind of due work."""
    store = store_on(connect(db_target))
    template = make(store, hold_expires_at=NOW + timedelta(days=1), card_ts="1.0")
    clone(store, template.id, OPEN, reminded_at=NOW)
    due = {
        "lapsed": clone(
            store, template.id, 3, hold_expires_at=NOW - timedelta(minutes=1), reminded_at=NOW
        ),
        "remind": clone(store, template.id, 2, hold_expires_at=NOW + timedelta(minutes=5)),
        "cardless": clone(store, template.id, 2, card_ts=None, reminded_at=NOW),
        "checking": clone(store, template.id, 2, status="checking", next_check_at=NOW),
    }
    return store, due


def test_the_sweep_finds_exactly_what_is_due_among_many_open_requests(crowded):
    store, due = crowded
    # Rows of one group share their due time: which comes first among them is not specified.
    assert {r.id for r in store.lapsed_holds(NOW)} == set(due["lapsed"])
    assert {r.id for r in store.lapsed_holds(NOW, limit=2)} < set(due["lapsed"])
    assert len(store.lapsed_holds(NOW, limit=2)) == 2
    reminders = store.reminders_due(NOW, NOW + timedelta(minutes=10))
    assert {r.id for r in reminders} == set(due["remind"])
    assert store.reminders_due(NOW, NOW + timedelta(minutes=4)) == []
    assert {r.id for r in store.cardless(NOW + timedelta(days=1))} == set(due["cardless"])
    assert {r.id for r in store.checks_due(NOW)} == set(due["checking"])
    assert store.checks_due(NOW - timedelta(seconds=1)) == []
    soon = store.next_due()
    assert soon["hold"] == NOW - timedelta(minutes=1)
    assert soon["reminder"] == NOW + timedelta(minutes=5)
    assert soon["check"] == NOW
    assert soon["cardless"] is not None and soon["in_flight"] is None


def test_a_numbers_open_requests_are_found_among_many(crowded):
    store, due = crowded
    [lapsed] = [r for r in store.lapsed_holds(NOW) if r.id == due["lapsed"][0]]
    assert [r.id for r in store.open_for_number(lapsed.e164, "purchase")] == [lapsed.id]
    assert store.open_for_number(lapsed.e164, "release") == []
    store.db.execute("UPDATE requests SET status = 'purchased' WHERE id = ?", [lapsed.id])
    assert store.open_for_number(lapsed.e164, "purchase") == []


def _ran(store, call) -> list[tuple[str, list]]:
    """The queries `call` ran on the requests table, with their parameters."""
    db, ran = store.db, []
    real_query, real_execute = db.query, db.execute

    def record(real):
        def run(sql, params=None):
            ran.append((sql, list(params or ())))
            return real(sql, params)

        return run

    db.query, db.execute = record(real_query), record(real_execute)
    try:
        call()
    finally:
        db.query, db.execute = real_query, real_execute
    return [(sql, params) for sql, params in ran if "FROM requests" in sql]


def _plan(store, call) -> list[str]:
    """SQLite's plan, line by line, for every query `call` ran on the requests table."""
    return [
        line[3]
        for sql, params in _ran(store, call)
        for line in store.db.execute("EXPLAIN QUERY PLAN " + sql, params)
    ]


# Each query, and how SQLite must read for it: SEARCH (a range or a lookup in the index) or
# SCAN of a partial index (every row of it, in order: `requests_checks` holds only the
# requests whose outcome is being checked, a handful; its condition has an OR, so no range).
INDEXED_QUERIES = {
    "lapsed_holds": (lambda s: s.lapsed_holds(NOW), [("SEARCH", "requests_hold_expiry")]),
    "reminders_due": (
        lambda s: s.reminders_due(NOW, NOW + timedelta(minutes=10)),
        [("SEARCH", "requests_reminders")],
    ),
    "cardless": (lambda s: s.cardless(NOW), [("SEARCH", "requests_cardless")]),
    "checks_due": (lambda s: s.checks_due(NOW), [("SCAN", "requests_checks")]),
    "stale_cards": (lambda s: s.stale_cards(NOW), [("SEARCH", "requests_stale_cards")]),
    "quiet_in_flight": (
        lambda s: s.quiet_in_flight(NOW),
        [("SEARCH", "requests_status_changed")],
    ),
    "open_for_number": (
        lambda s: s.open_for_number("+14155550100", "release"),
        [("SEARCH", "requests_by_number")],
    ),
    # App Home: one person's holds, their requests under way, then their last settled ones.
    "holds_of": (lambda s: s.holds_of("U1", NOW, 10), [("SEARCH", "requests_requester_status")]),
    "requests_of": (
        lambda s: s.requests_of("U1", open_limit=10, settled_limit=10),
        [("SEARCH", "requests_requester_status"), ("SEARCH", "requests_requester")],
    ),
    "next_due": (
        lambda s: s.next_due(),
        [
            ("SEARCH", "requests_status_changed"),
            ("SEARCH", "requests_checks"),
            ("SEARCH", "requests_hold_expiry"),
            ("SEARCH", "requests_cardless"),
            ("SEARCH", "requests_reminders"),
        ],
    ),
}


@pytest.mark.parametrize("name", list(INDEXED_QUERIES))
def test_on_sqlite_each_query_over_open_requests_reads_through_its_index(tmp_path, name):
    # SQLite without statistics would take `requests_status_changed` for `status = ?` and
    # read every pending request (20 ms a query at 100,000): each query names its index.
    store = store_on(connect(str(tmp_path / "numbot.db")))
    call, expected = INDEXED_QUERIES[name]
    plan = _plan(store, lambda: call(store))
    reads = [line for line in plan if line.startswith(("SEARCH requests", "SCAN requests"))]
    assert len(reads) == len(expected), plan
    for line, (verb, index) in zip(reads, expected, strict=True):
        assert line.startswith(f"{verb} requests USING") and f"INDEX {index}" in line, plan


# On PostgreSQL, the indexes that must serve each query over the open requests; the others
# (requests being checked or bought, a handful) may come through the index on `status`.
PG_INDEXES = {
    "lapsed_holds": ["requests_hold_expiry"],
    "reminders_due": ["requests_reminders"],
    "cardless": ["requests_cardless"],
    "checks_due": [],
    "stale_cards": ["requests_stale_cards"],
    "quiet_in_flight": [],
    "open_for_number": ["requests_by_number"],
    "holds_of": [],
    "requests_of": [],
    "next_due": ["requests_hold_expiry", "requests_cardless", "requests_reminders"],
}


@pytest.mark.postgres
def test_on_postgresql_the_planner_takes_the_same_indexes_unaided(pg_url):
    store = store_on(connect(pg_url))
    template = make(store, hold_expires_at=NOW + timedelta(days=1), card_ts="1.0")
    clone(store, template.id, OPEN, reminded_at=NOW)
    clone(store, template.id, 3, hold_expires_at=NOW - timedelta(minutes=1))
    store.db.execute("ANALYZE requests")
    assert set(PG_INDEXES) == set(INDEXED_QUERIES)
    for name, (call, _) in INDEXED_QUERIES.items():
        plan = "\n".join(
            row[0]
            for sql, params in _ran(store, lambda call=call: call(store))
            for row in store.db.execute("EXPLAIN " + sql, params)
        )
        assert "Seq Scan" not in plan, (name, plan)
        for index in PG_INDEXES[name]:
            # "Index Scan using X on requests", "Index Only Scan using X …", or a bitmap's
            # "Bitmap Index Scan on X", whichever the server's version and data favour.
            assert re.search(rf"(using|Bitmap Index Scan on) {index}\b", plan), (name, plan)

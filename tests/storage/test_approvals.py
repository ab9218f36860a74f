"""storage/approvals.py: counting approvals toward a quorum, and the month's money that
budgets are checked against (charged, being bought, waiting), on both engines."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage.audit import AuditKey, AuditLog
from storage.db import connect
from storage.requests import AuditNote, RequestStore

KEY = AuditKey("approvals-test-audit-key-0123456789abcdef")
MARCH = datetime(2030, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def store_on(db_target, clock):
    db = connect(db_target)
    return RequestStore(db, AuditLog(db, KEY), clock=clock)


def make(store, status="pending", *, kind="purchase", setup="1.00", monthly="1.15", needed=1):
    request = store.create(
        AuditNote("U_REQ", f"request_{kind}"),
        kind=kind,
        status="pending",
        e164="+14155550100",
        requester="U_REQ",
        setup_cost=None if setup is None else Decimal(setup),
        monthly_cost=None if monthly is None else Decimal(monthly),
        approvals_needed=needed,
    )
    if status != "pending":
        request = store.transition(
            request.id,
            from_statuses=("pending",),
            to_status=status,
            note=AuditNote("numbot", status),
        )
    return request


def detail(request, count, needed):
    return f'{{"count": {count}, "needed": {needed}}}'


def test_the_month_counts_charged_being_bought_and_waiting_apart(db_target):
    clock = Clock(datetime(2030, 2, 20, tzinfo=UTC))
    store = store_on(db_target, clock)
    make(store, "purchased", setup="50.00", monthly="50.00")  # February's: not this month
    clock.now = datetime(2030, 3, 15, tzinfo=UTC)
    make(store, "purchased", setup="1.00", monthly="1.15")
    make(store, "purchased", setup="2.00", monthly="3.00")
    make(store, "purchased", setup="0.50", monthly=None)  # a cost Flowyte did not state
    make(store, "approved", setup="4.00", monthly="0.01")
    make(store, "purchasing", setup="0.10", monthly="0.20")
    make(store, "checking", setup="0.30", monthly="0.40")
    make(store, "pending", setup="7.00", monthly="0.07")
    make(store, "pending", setup="0.01", monthly="0.02")
    make(store, "failed", setup="99.00", monthly="99.00")  # nothing charged
    make(store, "pending", kind="release", setup=None, monthly="9.00")  # releases cost nothing
    spent, in_flight, pending = store.month_spend(MARCH)
    assert spent == Decimal("7.65")  # 2.15 + 5.00 + 0.50
    assert in_flight == Decimal("5.01")  # 4.01 + 0.30 + 0.70
    assert pending == Decimal("7.10")  # 7.07 + 0.03


def test_approvals_are_counted_once_each_and_the_last_one_approves(db_target):
    store = store_on(db_target, Clock(MARCH))
    request = make(store, needed=2)
    first = store.approve(
        request.id, "U_A", detail=detail, month_start=MARCH, needed=request.approvals_needed
    )
    assert (first.outcome, first.count, first.needed) == ("counted", 1, 2)
    assert first.request.approved_by == "U_A" and first.request.status == "pending"
    again = store.approve(
        request.id, "U_A", detail=detail, month_start=MARCH, needed=request.approvals_needed
    )
    assert (again.outcome, again.count, again.needed) == ("duplicate", 1, 2)
    assert again.request.id == request.id
    last = store.approve(
        request.id, "U_B", detail=detail, month_start=MARCH, needed=request.approvals_needed
    )
    assert (last.outcome, last.count, last.needed) == ("approved", 2, 2)
    assert last.request.status == "approved" and last.request.decided_by == "U_B"
    assert last.request.approvals == ("U_A", "U_B")
    late = store.approve(
        request.id, "U_C", detail=detail, month_start=MARCH, needed=request.approvals_needed
    )
    assert late.outcome == "not_pending" and late.request.status == "approved"
    missing = store.approve(
        "req_nope", "U_C", detail=detail, month_start=MARCH, needed=request.approvals_needed
    )
    assert missing.outcome == "not_pending" and missing.request is None


def test_a_budget_refusal_writes_nothing_and_is_told_what_is_committed(db_target):
    clock = Clock(datetime(2030, 3, 15, tzinfo=UTC))
    store = store_on(db_target, clock)
    make(store, "purchased", setup="1.00", monthly="1.15")
    make(store, "purchasing", setup="2.00", monthly=None)
    make(store, "pending", setup="40.00", monthly="0.00")  # waiting: not committed
    request = make(store, setup="3.00", monthly="0.50", needed=2)
    seen: list[Decimal] = []

    def budget(row, committed):
        seen.append(committed)
        return "over this month's budget"

    assert (
        store.approve(
            request.id,
            "U_A",
            detail=detail,
            month_start=MARCH,
            needed=request.approvals_needed,
            budget=budget,
        ).outcome
        == "counted"
    )
    refused = store.approve(
        request.id,
        "U_B",
        detail=detail,
        month_start=MARCH,
        needed=request.approvals_needed,
        budget=budget,
    )
    assert (refused.outcome, refused.count, refused.needed) == ("over_budget", 1, 2)
    assert refused.refusal == "over this month's budget" and refused.request.id == request.id
    assert seen == [Decimal("4.15")]  # charged and being bought, not this request, not waiting
    after = store.get(request.id)
    assert after.status == "pending" and after.approvals == ("U_A",)
    # B's approval was not kept: once the budget allows, B's click counts.
    done = store.approve(
        request.id, "U_B", detail=detail, month_start=MARCH, needed=request.approvals_needed
    )
    assert (done.outcome, done.count) == ("approved", 2)


def test_only_a_move_back_to_waiting_clears_the_round(db_target):
    store = store_on(db_target, Clock(MARCH))
    request = make(store, needed=3)
    store.approve(
        request.id, "U_A", detail=detail, month_start=MARCH, needed=request.approvals_needed
    )
    kept = store.transition(
        request.id,
        from_statuses=("pending",),
        to_status="pending",
        note=AuditNote("numbot", "card"),
    )
    assert kept.approvals == ("U_A",) and store.get(request.id).approvals == ("U_A",)
    cleared = store.transition(
        request.id,
        from_statuses=("pending",),
        to_status="pending",
        note=AuditNote("numbot", "reopen"),
        clear_approvals=True,
    )
    assert cleared.approvals == () and store.get(request.id).approvals == ()
    again = store.approve(
        request.id, "U_A", detail=detail, month_start=MARCH, needed=request.approvals_needed
    )
    assert (again.outcome, again.count) == ("counted", 1)  # A may approve the new round


def test_approvals_by_people_who_may_no_longer_approve_do_not_count(db_target):
    """The quorum is what the policy asks now (`needed`), counted without those who lost the
    right since they approved (`revoked`)."""
    store = store_on(db_target, Clock(MARCH))
    request = make(store, needed=2)
    store.approve(request.id, "U_A", detail=detail, month_start=MARCH, needed=2)
    gone = store.approve(
        request.id, "U_B", detail=detail, month_start=MARCH, needed=2, revoked=frozenset({"U_A"})
    )
    assert (gone.outcome, gone.count, gone.needed) == ("counted", 1, 2)
    raised = store.approve(request.id, "U_C", detail=detail, month_start=MARCH, needed=4)
    assert (raised.outcome, raised.count, raised.needed) == ("counted", 3, 4)
    done = store.approve(request.id, "U_D", detail=detail, month_start=MARCH, needed=4)
    assert (done.outcome, done.count) == ("approved", 4)


def hold(store, requester="U_REQ", e164="+14155550100", *, max_open=None, now=MARCH):
    return store.create_hold(
        AuditNote(requester, "reserve"),
        kind="purchase",
        status="held",
        e164=e164,
        requester=requester,
        setup_cost=Decimal("1.00"),
        monthly_cost=Decimal("1.15"),
        hold_expires_at=now + timedelta(minutes=30),
        max_open=max_open,
        now=now,
    )


def test_a_hold_over_the_limit_is_refused_in_the_transaction_that_would_write_it(db_target):
    store = store_on(db_target, Clock(MARCH))
    first = hold(store, e164="+14155550101", max_open=2)
    second = hold(store, e164="+14155550102", max_open=2)
    assert first.status == second.status == "held"
    assert hold(store, e164="+14155550103", max_open=2) == ["+14155550101", "+14155550102"]
    assert hold(store, "U_OTHER", max_open=2).status == "held"  # the limit is per person
    # A lapsed hold no longer counts; nor does one that was filed.
    later = MARCH + timedelta(minutes=31)
    assert hold(store, e164="+14155550104", max_open=1, now=later).status == "held"
    assert len([e for e in store.audit.entries() if e.action == "reserve"]) == 4


def test_many_holds_at_once_in_ten_connections_never_pass_the_limit(db_target):
    """Each connection stands for a process (numbot uses one connection per process)."""
    stores = [store_on(db_target, Clock(MARCH)) for _ in range(10)]
    barrier = threading.Barrier(10)
    results = []

    def reserve(i):
        barrier.wait()
        results.append(hold(stores[i], e164=f"+1415555020{i}", max_open=1))

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not isinstance(r, list) for r in results) == 1
    assert stores[0].db.execute("SELECT count(*) FROM requests").fetchone()[0] == 1


def test_filing_checks_the_month_and_moves_the_request_in_one_transaction(db_target):
    store = store_on(db_target, Clock(datetime(2030, 3, 15, tzinfo=UTC)))
    make(store, "purchased", setup="1.00", monthly="1.15")
    make(store, "pending", setup="3.00", monthly="0.00")
    held = hold(store)
    seen = []

    def refusal(spent, in_flight, waiting):
        seen.append((spent, in_flight, waiting))
        return ("over_budget", "no room") if len(seen) == 1 else None

    note = AuditNote("U_REQ", "request_purchase")
    refused = store.file_purchase(held.id, note=note, month_start=MARCH, refusal=refusal)
    assert refused == ("over_budget", "no room") and store.get(held.id).status == "held"
    assert seen == [(Decimal("2.15"), Decimal(0), Decimal("3.00"))]
    filed = store.file_purchase(held.id, note=note, month_start=MARCH, refusal=refusal, reason="x")
    assert filed.status == "pending" and filed.reason == "x"
    assert store.file_purchase(held.id, note=note, month_start=MARCH, refusal=refusal) is None


def test_purchases_filed_at_once_in_six_connections_never_overrun_the_budget(db_target):
    budget = Decimal("5.00")
    stores = [store_on(db_target, Clock(datetime(2030, 3, 15, tzinfo=UTC))) for _ in range(6)]
    holds = [hold(stores[0], e164=f"+1415555030{i}") for i in range(6)]  # 2.15 each
    barrier = threading.Barrier(6)
    results = []

    def refusal(spent, in_flight, waiting):
        return (
            ("over_budget", "full")
            if spent + in_flight + waiting + Decimal("2.15") > budget
            else None
        )

    def file(i):
        barrier.wait()
        note = AuditNote("U_REQ", "request_purchase")
        results.append(
            stores[i].file_purchase(holds[i].id, note=note, month_start=MARCH, refusal=refusal)
        )

    threads = [threading.Thread(target=file, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not isinstance(r, tuple) for r in results) == 2  # 4.30 of 5.00

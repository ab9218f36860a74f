"""storage/approvals.py: counting approvals toward a quorum, and the month's money that
budgets are checked against (charged, being bought, waiting), on both engines."""

from datetime import UTC, datetime
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
            request.id, from_statuses=("pending",), to_status=status, note=AuditNote("numbot", status)
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
    first = store.approve(request.id, "U_A", detail=detail, month_start=MARCH)
    assert (first.outcome, first.count, first.needed) == ("counted", 1, 2)
    assert first.request.approved_by == "U_A" and first.request.status == "pending"
    again = store.approve(request.id, "U_A", detail=detail, month_start=MARCH)
    assert (again.outcome, again.count, again.needed) == ("duplicate", 1, 2)
    assert again.request.id == request.id
    last = store.approve(request.id, "U_B", detail=detail, month_start=MARCH)
    assert (last.outcome, last.count, last.needed) == ("approved", 2, 2)
    assert last.request.status == "approved" and last.request.decided_by == "U_B"
    assert last.request.approvals == ("U_A", "U_B")
    late = store.approve(request.id, "U_C", detail=detail, month_start=MARCH)
    assert late.outcome == "not_pending" and late.request.status == "approved"
    missing = store.approve("req_nope", "U_C", detail=detail, month_start=MARCH)
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

    assert store.approve(request.id, "U_A", detail=detail, month_start=MARCH, budget=budget).outcome == "counted"
    refused = store.approve(request.id, "U_B", detail=detail, month_start=MARCH, budget=budget)
    assert (refused.outcome, refused.count, refused.needed) == ("over_budget", 1, 2)
    assert refused.refusal == "over this month's budget" and refused.request.id == request.id
    assert seen == [Decimal("4.15")]  # charged and being bought, not this request, not waiting
    after = store.get(request.id)
    assert after.status == "pending" and after.approvals == ("U_A",)
    # B's approval was not kept: once the budget allows, B's click counts.
    done = store.approve(request.id, "U_B", detail=detail, month_start=MARCH)
    assert (done.outcome, done.count) == ("approved", 2)


def test_only_a_move_back_to_waiting_clears_the_round(db_target):
    store = store_on(db_target, Clock(MARCH))
    request = make(store, needed=3)
    store.approve(request.id, "U_A", detail=detail, month_start=MARCH)
    kept = store.transition(
        request.id, from_statuses=("pending",), to_status="pending", note=AuditNote("numbot", "card")
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
    again = store.approve(request.id, "U_A", detail=detail, month_start=MARCH)
    assert (again.outcome, again.count) == ("counted", 1)  # A may approve the new round

"""storage/costs.py on both engines: exact bills, numbers that reach nobody, a warning once a
day however many processes ask, and months of Flowyte's number charges."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from threading import Barrier, Thread

from storage.costs import CostBook, MonthUsage
from storage.db import connect
from storage.owned import OwnedIndex, OwnedRow

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


def seed(db_target, *rows: tuple[str, str | None, str | None]) -> CostBook:
    db = connect(db_target)
    OwnedIndex(db).put(
        [
            OwnedRow(e164, f"num_{e164[1:]}", agent, None if cost is None else Decimal(cost))
            for e164, agent, cost in rows
        ],
        T0,
    )
    return CostBook(db)


def test_prices_are_counted_exactly_and_unknown_ones_apart(db_target):
    book = seed(
        db_target,
        ("+14155550100", None, "1.15"),
        ("+14155550101", "agt_support", "1.15"),
        ("+14155550102", "agt_draft", "0.10"),
        ("+14155550103", None, None),
    )
    assert sorted(book.price_counts(), key=str) == sorted(
        [(Decimal("1.15"), 2), (Decimal("0.10"), 1), (None, 1)], key=str
    )
    idle = dict(book.idle_price_counts({"agt_draft"}))
    assert idle == {Decimal("1.15"): 1, Decimal("0.10"): 1, None: 1}
    assert dict(book.idle_price_counts(set())) == {Decimal("1.15"): 1, None: 1}


def test_idle_numbers_page_in_order_and_count(db_target):
    book = seed(
        db_target,
        ("+14155550103", None, "1.00"),
        ("+14155550101", "agt_draft", "1.00"),
        ("+14155550102", "agt_support", "1.00"),
        ("+14155550100", None, "1.00"),
    )
    assert book.idle_count({"agt_draft"}) == 3
    assert [r.e164 for r in book.idle_page({"agt_draft"}, 0, 2)] == [
        "+14155550100",
        "+14155550101",
    ]
    assert [r.e164 for r in book.idle_page({"agt_draft"}, 2, 2)] == ["+14155550103"]
    assert [r.agent_id for r in book.idle_page(set(), 0, 5)] == [None, None]


def idle_rows(book: CostBook) -> list[str]:
    return [str(r[0]) for r in book.db.execute("SELECT e164 FROM idle_numbers ORDER BY e164")]


def test_since_when_a_number_reaches_nobody_is_kept_and_forgotten(db_target):
    book = seed(db_target, ("+14155550100", None, "1.00"), ("+14155550101", "agt_a", "1.00"))
    book.track_idle(set(), T0 - timedelta(days=1))  # the first time ever: the baseline
    assert idle_rows(book) == ["+14155550100"]
    assert book.idle_since(T0 - timedelta(days=2), limit=10) == ([], 0)  # not new: it was so
    later = T0 + timedelta(days=1)
    OwnedIndex(book.db).put([OwnedRow("+14155550101", "num_1", None, Decimal("1.00"))], later)
    book.track_idle(set(), later)  # the first keeps its "since"; the second is new
    assert book.idle_since(later, limit=10) == (["+14155550101"], 1)
    assert book.idle_since(T0, limit=10) == (["+14155550101"], 1)
    OwnedIndex(book.db).put([OwnedRow("+14155550102", "num_2", None, Decimal("1"))], later)
    OwnedIndex(book.db).put([OwnedRow("+14155550100", "num_0", "agt_a", Decimal("1"))], later)
    book.track_idle(set(), later + timedelta(hours=1))
    assert idle_rows(book) == ["+14155550101", "+14155550102"]  # 0100 reaches someone again
    assert book.idle_since(T0, limit=10) == (["+14155550101", "+14155550102"], 2)


def test_numbers_idle_at_the_first_look_are_never_new(db_target):
    book = seed(db_target, *[(f"+1415555{i:04d}", None, "1.00") for i in range(3)])
    book.track_idle(set(), T0)
    book.track_idle(set(), T0 + timedelta(minutes=10))  # a later look: still the baseline's
    assert len(idle_rows(book)) == 3 and book.idle_since(T0) == ([], 0)


def test_the_warning_is_claimed_once_a_day_and_its_clearing_once(db_target):
    book = CostBook(connect(db_target))
    assert book.alert_state().low is False
    assert book.claim_warning("2030-01-01", T0)
    assert not book.claim_warning("2030-01-01", T0)  # the same day: once
    assert book.alert_state().low and book.alert_state().warned_on == "2030-01-01"
    assert book.claim_clear(T0) and not book.claim_clear(T0)
    assert not book.claim_warning("2030-01-01", T0)  # low again the same day: not again
    assert book.claim_warning("2030-01-02", T0 + timedelta(days=1))


def test_two_processes_asking_at_once_warn_once(db_target):
    books = [CostBook(connect(db_target)) for _ in range(4)]
    barrier = Barrier(len(books))
    won: list[bool] = []

    def ask(book: CostBook) -> None:
        barrier.wait()
        won.append(book.claim_warning("2030-01-01", T0))

    threads = [Thread(target=ask, args=(b,)) for b in books]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False, False, False, True]


def test_a_claim_whose_message_was_not_posted_is_given_back(db_target):
    book = CostBook(connect(db_target))
    before = book.alert_state()
    assert book.claim_warning("2030-01-01", T0)
    assert book.give_back("2030-01-01", before)
    assert book.alert_state() == before
    assert book.claim_warning("2030-01-01", T0)  # claimed again, the same day
    low = book.alert_state()
    assert not book.give_back("2029-12-31", before)  # not the claim that stands: kept
    assert book.claim_clear(T0 + timedelta(hours=1))
    assert book.give_back(None, low) and book.alert_state() == low
    assert book.claim_clear(T0 + timedelta(hours=2))


def test_a_month_of_usage_is_stored_and_replaced(db_target):
    book = CostBook(connect(db_target))
    assert book.month_usage("2030-01") is None
    book.put_month_usage(MonthUsage("2030-01", Decimal("3450"), 12, T0, False))
    book.put_month_usage(MonthUsage("2030-01", Decimal("3565.5"), 14, T0, True))
    assert book.month_usage("2030-01") == MonthUsage("2030-01", Decimal("3565.5"), 14, T0, True)


def test_months_are_read_together_and_an_older_read_never_replaces_a_newer(db_target):
    book = CostBook(connect(db_target))
    later = T0 + timedelta(minutes=20)
    book.put_month_usage(MonthUsage("2030-01", Decimal("100"), 1, later, False))
    book.put_month_usage(MonthUsage("2030-01", Decimal("50"), 1, T0, False))  # began earlier
    book.put_month_usage(MonthUsage("2030-02", Decimal("7"), 2, T0, False))
    kept = book.month_usages(["2030-01", "2030-02", "2030-03"])
    assert sorted(kept) == ["2030-01", "2030-02"]
    assert kept["2030-01"].number_credits == Decimal("100") and kept["2030-01"].read_at == later
    assert book.month_usages([]) == {}


def test_the_wallet_as_last_read_keeps_the_newest(db_target):
    from storage.costs import WalletSeen

    book = CostBook(connect(db_target))
    assert book.wallet_seen() is None
    newer = WalletSeen(Decimal("9.20"), False, Decimal("5.00"), None, T0 + timedelta(minutes=5))
    book.put_wallet_seen(newer)
    book.put_wallet_seen(WalletSeen(Decimal("50"), True, None, Decimal("25"), T0))  # late
    assert book.wallet_seen() == newer

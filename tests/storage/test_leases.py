import threading
from datetime import UTC, datetime, timedelta

from storage.db import connect
from storage.leases import Leases

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
LEASE = timedelta(seconds=6)


def test_one_holder_at_a_time_renewed_by_its_holder_taken_over_once_it_runs_out(db_target):
    leases = Leases(connect(db_target))
    assert leases.take("sweep", "a", NOW, NOW + LEASE)
    assert not leases.take("sweep", "b", NOW + timedelta(seconds=1), NOW + timedelta(seconds=7))
    assert leases.take(
        "sweep", "a", NOW + timedelta(seconds=2), NOW + timedelta(seconds=8)
    )  # renewed
    assert not leases.take("sweep", "b", NOW + timedelta(seconds=7), NOW + timedelta(seconds=13))
    assert leases.holder("sweep", NOW + timedelta(seconds=7)) == "a"
    # a stops renewing (it died): once its lease has run out, b takes over, and a cannot renew
    assert leases.take("sweep", "b", NOW + timedelta(seconds=8), NOW + timedelta(seconds=14))
    assert not leases.take("sweep", "a", NOW + timedelta(seconds=9), NOW + timedelta(seconds=15))
    leases.release("sweep", "a")  # not a's to let go
    assert leases.holder("sweep", NOW + timedelta(seconds=9)) == "b"
    leases.release("sweep", "b")
    assert leases.take("sweep", "c", NOW + timedelta(seconds=9), NOW + timedelta(seconds=15))


def test_processes_racing_for_a_free_lease_have_one_winner(db_target):
    connect(db_target).close()
    winners = []
    barrier = threading.Barrier(8)

    def race(i):
        leases = Leases(connect(db_target))  # its own connection, as another process has
        barrier.wait()
        if leases.take("sweep", f"p{i}", NOW, NOW + LEASE):
            winners.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_nobody_holds_a_lease_never_taken_run_out_or_let_go(db_target):
    leases = Leases(connect(db_target))
    assert leases.holder("sweep", NOW) is None  # never taken
    assert leases.take("sweep", "a", NOW, NOW + LEASE)
    assert leases.holder("sweep", NOW + LEASE - timedelta(microseconds=1)) == "a"
    assert leases.holder("sweep", NOW + LEASE) is None  # ran out at `until`
    assert leases.take("sweep", "b", NOW + LEASE, NOW + 2 * LEASE)  # free from that moment
    leases.release("sweep", "b")
    assert leases.holder("sweep", NOW + LEASE) is None
    assert leases.holder("owned-refresh", NOW) is None  # another lease's name

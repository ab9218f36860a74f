"""One process sweeps at a time: the lease is taken by one, renewed, let go, taken over."""

from datetime import UTC, datetime, timedelta

from bot.process.sweep_lease import SweepLease
from bot.workflow.storage_runner import Storage
from storage.db import connect
from tests.bot.conftest import AUDIT_KEY


class Clock:
    def __init__(self):
        self.now = datetime(2030, 1, 1, 12, tzinfo=UTC)

    def __call__(self):
        return self.now


async def test_one_leads_until_it_stops_renewing_or_lets_go(tmp_path):
    clock = Clock()
    a = SweepLease(Storage(connect(tmp_path / "n.db"), AUDIT_KEY), clock=clock)
    b = SweepLease(Storage(connect(tmp_path / "n.db"), AUDIT_KEY), clock=clock)
    assert await a.try_once() and a.leading
    assert not await b.try_once() and not b.leading
    assert not await b.wait_leading(0.01)
    clock.now += timedelta(seconds=5)
    assert await a.try_once()  # renewed before it ran out
    clock.now += timedelta(seconds=5)
    assert not await b.try_once()  # a's renewal still holds
    clock.now += timedelta(seconds=7)  # a stopped renewing (it died): its lease ran out
    assert await b.try_once() and await b.wait_leading(0.01)
    assert not await a.try_once() and not a.leading  # and a, back, does not lead as well
    await b.release()
    assert not b.leading and await a.try_once()  # let go: taken at once


async def test_a_database_that_fails_means_not_leading(tmp_path, caplog):
    lease = SweepLease(Storage(connect(tmp_path / "n.db"), AUDIT_KEY))
    assert await lease.try_once()
    lease.storage.db.close()  # the database went away
    assert not await lease.try_once() and not lease.leading
    assert "could not take or renew the sweep lease" in caplog.text

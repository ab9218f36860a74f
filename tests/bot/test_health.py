"""bot/ops/health.py: what /healthz answers, from the facts it is given."""

import asyncio
import sqlite3
import threading

import pytest

from bot.ops.health import LOST_GRACE, DatabaseProbe, Health, SlackStatus, SocketStatus
from storage.db import connect
from storage.probe import probe_write


def fine() -> None:
    return None


def locked() -> None:
    raise sqlite3.OperationalError("database is locked")


async def test_healthy_when_the_database_takes_a_write_and_slack_has_not_refused():
    status = SlackStatus()
    ok, body = await Health(slack=status, database=DatabaseProbe(fine), sandbox=True).check()
    assert ok and body == {"ok": True, "sandbox": True, "slack": "unknown", "database": "writable"}


async def test_a_database_that_cannot_be_written_is_unhealthy_with_the_reason(caplog):
    ok, body = await Health(
        slack=SlackStatus(), database=DatabaseProbe(locked), sandbox=False
    ).check()
    assert not ok
    assert body["reason"] == "database not writable: OperationalError"
    assert "OperationalError: database is locked" in caplog.text  # the detail is logged


async def test_health_never_says_where_the_database_lives(caplog):
    """/healthz answers anyone: PostgreSQL's refusal names the host, port and user."""

    def refused() -> None:
        raise ConnectionError(
            'connection to server at "10.1.2.3", port 5432 failed: FATAL: password '
            'authentication failed for user "numbot_owner"'
        )

    probe = DatabaseProbe(refused)
    health = Health(slack=SlackStatus(), database=probe, sandbox=False)
    for _ in range(3):
        ok, body = await health.check()
        assert not ok and body["reason"] == "database not writable: ConnectionError"
        for leak in ("10.1.2.3", "5432", "numbot_owner"):
            assert leak not in str(body)
    said = [r for r in caplog.records if "health probe" in r.getMessage()]
    assert len(said) == 1 and "10.1.2.3" in said[0].getMessage()  # logged once, not per probe


@pytest.mark.parametrize(
    "error", ["invalid_auth", "token_revoked", "account_inactive", "not_authed"]
)
async def test_a_refused_token_is_unhealthy(error):
    status = SlackStatus()
    status.answered()
    status.refused(error)
    status.unreachable("ClientConnectorError")  # a blip later does not hide it
    ok, body = await Health(slack=status, database=DatabaseProbe(fine), sandbox=False).check()
    assert not ok
    assert body["reason"] == f"Slack rejected the bot token: {error}"


async def test_other_refusals_and_an_unreachable_slack_stay_healthy_and_are_reported():
    status = SlackStatus()
    status.refused("channel_not_found")
    assert status.state == "unknown"
    status.unreachable("ClientConnectorError")
    ok, body = await Health(slack=status, database=DatabaseProbe(fine), sandbox=False).check()
    assert ok and body["slack"] == "unreachable: ClientConnectorError"
    status.answered()
    assert status.state == "ok" and status.last_ok is not None


async def test_a_stuck_probe_is_reported_within_the_deadline_and_not_stacked():
    release = threading.Event()
    started = []

    def stuck() -> None:
        started.append(1)
        release.wait(5)

    probe = DatabaseProbe(stuck, deadline=0.1)
    try:
        answers = await asyncio.gather(*(probe.problem() for _ in range(5)))
        assert answers == ["no answer from the database within 0.1s"] * 5
        assert await probe.problem() == "no answer from the database within 0.1s"
        assert len(started) == 1, "one probe at a time"
    finally:
        release.set()


def test_the_write_probe_writes_nothing_and_fails_on_a_held_lock(tmp_path):
    path = tmp_path / "n.db"
    connect(path).conn.close()
    before = path.read_bytes()
    probe_write(path, 0.5)
    assert path.read_bytes() == before
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        probe_write(path, 0.1)
    holder.execute("ROLLBACK")
    with pytest.raises(sqlite3.OperationalError):
        probe_write(tmp_path / "absent.db", 0.1)
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.postgres
def test_the_write_probe_on_postgres_takes_numbot_s_writer_lock_and_writes_nothing(pg_url):
    import psycopg

    from storage.engine import UnreachableError
    from storage.probe import ReadOnlyError
    from tests.fakes.serve import free_port

    db = connect(pg_url)
    head = db.execute("SELECT count(*) FROM migrations").fetchone()[0]
    probe_write(pg_url, 0.5)
    assert db.execute("SELECT count(*) FROM migrations").fetchone()[0] == head
    with db.transaction(), pytest.raises(psycopg.errors.LockNotAvailable):
        probe_write(pg_url, 0.1)  # a writer holds the lock past the probe's patience
    with pytest.raises(UnreachableError) as caught:
        probe_write(f"postgresql://numbot:pw-s3cret-42@127.0.0.1:{free_port()}/x", 0.1)
    assert "pw-s3cret-42" not in str(caught.value)
    db.execute(
        "ALTER DATABASE " + pg_url.rsplit("/", 1)[1] + " SET default_transaction_read_only = on"
    )
    with pytest.raises(ReadOnlyError, match="only takes reads"):
        probe_write(pg_url, 0.5)  # a read-only server (a standby after a failover)


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_socket_mode_is_unhealthy_only_after_the_grace():
    clock = Ticking()
    socket = SocketStatus(clock)
    health = Health(slack=SlackStatus(), database=DatabaseProbe(fine), sandbox=False, socket=socket)
    ok, body = await health.check()
    assert ok and "socket" not in body  # HTTP mode: no socket to speak of
    socket.connecting()
    clock.now += LOST_GRACE - 1
    ok, body = await health.check()
    assert ok and body["socket"] == "connecting"
    clock.now += 2  # never connected, past the grace: nothing reaches numbot
    ok, body = await health.check()
    assert not ok and "Socket Mode connection has been down for 61s" in body["reason"]
    socket.connected()
    ok, body = await health.check()
    assert ok and body["socket"] == "connected" and socket.down_for() == 0
    socket.lost()
    clock.now += 30
    socket.lost()  # a second look while still down does not restart the count
    ok, body = await health.check()
    assert ok and body["socket"] == "reconnecting" and socket.down_for() == 30
    clock.now += LOST_GRACE
    ok, body = await health.check()
    assert not ok and body["socket"] == "reconnecting"

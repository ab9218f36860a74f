import psycopg
import pytest

from bot.kernel.redact import redact
from storage.db import connect
from storage.engine import UnreachableError, is_postgres_url, redact_url, to_pyformat
from tests.fakes.serve import free_port


def test_placeholders_become_psycopg_s_outside_quotes():
    assert (
        to_pyformat("SELECT ? WHERE a LIKE '%?%' AND b = ?")
        == "SELECT %s WHERE a LIKE '%?%' AND b = %s"
    )
    assert to_pyformat("SELECT 100 % 7, ?") == "SELECT 100 %% 7, %s"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://numbot:s3cret-Pa55@db.internal:5432/numbot",
        "postgres://numbot:s3cret-Pa55@db.internal/numbot?sslmode=require",
    ],
)
def test_a_database_url_s_password_is_masked(url):
    assert "s3cret-Pa55" not in redact_url(url) and "db.internal" in redact_url(url)
    assert "s3cret-Pa55" not in redact(f"could not reach {url} today")


def test_a_password_given_as_a_parameter_is_masked_too():
    assert redact_url("host=db.internal password=s3cret user=numbot") == (
        "host=db.internal password=*** user=numbot"
    )
    assert redact_url("postgresql://db.internal/numbot?password='s3 cret'") == (
        "postgresql://db.internal/numbot?password=***"
    )
    assert redact_url("postgresql://numbot:s3cret@db/numbot") == "postgresql://***@db/numbot"


def test_the_whole_userinfo_is_hidden_even_with_an_unescaped_at_in_the_password():
    for url in (
        "postgresql://numbot:p@ss@db.internal:5432/numbot",
        "postgresql://numbot:p@s:s@db.internal/numbot?sslmode=require",
        "postgres://only-a-user@db.internal/numbot",
    ):
        shown = redact_url(url)
        assert shown.startswith(url.split("://")[0] + "://***@db.internal")
        assert "ss@" not in shown and "numbot:" not in shown and "only-a-user" not in shown


def test_both_postgres_schemes_name_postgres_and_nothing_else_does():
    assert is_postgres_url("postgresql://db/numbot") and is_postgres_url("postgres://db/numbot")
    assert not is_postgres_url("sqlite:///numbot.db") and not is_postgres_url("numbot.db")
    assert not is_postgres_url(None) and not is_postgres_url("")


def test_an_unreachable_postgres_is_named_without_its_password():
    url = f"postgresql://numbot:s3cret-Pa55@127.0.0.1:{free_port()}/numbot"
    with pytest.raises(UnreachableError) as caught:
        connect(url)
    said = str(caught.value)
    assert "s3cret-Pa55" not in said and "127.0.0.1" in said
    assert "refused" in said.lower()  # and why, in PostgreSQL's words


def test_a_database_file_is_made_with_its_folders_and_memory_is_no_file(tmp_path, monkeypatch):
    path = tmp_path / "var" / "lib" / "numbot" / "numbot.db"
    connect(str(path)).close()
    assert path.is_file() and path.stat().st_mode & 0o777 == 0o600
    monkeypatch.chdir(tmp_path)
    connect(":memory:").close()
    assert not (tmp_path / ":memory:").exists()


@pytest.mark.postgres
def test_a_broken_connection_fails_its_call_and_the_next_one_reconnects(pg_url):
    db = connect(pg_url)
    pid = db.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        db.execute("SELECT 1")
    assert db.execute("SELECT count(*) FROM migrations").fetchone()[0] >= 1
    with db.transaction() as tx:
        tx.execute("INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)", ("x", "me", "z"))
    assert db.execute("SELECT holder FROM leases").fetchall() == [("me",)]


@pytest.mark.postgres
def test_a_writer_waits_for_the_lock_a_bounded_time(pg_url):
    holder, waiter = connect(pg_url), connect(pg_url)
    assert waiter.execute("SHOW lock_timeout").fetchone()[0] == "10s"
    waiter.execute("SET lock_timeout = 200")  # for the test: 0.2 s instead of 10
    with holder.transaction(), pytest.raises(psycopg.errors.LockNotAvailable), waiter.transaction():
        pass
    with waiter.transaction():  # the lock is free again once the holder committed
        pass


def test_processes_starting_at_once_on_an_empty_database_migrate_it_once(db_target):
    import threading

    from storage.migrations import latest

    barrier, errors = threading.Barrier(6), []

    def start():
        barrier.wait()
        try:
            connect(db_target).close()
        except Exception as error:  # pragma: no cover - the failure this test looks for
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = connect(db_target)
    names = [row[0] for row in db.execute("SELECT name FROM migrations ORDER BY name")]
    assert len(names) == len(set(names)) and names[-1] == latest()

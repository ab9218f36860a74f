"""Fixtures shared by every test package: the storage engines.

`engine` runs a test on SQLite and on PostgreSQL; `db_target` is what `connect()` takes for
that engine (a fresh SQLite file, or a fresh PostgreSQL database of the session's cluster:
tests/pg.py).
"""

import pytest

from tests.pg import URL_ENV, Unavailable, cluster_for_session, required


@pytest.fixture(scope="session")
def pg_cluster():
    try:
        cluster = cluster_for_session()
    except Unavailable as error:
        message = (
            f"the PostgreSQL half of the tests cannot run: {error}. Install PostgreSQL "
            f"(apt-get install postgresql) or set {URL_ENV} to a server where the role may "
            "CREATE DATABASE"
        )
        if required():
            pytest.fail(message + " (NUMBOT_REQUIRE_POSTGRES is set: this is a failure, not a skip)")
        pytest.skip(message)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty PostgreSQL database for this test; dropped after it."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request):
    return request.param


@pytest.fixture
def db_target(engine, request, tmp_path):
    """What connect() opens for this test's engine: a SQLite file or a PostgreSQL URL."""
    if engine == "sqlite":
        return str(tmp_path / "numbot.db")
    return request.getfixturevalue("pg_url")

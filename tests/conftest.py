"""Fixtures shared by every test package: the storage engines.

`engine` runs a test on SQLite and on PostgreSQL; `db_target` is what `connect()` takes for
that engine (a fresh SQLite file, or a fresh PostgreSQL database of the session's cluster:
tests/pg.py).
"""

import uuid
from urllib.parse import urlsplit, urlunsplit

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
            pytest.fail(
                message + " (NUMBOT_REQUIRE_POSTGRES is set: this is a failure, not a skip)"
            )
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


def as_role(url, role):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


@pytest.fixture
def pg_roles(pg_url):
    """(owner URL, runtime URL, runtime role) on a fresh database the owner owns."""
    suffix = uuid.uuid4().hex[:8]
    owner, runtime = f"numbot_owner_{suffix}", f"numbot_app_{suffix}"
    database = urlsplit(pg_url).path.lstrip("/")
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN")
        admin.execute(f"CREATE ROLE {runtime} LOGIN")
        admin.execute(f'ALTER DATABASE "{database}" OWNER TO {owner}')
        admin.execute(f"ALTER SCHEMA public OWNER TO {owner}")
    yield as_role(pg_url, owner), as_role(pg_url, runtime), runtime
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" OWNER TO CURRENT_USER')
        admin.execute("ALTER SCHEMA public OWNER TO CURRENT_USER")
        for role in (owner, runtime):
            admin.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")

import pytest

from tests.e2e.harness import BOT_TOKEN, DATABASE_URL_FILE, BotProcess, close_test_connections
from tests.fakes.flowyte_server import FakeFlowyte
from tests.fakes.slack_api import FakeSlack


@pytest.fixture(autouse=True)
def _bot_database(request, tmp_path):
    """On the PostgreSQL half of a @both_engines test, every bot started in tmp_path shares a
    fresh PostgreSQL database (tests/e2e/harness.py); otherwise the SQLite file there."""
    if "engine" in request.fixturenames and request.getfixturevalue("engine") == "postgresql":
        (tmp_path / DATABASE_URL_FILE).write_text(request.getfixturevalue("pg_url"))
    yield
    close_test_connections()  # before the test's database is dropped


@pytest.fixture
def slack():
    fake = FakeSlack(bot_token=BOT_TOKEN)
    with fake.serve():
        yield fake


@pytest.fixture
def flowyte():
    fake = FakeFlowyte()
    with fake.serve() as url:
        fake.url = url
        yield fake


@pytest.fixture
def bot(slack, flowyte, tmp_path):
    """numbot, started, its probes of the key's scopes done and forgotten: the calls the
    fake Flowyte records are the ones the test made happen."""
    process = BotProcess(slack, flowyte.url, tmp_path).start().wait_for_scope_check()
    process.wait_for_owned_refresh()
    # the start-up scope probes and owned-number read: tests count only the calls they cause
    flowyte.forget_calls()
    yield process
    process.stop()

import time

import pytest

from tests.e2e.harness import BOT_TOKEN, BotProcess
from tests.fakes.flowyte_server import FakeFlowyte
from tests.fakes.slack_api import FakeSlack


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


# What numbot logs once its check of the Flowyte key's scopes at start is over.
SCOPES_CHECKED = ("scopes checked", "lacks the scope", "could not check the Flowyte key")


def scopes_checked(process: BotProcess, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(marker in process.output() for marker in SCOPES_CHECKED):
        assert time.monotonic() < deadline, process.output()[-2000:]
        time.sleep(0.05)


@pytest.fixture
def bot(slack, flowyte, tmp_path):
    """numbot, started, its probes of the key's scopes done and forgotten: the calls the
    fake Flowyte records are the ones the test made happen."""
    process = BotProcess(slack, flowyte.url, tmp_path).start()
    scopes_checked(process)
    flowyte.reset()
    yield process
    process.stop()

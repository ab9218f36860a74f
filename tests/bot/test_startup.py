"""Starting the way a supervisor understands: waiting for the database, naming typos, one line."""

from __future__ import annotations

import logging

import pytest

from bot.config.names import unknown_settings
from bot.config.placeholders import is_placeholder
from bot.config.settings import Settings
from bot.process.startup import MAX_WAIT, in_force, waiting_for_the_database, warn_unknown_settings
from storage.engine import UnreachableError

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1-secretbottoken",
    "SLACK_SIGNING_SECRET": "s" * 32,
    "FLOWYTE_API_KEY": "flowyte_sk_livesecret",
    "NUMBOT_AUDIT_KEY": "k" * 64,
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_database_that_comes_up_is_waited_for_with_backoff(caplog):
    clock = Clock()
    tries = iter([UnreachableError("down"), UnreachableError("down"), None])

    def build() -> str:
        failure = next(tries)
        if failure is not None:
            raise failure
        return "runtime"

    assert waiting_for_the_database(build, sleep=clock.sleep, monotonic=lambda: clock.now) == (
        "runtime"
    )
    assert clock.slept == [1.0, 2.0]
    assert caplog.text.count("the database cannot be reached yet") == 2


def test_a_database_that_stays_down_gives_up_within_the_patience():
    clock = Clock()

    def build() -> str:
        raise UnreachableError("connection refused")

    with pytest.raises(UnreachableError):
        waiting_for_the_database(build, patience=60, sleep=clock.sleep, monotonic=lambda: clock.now)
    assert clock.now <= 60 and max(clock.slept) <= MAX_WAIT
    assert clock.slept[:4] == [1.0, 2.0, 4.0, 8.0]


def test_no_patience_means_one_try():
    clock = Clock()
    calls = []

    def build() -> str:
        calls.append(1)
        raise UnreachableError("down")

    with pytest.raises(UnreachableError):
        waiting_for_the_database(build, patience=0, sleep=clock.sleep, monotonic=lambda: clock.now)
    assert calls == [1] and clock.slept == []


def test_other_failures_are_not_waited_for():
    def build() -> str:
        raise ValueError("a schema from the future")

    with pytest.raises(ValueError):
        waiting_for_the_database(build, sleep=pytest.fail)


def test_a_typo_is_named_with_the_setting_it_probably_meant(caplog, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("SLACK_BOT_TOKNE=xoxb-1\nNUMBOT_DB=numbot.db\n")
    environ = {
        "NUMBOT_POLCY": "/etc/numbot/policy.toml",
        "PATH": "/bin",
        "NUMBOT_REQUIRE_POSTGRES": "1",
    }
    with caplog.at_level(logging.WARNING, logger="numbot"):
        assert warn_unknown_settings(environ, str(dotenv)) == 2
    assert (
        "NUMBOT_POLCY is set but is not one of numbot's settings: ignored; did you mean NUMBOT_POLICY?"
        in caplog.text
    )
    assert "did you mean SLACK_BOT_TOKEN?" in caplog.text
    assert "PATH" not in caplog.text and "NUMBOT_REQUIRE_POSTGRES" not in caplog.text
    assert "xoxb-1" not in caplog.text  # names only, never values


def test_a_name_far_from_any_setting_is_named_without_a_guess():
    assert unknown_settings(["NUMBOT_SOMETHING_ELSE_ENTIRELY"]) == [
        ("NUMBOT_SOMETHING_ELSE_ENTIRELY", None)
    ]


def test_every_setting_is_known():
    assert unknown_settings(list(Settings.model_fields)) == []


def test_the_start_up_line_says_what_runs_and_no_secret():
    settings = Settings(
        _env_file=None,
        **SECRETS,
        NUMBOT_APPROVAL_CHANNEL="C0APPROVALS",
        NUMBOT_APPROVERS="U0BOB,U0CAROL",
    )
    line = in_force(settings, approvers=2, groups=1)
    assert (
        "HTTP" in line and "Flowyte live" in line and "2 named approvers and 1 user group" in line
    )
    assert "approval channel C0APPROVALS" in line and "no spend policy" in line
    for secret in SECRETS.values():
        assert secret not in line


@pytest.mark.parametrize(
    "value",
    [
        "xoxb-replace-me",
        "replace-me",
        "flowyte_sk_replace_me",
        "postgresql://numbot:PASSWORD@postgres:5432/numbot",
        "C0123456789",
        "U0987654321",
    ],
)
def test_the_examples_placeholders_are_recognised(value):
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["xoxb-1-2-abc", "C0APPROVALS", "postgresql://n:pw@db/numbot"])
def test_real_values_are_not_placeholders(value):
    assert not is_placeholder(value)


def test_a_lease_holder_is_alive_only_as_a_live_process_on_this_machine():
    import os
    import socket
    import subprocess
    import sys

    from bot.process.runtime import holder_is_alive_here

    here = socket.gethostname()
    assert holder_is_alive_here(f"{here}:{os.getpid()}:abcd")
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    assert not holder_is_alive_here(f"{here}:{done.stdout.strip()}:abcd")  # it has exited
    assert not holder_is_alive_here(f"another-host:{os.getpid()}:abcd")
    assert not holder_is_alive_here("another process")

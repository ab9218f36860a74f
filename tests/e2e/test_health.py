"""/healthz tells the truth: 503 with a reason when the database cannot be written or Slack
rejects the bot token; `numbot run` refuses to start on a token Slack rejects."""

import sqlite3
import time

import httpx
import pytest

from tests.e2e.harness import ALICE, BOT_TOKEN, BotProcess, wait_until
from tests.fakes.serve import free_port


def health(bot) -> httpx.Response:
    return bot.http.get(bot.url + "/healthz")


def wait_for_status(bot, status: int, timeout: float = 10) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while (answer := health(bot)).status_code != status:
        assert time.monotonic() < deadline, f"/healthz still {answer.status_code}: {answer.text}"
        time.sleep(0.1)
    return answer


def test_healthy_says_so(bot):
    answer = health(bot)
    assert answer.status_code == 200
    assert answer.json() == {
        "ok": True,
        "sandbox": False,
        "slack": "ok",
        "database": "writable",
    }


def test_a_database_locked_by_someone_else_is_503_until_released(bot):
    holder = sqlite3.connect(bot.db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # holds the write lock, as a stuck writer would
        started = time.monotonic()
        answer = health(bot)
        assert time.monotonic() - started < 5, "the probe is bounded by its timeout"
        assert answer.status_code == 503
        body = answer.json()
        assert body["ok"] is False
        assert body["reason"] == "database not writable: OperationalError"
        wait_until(lambda: "database is locked" in bot.output())  # the detail is logged
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert wait_for_status(bot, 200).json()["ok"] is True


def test_a_database_that_went_away_is_503(bot):
    bot.db.rename(bot.db.with_suffix(".moved"))
    answer = health(bot)
    assert answer.status_code == 503
    assert answer.json()["reason"].startswith("database not writable: ")


def test_a_token_revoked_while_running_is_503(bot, slack):
    slack.revoke("token_revoked")
    bot.open_home(ALICE)  # numbot draws the Home tab with views.publish: refused
    body = wait_for_status(bot, 503).json()
    assert body["ok"] is False
    assert body["reason"] == "Slack rejected the bot token: token_revoked"
    assert BOT_TOKEN not in str(body)


@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive"])
def test_start_stops_on_a_token_slack_rejects(slack, flowyte, tmp_path, error):
    slack.fail("auth.test", error, times=None)
    bot = BotProcess(slack, flowyte.url, tmp_path)
    with pytest.raises(RuntimeError) as failed:
        bot.start()
    bot.stop()
    assert bot.proc.returncode == 78  # EX_CONFIG
    assert f"Slack rejected SLACK_BOT_TOKEN at start ({error})" in str(failed.value)
    assert BOT_TOKEN not in bot.output()


def test_start_with_a_wrong_token_stops_with_why(slack, flowyte, tmp_path):
    bot = BotProcess(slack, flowyte.url, tmp_path, SLACK_BOT_TOKEN="xoxb-not-the-right-one")
    with pytest.raises(RuntimeError, match=r"rejected SLACK_BOT_TOKEN at start \(invalid_auth\)"):
        bot.start()
    bot.stop()
    assert bot.proc.returncode == 78  # EX_CONFIG


def test_a_slack_out_of_reach_at_start_is_a_warning_and_reported(flowyte, tmp_path, slack):
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    bot = BotProcess(slack, flowyte.url, tmp_path, SLACK_API_URL=nowhere)
    bot.start()
    try:
        body = health(bot).json()
        assert body["ok"] is True
        assert body["slack"].startswith("unreachable: ")
        assert "Slack could not be reached for auth.test" in bot.output()
    finally:
        bot.stop()

"""`numbot run` with NUMBOT_LOG_FORMAT=json: every line it prints is one JSON object, uvicorn's
and bolt's included; a Slack request's lines carry its user, action and request id."""

import json

import pytest

from tests.e2e.harness import ALICE, SECRETS, BotProcess, reply

BOLT_TOKEN_WARNING = "`token` will be unused"


def test_every_line_is_json_with_the_slack_ids(slack, flowyte, tmp_path):
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_LOG_FORMAT="json")
    bot.start().wait_for_scope_check()
    try:
        _, rid = bot.command("search 415", user=ALICE)
        reply(slack, rid)
    finally:
        bot.stop()
    output = bot.output()
    entries = [json.loads(line) for line in output.splitlines()]  # fails on any other line
    assert len(entries) > 10
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
        assert entry["time"].endswith("+00:00")
    loggers = {e["logger"] for e in entries}
    assert "uvicorn.error" in loggers  # "Uvicorn running on …", "Shutting down", …
    assert any(e["message"].startswith("Uvicorn running on") for e in entries)
    assert any(name.startswith("numbot.slack") for name in loggers)  # bolt's own logger
    mine = [e for e in entries if e.get("slack_action") == "/numbers"]
    assert mine and all(e["slack_user"] == ALICE and e["request_id"] for e in mine)
    assert not any(secret in output for secret in SECRETS)
    assert BOLT_TOKEN_WARNING not in output


def test_text_logs_lose_bolts_token_warning_too(bot):
    assert "numbot listening on" in bot.output()
    assert BOLT_TOKEN_WARNING not in bot.output()


def test_a_refused_token_at_start_is_a_json_line_too(slack, flowyte, tmp_path):
    slack.fail("auth.test", "token_revoked", times=None)
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_LOG_FORMAT="json")
    with pytest.raises(RuntimeError):
        bot.start()
    bot.stop()
    assert bot.proc.returncode == 78  # EX_CONFIG
    entries = [json.loads(line) for line in bot.output().splitlines()]
    last = entries[-1]
    assert last["level"] == "CRITICAL"
    assert "Slack rejected SLACK_BOT_TOKEN at start (token_revoked)" in last["message"]

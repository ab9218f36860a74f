"""numbot leaves nothing open behind it: the shared Slack connections (bot/slack/outbound.py) are
closed at the end of each event loop that opened them, the start-up token check's included."""

from __future__ import annotations

import pytest

from tests.e2e.harness import ALICE, BotProcess, reply, texts


def test_no_session_or_connector_is_left_unclosed(slack, flowyte, tmp_path):
    bot = BotProcess(slack, flowyte.url, tmp_path).start().wait_for_scope_check()
    try:
        _, rid = bot.command("search 415", user=ALICE)  # a reply to a response_url
        assert "Reserve" in texts(reply(slack, rid))
    finally:
        bot.stop()
    output = bot.output()
    assert "numbot listening on" in output
    assert "Unclosed client session" not in output and "Unclosed connector" not in output


def test_a_refused_token_stops_numbot_without_leaving_connections_open(slack, flowyte, tmp_path):
    slack.fail("auth.test", "invalid_auth", times=None)
    bot = BotProcess(slack, flowyte.url, tmp_path)
    with pytest.raises(RuntimeError):
        bot.start()
    bot.stop()
    assert bot.proc is not None and bot.proc.returncode == 78  # EX_CONFIG
    assert "Unclosed" not in bot.output()

"""numbot run and its spend policy at start: approvers from the policy alone are enough; an
invalid policy stops the process with the message `numbot policy check` prints."""

from __future__ import annotations

import pytest

from tests.e2e.harness import BotProcess


def test_run_starts_with_approvers_named_only_by_the_policy(slack, flowyte, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('approvers = ["U0BOB"]\napprover_groups = ["S0FINANCE"]\n')
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_APPROVERS="", NUMBOT_POLICY=str(policy))
    try:
        bot.start()
        assert bot.http.get(bot.url + "/healthz").json()["ok"] is True
    finally:
        bot.stop()


def test_run_stops_on_an_invalid_policy_naming_every_bad_key(slack, flowyte, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("max_open_holds = 0\n[[quorum]]\nabove_usd = 20.0\napprovals = 2\n")
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_POLICY=str(policy))
    with pytest.raises(RuntimeError) as caught:
        bot.start()
    bot.stop()
    assert bot.proc is not None and bot.proc.returncode == 78  # EX_CONFIG
    message = str(caught.value)
    assert f"numbot: invalid policy in {policy} (2 problems):" in message
    assert "  max_open_holds: must be at least 1" in message
    assert '  quorum[0].above_usd: write amounts as strings, e.g. "25.00"' in message
    assert slack.calls() == []  # stopped before it said anything to Slack

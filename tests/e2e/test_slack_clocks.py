"""Slack's 3-second clocks, through the real process: nothing that may wait on Slack (a user
group read) stands before a modal's views.open or a view_submission's acknowledgement; and
when Slack cannot say who is in an approvers' group, people are told that, not that they are
no approver."""

from __future__ import annotations

import time

from handlers import ids
from tests.e2e.harness import ALICE, APPROVAL_CHANNEL, BotProcess, reply, texts
from tests.e2e.test_golden_path import hold_number, request_purchase

FINANCE = "S0FINANCE"
ERIN = "U0ERIN"  # an approver only through the finance group


def started(slack, flowyte, tmp_path) -> BotProcess:
    slack.set_group(FINANCE, [ERIN])
    policy = tmp_path / "policy.toml"
    policy.write_text(f'approver_groups = ["{FINANCE}"]\n')
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_POLICY=str(policy)).start()
    return bot.wait_for_scope_check()


def test_reject_opens_its_form_and_takes_its_submission_within_slack_s_clocks(
    slack, flowyte, tmp_path
):
    bot = started(slack, flowyte, tmp_path)
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        time.sleep(10.5)  # the group's members numbot read are now too old to trust
        slack.slow("usergroups.users.list", 3.5)  # and Slack takes 3.5 s to list them
        clicked = time.time()
        bot.click(ids.REJECT, request_id, user=ERIN, channel=APPROVAL_CHANNEL)
        [opened] = slack.wait_for(
            lambda c: c.method == "views.open" and c.body["view"]["callback_id"] == ids.REJECT_VIEW
        )
        assert opened.at - clicked < 1.0  # the trigger_id lives 3 s: opened before the read
        slack.wait_for("views.update", timeout=10)  # the details follow, once Slack answered
        time.sleep(10.5)  # stale again: the submit must not wait for the group either
        started_at = time.monotonic()
        response = bot.submit_view(
            ids.REJECT_VIEW,
            {ids.REASON_BLOCK: {ids.REASON_INPUT: "not now"}},
            user=ERIN,
            private_metadata=request_id,
        )
        assert response.status_code == 200 and time.monotonic() - started_at < 2.5
        rejected = slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == ALICE
                and "rejected" in texts(c.body)
            ),
            timeout=15,
        )
        assert rejected
    finally:
        bot.stop()


def test_a_failed_group_read_is_said_and_audited_as_that(slack, flowyte, tmp_path):
    bot = started(slack, flowyte, tmp_path)
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        time.sleep(10.5)
        slack.fail("usergroups.users.list", "ratelimited", times=None, status=500)
        _, rid = bot.click(ids.APPROVE, request_id, user=ERIN, channel=APPROVAL_CHANNEL)
        answer = texts(reply(slack, rid, timeout=20))
        assert "could not check your membership of <!subteam^S0FINANCE>" in answer
        assert "not one" not in answer
        codes = bot.sql("SELECT detail FROM audit WHERE action = 'approve' AND outcome = 'refused'")
        assert '"code": "membership_unknown"' in codes[-1][0]
        assert flowyte.calls("POST", "/numbers/purchase") == []
    finally:
        bot.stop()

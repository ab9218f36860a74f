"""Slack's own limits, through the real bot: a rate-limited card is still posted and recorded.

Issue 7: a 429 on `chat.postMessage` left a request without its card, and the requester was
told it would be posted "when numbot restarts".
"""

import sqlite3
import time

from tests.e2e.harness import ALICE, APPROVAL_CHANNEL, BotProcess, texts
from tests.e2e.test_golden_path import hold_number, request_purchase


def to_approvals(call) -> bool:
    return call.method == "chat.postMessage" and call.body.get("channel") == APPROVAL_CHANNEL


def card_of(bot: BotProcess, request_id: str) -> tuple[str | None, str | None]:
    with sqlite3.connect(bot.db) as db:
        return db.execute(
            "SELECT card_channel, card_ts FROM requests WHERE id = ?", (request_id,)
        ).fetchone()


def recorded_card(bot: BotProcess, request_id: str, timeout: float = 10) -> tuple[str, str]:
    """The card the request records, once it does (numbot stores it right after the post)."""
    deadline = time.monotonic() + timeout
    while (card := card_of(bot, request_id)) == (None, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    return card


def requester_dm(slack) -> str:
    [dm] = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.body.get("channel") == ALICE and c.ok
    )
    return texts(dm.body)


def test_a_rate_limited_card_is_posted_after_retry_after_and_recorded(
    bot: BotProcess, slack, flowyte
):
    _, request_id = hold_number(bot, slack)
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=1, when=to_approvals)
    request_purchase(bot, slack, request_id)  # returns the first post: the 429

    limited, posted = slack.wait_for(lambda c: to_approvals(c), timeout=15, count=2)
    assert (limited.status, posted.status) == (429, 200) and posted.ok
    assert posted.at - limited.at >= 0.9  # Slack's Retry-After: 1 was honoured
    assert "An approver will decide" in requester_dm(slack)  # told after the card is stored
    assert card_of(bot, request_id) == (APPROVAL_CHANNEL, posted.response["ts"])
    # 429, the card (which calls on the approvers), the requester's DM: nothing else
    assert len(slack.calls("chat.postMessage")) == 3


def test_a_card_slack_refuses_for_long_is_posted_by_the_sweep(slack, flowyte, tmp_path):
    # A short sweep and quiet window, so the sweep's repair shows within seconds.
    bot = BotProcess(
        slack, flowyte.url, tmp_path, NUMBOT_SWEEP_SECONDS="0.5", NUMBOT_FLOWYTE_TIMEOUT="1"
    ).start()
    try:
        _, request_id = hold_number(bot, slack)
        # Slack asks for longer than numbot waits inside a click: the call fails at once.
        slack.fail(
            "chat.postMessage", "ratelimited", status=429, retry_after=600, when=to_approvals
        )
        request_purchase(bot, slack, request_id)
        told = requester_dm(slack)
        assert "keeps trying" in told and "restart" not in told  # no card was posted

        limited, posted = slack.wait_for(lambda c: to_approvals(c), timeout=20, count=2)
        assert (limited.status, posted.status) == (429, 200)
        assert recorded_card(bot, request_id) == (APPROVAL_CHANNEL, posted.response["ts"])
    finally:
        bot.stop()

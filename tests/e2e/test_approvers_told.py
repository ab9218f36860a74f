"""Issue 8 through the real process: approvers are told and reminded, every copy of a card
follows the decision, the card tells the truth while money moves, and rejecting asks why."""

import sqlite3
import time

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    CAROL,
    BotProcess,
    find_element,
    reply,
    texts,
)
from tests.e2e.test_golden_path import hold_number, request_purchase


def dms_to(slack, user, containing=""):
    return [
        c
        for c in slack.calls("chat.postMessage")
        if c.body.get("channel") == user and containing in texts(c.body)
    ]


def pending(bot, slack):
    e164, request_id = hold_number(bot, slack)
    card = request_purchase(bot, slack, request_id)
    return e164, request_id, card


def test_by_default_approvers_are_called_on_the_card_and_sent_nothing_else(bot, slack, flowyte):
    """NUMBOT_NOTIFY=channel: one post, however many approvers; each hears once."""
    _e164, request_id, card = pending(bot, slack)
    assert f"<@{BOB}>" in texts(card.body) and f"<@{CAROL}>" in texts(card.body)
    assert f"<@{ALICE}> asks" in texts(card.body)  # the requester is named, not called on
    assert (
        "Approvers:* <@" in texts(card.body)
        and f"<@{ALICE}>" not in texts(card.body).split("Approvers:*")[1]
    )
    time.sleep(0.5)
    assert not dms_to(slack, BOB) and not dms_to(slack, CAROL)
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Bought" in texts(reply(slack, rid))


def test_with_dm_each_approver_gets_a_copy_and_every_copy_follows_the_decision(
    slack, flowyte, tmp_path
):
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_NOTIFY="dm").start()
    try:
        e164, request_id, card = pending(bot, slack)
        body = card.body
        assert f"<@{BOB}>" not in texts(body) and f"<@{CAROL}>" not in texts(body)  # DMed instead
        assert body["text"].startswith(f"<@{ALICE}> asks to buy {e164} for $2.15")
        for approver in (BOB, CAROL):
            [copy] = slack.wait_for(
                lambda c, a=approver: (
                    c.method == "chat.postMessage"
                    and c.body.get("channel") == a
                    and e164 in texts(c.body)
                )
            )
            assert find_element(copy.body, ids.APPROVE)["value"] == request_id
        assert not dms_to(slack, ALICE, "asks to buy")  # the requester is never asked
        [bob_copy] = dms_to(slack, BOB, "asks to buy")
        dm_channel = bob_copy.response["channel"]
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=dm_channel)  # from his DM
        assert "Bought" in texts(reply(slack, rid))
        assert len(flowyte.calls("POST", "/numbers/purchase")) == 1
        updated = slack.wait_for(
            lambda c: c.method == "chat.update" and "purchased" in texts(c.body), count=3
        )
        assert {c.body["channel"] for c in updated} >= {APPROVAL_CHANNEL, dm_channel}
        # The copy Bob clicked on is redrawn first: he is looking at it.
        assert updated[0].body["channel"] == dm_channel
        for c in updated:
            assert not [b for b in c.body["blocks"] if b["type"] == "actions"]  # no buttons left
    finally:
        bot.stop()


def test_with_both_groups_are_called_on_the_card_and_named_approvers_get_a_copy(
    slack, flowyte, tmp_path
):
    """Nobody is both mentioned and sent a copy: the group's members hear of it through the
    group's mention, the named approver who is in no group through a copy."""
    slack.set_group("S0FINANCE", [CAROL, "U0DAVE"])
    policy = tmp_path / "policy.toml"
    policy.write_text('approver_groups = ["S0FINANCE"]\n')
    bot = BotProcess(
        slack,
        flowyte.url,
        tmp_path,
        NUMBOT_NOTIFY="both",
        NUMBOT_APPROVERS=f"{ALICE},{BOB}",
        NUMBOT_POLICY=str(policy),
    ).start()
    try:
        bot.wait_for_scope_check()
        e164, _request_id, card = pending(bot, slack)
        assert "<!subteam^S0FINANCE>" in texts(card.body) and f"<@{BOB}>" not in texts(card.body)
        slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == BOB
                and e164 in texts(c.body)
            )
        )
        time.sleep(0.5)
        assert not dms_to(slack, CAROL) and not dms_to(slack, "U0DAVE")
    finally:
        bot.stop()


def test_the_card_says_who_approved_before_any_flowyte_call_and_the_thread_tells_the_story(
    bot, slack, flowyte
):
    _e164, request_id, card = pending(bot, slack)
    flowyte.add_fault("GET", r"/numbers/available/", times=1, delay_s=5)  # a slow price check
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    [buying] = slack.wait_for(
        lambda c: (
            c.method == "chat.update"
            and c.body.get("channel") == APPROVAL_CHANNEL
            and "buying now" in texts(c.body)
        )
    )
    assert f"<@{BOB}>" in texts(buying.body)
    assert not [b for b in buying.body["blocks"] if b["type"] == "actions"]
    assert flowyte.calls("POST", "/numbers/purchase") == []  # still checking the price
    assert "Bought" in texts(reply(slack, rid, timeout=15))
    card_ts = card.response["ts"]
    story = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.body.get("thread_ts") == card_ts, count=2
    )
    told = " ".join(texts(c.body) for c in story)
    assert "Approved by" in told and "Bought for $2.15" in told


def test_reject_asks_why_and_everyone_sees_the_reason(bot, slack, flowyte):
    _e164, request_id, _ = pending(bot, slack)
    _, _rid = bot.click(ids.REJECT, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    opened = slack.wait_for(
        lambda c: c.method == "views.open" and c.body["view"]["callback_id"] == ids.REJECT_VIEW
    )
    view = opened[0].body["view"]
    assert view["callback_id"] == ids.REJECT_VIEW and view["private_metadata"] == request_id
    assert status_of(bot, request_id) == "pending"  # one tap decides nothing
    response = bot.submit_view(
        ids.REJECT_VIEW,
        {ids.REASON_BLOCK: {ids.REASON_INPUT: "*not* this quarter"}},
        user=BOB,
        private_metadata=request_id,
    )
    assert response.status_code == 200
    rejected = slack.wait_for(
        lambda c: c.method == "chat.update" and "Rejected by" in texts(c.body)
    )
    assert "*not* this quarter" in texts(rejected[0].body)  # shown as typed, in plain text
    slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == ALICE
            and "not* this quarter" in texts(c.body)
        )
    )
    assert status_of(bot, request_id) == "rejected"
    assert flowyte.calls("POST", "/numbers/purchase") == []
    # A second reject, after the first: refused in the modal itself, before it closes.
    late = bot.submit_view(
        ids.REJECT_VIEW,
        {ids.REASON_BLOCK: {ids.REASON_INPUT: ""}},
        user=CAROL,
        private_metadata=request_id,
    )
    assert late.json()["response_action"] == "errors"


def test_a_release_card_speaks_of_release_and_its_approve_is_dangerous(bot, slack, flowyte):
    _, rid = bot.command("import +14155550999", user=ALICE)
    reply(slack, rid)
    _, rid = bot.command("release +14155550999 not needed", user=ALICE)
    answer = texts(reply(slack, rid))
    assert "Release of +14155550999 requested" in answer and "Purchase" not in answer
    [card] = slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == APPROVAL_CHANNEL
            and "release" in texts(c.body)
        )
    )
    approve = find_element(card.body, ids.APPROVE)
    assert approve["style"] == "danger" and approve["confirm"]["style"] == "danger"
    assert "cannot be undone" in approve["confirm"]["text"]["text"]
    assert "asks to release +14155550999" in card.body["text"]


def test_approvers_and_requester_are_reminded_once_where_they_already_have_it(
    slack, flowyte, tmp_path
):
    """By default, a reply in the card's thread calls on the approvers again; with copies
    (NUMBOT_NOTIFY=dm) a reply under each copy. Never a second copy to act on; once, however
    many processes sweep; the notification text says it is a reminder, and by when."""
    flowyte.advance(-21 * 60)  # holds Flowyte grants now lapse in 9 minutes: under the 10
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_SWEEP_SECONDS="0.3").start()
    second = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_SWEEP_SECONDS="0.3").start()
    try:
        _e164, _request_id, card = pending(bot, slack)
        [thread] = slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("thread_ts") == card.response["ts"]
                and "Reminder" in texts(c.body)
            ),
            timeout=10,
        )
        assert f"<@{BOB}>" in texts(thread.body) and f"<@{CAROL}>" in texts(thread.body)
        assert (
            thread.body["text"].startswith("Reminder: decide on ") and " UTC" in thread.body["text"]
        )
        assert not [b for b in thread.body["blocks"] if b["type"] == "actions"]
        slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == ALICE
                and "approvers were reminded" in texts(c.body)
            )
        )
        time.sleep(1.5)  # several sweeps of both processes pass
        reminders = [c for c in slack.calls("chat.postMessage") if "Reminder" in texts(c.body)]
        assert len(reminders) == 1  # once, for both processes
        assert not dms_to(slack, BOB) and not dms_to(slack, CAROL)
    finally:
        second.stop()
        bot.stop()


def test_with_copies_a_reminder_is_a_reply_under_each_copy(slack, flowyte, tmp_path):
    flowyte.advance(-21 * 60)
    bot = BotProcess(
        slack, flowyte.url, tmp_path, NUMBOT_SWEEP_SECONDS="0.3", NUMBOT_NOTIFY="dm"
    ).start()
    try:
        _e164, _request_id, _card = pending(bot, slack)
        for approver in (BOB, CAROL):
            [copy] = slack.wait_for(
                lambda c, a=approver: (
                    c.method == "chat.postMessage"
                    and c.body.get("channel") == a
                    and "asks to buy" in texts(c.body)
                )
            )
            [under] = slack.wait_for(
                lambda c, a=approver, ts=copy.response["ts"]: (
                    c.method == "chat.postMessage"
                    and c.body.get("thread_ts") == ts
                    and "Reminder" in texts(c.body)
                ),
                timeout=10,
            )
            assert f"<@{approver}>" not in texts(under.body)
            assert not [b for b in under.body["blocks"] if b["type"] == "actions"]
        time.sleep(1)
        assert len(dms_to(slack, BOB, "asks to buy")) == 1  # no second copy
    finally:
        bot.stop()


def status_of(bot, request_id):
    with sqlite3.connect(bot.db) as db:
        return db.execute("SELECT status FROM requests WHERE id = ?", [request_id]).fetchone()[0]

"""Issue 9 through the real process: quorum by amount, cap, monthly budget (pending counted,
racing approvals), hold limit, and approver groups read from Slack at click time."""

from __future__ import annotations

import sqlite3
import threading
import time

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    CAROL,
    BotProcess,
    calls_made,
    find_element,
    reply,
    texts,
)
from tests.e2e.test_golden_path import hold_number, request_purchase


def started(slack, flowyte, tmp_path, policy: str, **env) -> BotProcess:
    path = tmp_path / "policy.toml"
    path.write_text(policy)
    return BotProcess(slack, flowyte.url, tmp_path, NUMBOT_POLICY=str(path), **env).start()


def status_of(bot, request_id):
    with sqlite3.connect(bot.db) as db:
        return db.execute("SELECT status FROM requests WHERE id = ?", [request_id]).fetchone()[0]


def audit_details(bot, action):
    with sqlite3.connect(bot.db) as db:
        return db.execute(
            "SELECT actor, outcome, detail FROM audit WHERE action = ? ORDER BY seq", [action]
        ).fetchall()


def test_two_distinct_approvers_above_the_tier_and_a_repeated_click_counts_once(
    slack, flowyte, tmp_path
):
    bot = started(slack, flowyte, tmp_path, '[[quorum]]\nabove_usd = "2.00"\napprovals = 2\n')
    try:
        _, request_id = hold_number(bot, slack)
        card = request_purchase(bot, slack, request_id)
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "counted: 1 of 2" in texts(reply(slack, rid))
        slack.wait_for(
            lambda c: (
                c.method == "chat.update"
                and c.body["channel"] == APPROVAL_CHANNEL
                and "1 of 2" in texts(c.body)
            )
        )
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "already counted" in texts(reply(slack, rid))
        assert flowyte.calls("POST", "/numbers/purchase") == []
        assert status_of(bot, request_id) == "pending"
        _, rid = bot.click(ids.APPROVE, request_id, user=CAROL, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid))
        assert len(flowyte.calls("POST", "/numbers/purchase")) == 1
        story = slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage" and c.body.get("thread_ts") == card.response["ts"]
            ),
            count=3,
        )
        assert "1 of 2" in texts(story[0].body)
        approvals = [d for d in audit_details(bot, "approve") if d[1] == "ok"]
        assert [a[0] for a in approvals] == [BOB, CAROL]
        assert all('"policy":' in a[2] for a in approvals)
    finally:
        bot.stop()


def test_a_purchase_over_the_cap_is_refused_before_any_card(slack, flowyte, tmp_path):
    bot = started(slack, flowyte, tmp_path, 'max_purchase_usd = "2.00"\n')
    try:
        _, request_id = hold_number(bot, slack)
        bot.click(ids.REQUEST_PURCHASE, request_id, user=ALICE)
        slack.wait_for("views.open")
        bot.submit_reason(request_id, "support line", user=ALICE)
        [dm] = slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == ALICE
                and "cap" in texts(c.body)
            )
        )
        assert "$2.15 is over the $2.00 cap" in texts(dm.body)
        assert not [
            c for c in slack.calls("chat.postMessage") if c.body.get("channel") == APPROVAL_CHANNEL
        ]
        assert status_of(bot, request_id) == "held"
    finally:
        bot.stop()


def test_the_budget_counts_pending_requests_and_holds_when_two_approvals_race(
    slack, flowyte, tmp_path
):
    bot = started(slack, flowyte, tmp_path, 'monthly_budget_usd = "4.00"\n')
    try:
        _, first = hold_number(bot, slack)
        card = request_purchase(bot, slack, first)
        assert "This month: $0.00 of $4.00" in texts(card.body)
        _, second = hold_number(bot, slack)  # the next number: $2.15 more would be $4.30
        bot.click(ids.REQUEST_PURCHASE, second, user=ALICE)
        bot.submit_reason(second, "second line", user=ALICE)
        slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == ALICE
                and "$0.00 spent + $2.15 pending of $4.00" in texts(c.body)
            )
        )
    finally:
        bot.stop()


def test_two_last_approvals_racing_for_the_same_budget_buy_once(slack, flowyte, tmp_path):
    # Both requested under a roomier budget; then the budget shrinks (a restart with a new
    # policy) and both are approved at once: only one fits.
    loose = started(slack, flowyte, tmp_path, 'monthly_budget_usd = "10.00"\n')
    try:
        _, a = hold_number(loose, slack)
        request_purchase(loose, slack, a)
        _, b = hold_number(loose, slack)
        request_purchase(loose, slack, b)
    finally:
        loose.stop()
    bot = started(slack, flowyte, tmp_path, 'monthly_budget_usd = "4.00"\n')
    second = BotProcess(
        slack, flowyte.url, tmp_path, NUMBOT_POLICY=str(tmp_path / "policy.toml")
    ).start()
    try:
        rids, barrier = [], threading.Barrier(2)

        def click(process, request_id, user):
            barrier.wait()
            rids.append(
                process.click(ids.APPROVE, request_id, user=user, channel=APPROVAL_CHANNEL)[1]
            )

        threads = [
            threading.Thread(target=click, args=(bot, a, BOB)),
            threading.Thread(target=click, args=(second, b, CAROL)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        answers = [texts(reply(slack, rid, timeout=15)) for rid in rids]
        assert sum("Bought" in x for x in answers) == 1
        assert sum("over the budget" in x for x in answers) == 1
        assert len(flowyte.calls("POST", "/numbers/purchase")) == 1
        assert str(flowyte.sandbox.balance) == "22.85"
    finally:
        second.stop()
        bot.stop()


def test_the_hold_limit_names_what_you_hold(slack, flowyte, tmp_path):
    bot = started(slack, flowyte, tmp_path, "max_open_holds = 1\n")
    try:
        e164, _ = hold_number(bot, slack)
        _, rid = bot.command("search 212", user=ALICE)
        other = find_element(reply(slack, rid), ids.RESERVE)["value"]
        _, rid = bot.click(ids.RESERVE, other, user=ALICE)
        answer = texts(reply(slack, rid))
        assert "You already hold 1 number" in answer and e164 in answer
        assert len(calls_made(flowyte, "POST", "/numbers/reserve")) == 1  # Flowyte not asked
    finally:
        bot.stop()


def test_removing_someone_from_the_approver_group_takes_effect_without_slack_s_event(
    slack, flowyte, tmp_path
):
    slack.set_group("S0FINANCE", [BOB, CAROL])
    bot = started(
        slack,
        flowyte,
        tmp_path,
        'approver_groups = ["S0FINANCE"]\n',
        NUMBOT_APPROVERS="",
        NUMBOT_USERGROUP_REFRESH_SECONDS="1",  # no event from Slack here: the reads see it
    )
    try:
        _, request_id = hold_number(bot, slack)
        card = request_purchase(bot, slack, request_id)
        assert "<!subteam^S0FINANCE>" in texts(card.body)  # the card calls on the group
        slack.set_group("S0FINANCE", [CAROL])  # Bob leaves finance after the card was posted
        time.sleep(3.5)  # the background read (every 1 s here) has seen it
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "not one" in texts(reply(slack, rid))
        assert flowyte.calls("POST", "/numbers/purchase") == []
        _, rid = bot.click(ids.APPROVE, request_id, user=CAROL, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid))
    finally:
        bot.stop()


def test_taking_someone_off_the_policy_s_approvers_applies_without_a_restart(
    slack, flowyte, tmp_path
):
    bot = started(
        slack, flowyte, tmp_path, f'approvers = ["{BOB}", "{CAROL}"]\n', NUMBOT_APPROVERS=""
    )
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        (tmp_path / "policy.toml").write_text(f'approvers = ["{CAROL}"]\n')
        time.sleep(1.2)  # numbot looks at the file at most once a second
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "not one" in texts(reply(slack, rid))
        assert "policy reloaded" in bot.output()
        _, rid = bot.click(ids.APPROVE, request_id, user=CAROL, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid))
    finally:
        bot.stop()

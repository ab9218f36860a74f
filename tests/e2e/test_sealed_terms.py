"""Spend authority comes from the sealed record, through the real process, on both engines.

Each test is an attack by someone who can write the database but does not hold the audit
key, or an operator changing the policy while a request waits. numbot must spend nothing,
say nothing untrue, and raise the integrity alarm where the database was edited."""

from __future__ import annotations

import json
import threading
import time

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    CAROL,
    BotProcess,
    both_engines,
    reply,
    texts,
    wait_until,
)
from tests.e2e.test_golden_path import hold_number, request_purchase, run_cli


def started(slack, flowyte, tmp_path, policy: str = "", **env) -> BotProcess:
    path = tmp_path / "policy.toml"
    path.write_text(policy)
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_POLICY=str(path), **env).start()
    return bot.wait_for_scope_check()


def edit_policy(tmp_path, text: str) -> None:
    """Change the policy file; numbot looks at it at most once a second (PolicySource)."""
    (tmp_path / "policy.toml").write_text(text)
    time.sleep(1.2)


def alarm_for(slack, request_id, timeout=10):
    """The integrity alarm in the approval channel that names `request_id`."""
    [call] = slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == APPROVAL_CHANNEL
            and "will not carry out request" in texts(c.body)
            and request_id in texts(c.body)
        ),
        timeout=timeout,
    )
    return texts(call.body)


def alarms(bot, request_id) -> int:
    return bot.value(
        "SELECT count(*) FROM audit WHERE action = 'integrity_alarm' AND subject = ?", [request_id]
    )


def assert_nothing_bought(bot, flowyte):
    assert flowyte.calls("POST", "/numbers/purchase") == []
    assert str(flowyte.sandbox.balance) == "25.00"


def assert_log_intact(bot):
    verify = run_cli(bot, "audit", "verify")
    assert verify.returncode == 0, verify.stderr  # the attack edited rows, not the sealed log


@both_engines
def test_a_quorum_edited_away_in_the_database_buys_nothing(slack, flowyte, tmp_path):
    bot = started(slack, flowyte, tmp_path, '[[quorum]]\nabove_usd = "1.00"\napprovals = 2\n')
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        assert bot.value("SELECT approvals_needed FROM requests WHERE id = ?", [request_id]) == 2
        bot.sql("UPDATE requests SET approvals_needed = 1 WHERE id = ?", [request_id])
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        answer = texts(reply(slack, rid))
        assert "will not carry out" in answer and "approvals needed" in answer
        assert "approvals needed" in alarm_for(slack, request_id)
        assert_nothing_bought(bot, flowyte)
        assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "pending"
        assert alarms(bot, request_id) == 1
        assert "will not be executed" in bot.output()
    finally:
        bot.stop()
    assert_log_intact(bot)


@both_engines
def test_a_price_edited_before_filing_is_never_shown_nor_approved(slack, flowyte, tmp_path):
    """The hold's price is set to $0.01 + $0.01 before the request: the sealed hold has
    Flowyte's $1.00 + $1.15, so numbot refuses to open or file the request at $0.02."""
    bot = started(slack, flowyte, tmp_path, 'max_purchase_usd = "1.00"\n')
    try:
        _, request_id = hold_number(bot, slack)
        bot.sql(
            "UPDATE requests SET setup_cost = '0.01', monthly_cost = '0.01' WHERE id = ?",
            [request_id],
        )
        bot.click(ids.REQUEST_PURCHASE, request_id, user=ALICE)
        # The form opened at once, then says why, with nothing to submit and no price.
        [form] = slack.wait_for("views.update")
        answer = json.dumps(form.body["view"])
        assert "will not carry out" in answer and "price" in answer
        assert "submit" not in form.body["view"] and "$0.02" not in answer
        assert "setup price, monthly price" in alarm_for(slack, request_id)
        # A submit forged past it files nothing either.
        bot.submit_reason(request_id, "cheap line", user=ALICE)
        wait_until(
            lambda: (
                bot.value(
                    "SELECT count(*) FROM audit WHERE action = 'request_purchase' AND subject = ?",
                    [request_id],
                )
                >= 2
            )
        )
        assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "held"
        cards = [
            c
            for c in slack.calls("chat.postMessage")
            if c.body.get("channel") == APPROVAL_CHANNEL and "asks to buy" in texts(c.body)
        ]
        assert cards == [] and "$0.02" not in " ".join(texts(c.body) for c in slack.calls())
        assert_nothing_bought(bot, flowyte)
        assert alarms(bot, request_id) == 1
    finally:
        bot.stop()
    assert_log_intact(bot)


@both_engines
def test_a_price_edited_after_filing_and_put_back_buys_nothing(slack, flowyte, tmp_path):
    """Filed at $2.15 needing 2; the row is edited to look cheap (1 needed) and then the
    price put back: the quorum sealed at filing still stands, and the edit is caught."""
    bot = started(slack, flowyte, tmp_path, '[[quorum]]\nabove_usd = "1.00"\napprovals = 2\n')
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        bot.sql(
            "UPDATE requests SET setup_cost = '0.01', monthly_cost = '0.01', "
            "approvals_needed = 1 WHERE id = ?",
            [request_id],
        )
        bot.sql(
            "UPDATE requests SET setup_cost = '1.00', monthly_cost = '1.15' WHERE id = ?",
            [request_id],
        )
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "will not carry out" in texts(reply(slack, rid))
        alarm_for(slack, request_id)
        assert_nothing_bought(bot, flowyte)
    finally:
        bot.stop()
    assert_log_intact(bot)


@both_engines
def test_a_release_re_pointed_at_another_number_releases_nothing(bot, slack, flowyte):
    for e164 in ("+14155550998", "+14155550999"):
        _, rid = bot.command(f"import {e164}", user=ALICE)
        reply(slack, rid)
    owned = {n.e164: n.id for n in flowyte.sandbox.numbers.values()}
    _, rid = bot.command("release +14155550998 not needed", user=ALICE)
    assert "requested" in texts(reply(slack, rid))
    request_id = bot.value("SELECT id FROM requests WHERE kind = 'release'")
    bot.sql("UPDATE requests SET number_id = ? WHERE id = ?", [owned["+14155550999"], request_id])
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    answer = texts(reply(slack, rid))
    assert "will not carry out" in answer and "number id" in answer
    assert "number id" in alarm_for(slack, request_id)
    assert [c for c in flowyte.calls("DELETE") if "/reserve/" not in c.path] == []
    assert set(owned.values()) <= set(flowyte.sandbox.numbers)
    assert not any("released" in texts(c.body) for c in slack.calls("chat.postMessage"))
    assert_log_intact(bot)


@both_engines
def test_a_cap_lowered_while_a_request_waits_stops_the_last_click(slack, flowyte, tmp_path):
    bot = started(slack, flowyte, tmp_path, 'max_purchase_usd = "5.00"\n')
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        edit_policy(tmp_path, 'max_purchase_usd = "1.00"\n')
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        answer = texts(reply(slack, rid))
        assert "the cap is now $1.00; this costs $2.15" in answer
        assert_nothing_bought(bot, flowyte)
        assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "pending"
        assert alarms(bot, request_id) == 0  # a policy, not tampering
        # Raised again, the same click buys.
        edit_policy(tmp_path, 'max_purchase_usd = "5.00"\n')
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid))
    finally:
        bot.stop()


@both_engines
def test_a_quorum_raised_or_an_approver_removed_while_waiting_applies_at_the_last_click(
    slack, flowyte, tmp_path
):
    """Filed needing 1 of BOB, CAROL and DAVE; the quorum is raised to 2 and BOB approves
    (counted, not bought); BOB is then removed from the approvers: CAROL's click is the
    second approval but BOB's no longer counts, so nothing is bought until DAVE approves."""
    dave = "U0DAVE"
    policy = f'approvers = ["{dave}"]\n'
    bot = started(slack, flowyte, tmp_path, policy)
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        raised = policy + '[[quorum]]\nabove_usd = "1.00"\napprovals = 2\n'
        edit_policy(tmp_path, raised)
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "counted: 1 of 2" in texts(reply(slack, rid))
        assert_nothing_bought(bot, flowyte)
        bot.stop()
        # BOB is taken off the approvers (NUMBOT_APPROVERS), the policy stays raised.
        bot = BotProcess(
            slack,
            flowyte.url,
            tmp_path,
            NUMBOT_POLICY=str(tmp_path / "policy.toml"),
            NUMBOT_APPROVERS=f"{ALICE},{CAROL}",
        ).start()
        _, rid = bot.click(ids.APPROVE, request_id, user=CAROL, channel=APPROVAL_CHANNEL)
        assert "counted: 1 of 2" in texts(reply(slack, rid))
        assert_nothing_bought(bot, flowyte)
        _, rid = bot.click(ids.APPROVE, request_id, user=dave, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid))
        approved = bot.sql(
            "SELECT detail FROM audit WHERE action = 'approve' AND state = 'approved'"
        )
        assert '"not_counted": ["U0BOB"]' in approved[0][0]
    finally:
        bot.stop()
    assert_log_intact(bot)


@both_engines
def test_five_reserves_at_once_in_two_processes_leave_one_hold(slack, flowyte, tmp_path):
    bot = started(slack, flowyte, tmp_path, "max_open_holds = 1\n")
    second = BotProcess(
        slack, flowyte.url, tmp_path, NUMBOT_POLICY=str(tmp_path / "policy.toml")
    ).start()
    try:
        _, rid = bot.command("search 415", user=ALICE)
        results = reply(slack, rid)
        numbers = [
            e["value"]
            for b in results["blocks"]
            for e in b.get("elements", []) + ([b["accessory"]] if "accessory" in b else [])
            if e.get("action_id") == ids.RESERVE
        ][:5]
        assert len(numbers) == 5
        barrier = threading.Barrier(5)
        rids = []

        def click(i):
            barrier.wait()
            _, r = (bot, second)[i % 2].click(ids.RESERVE, numbers[i], user=ALICE)
            rids.append(r)

        threads = [threading.Thread(target=click, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        answers = [texts(reply(slack, r)) for r in rids]
        assert sum("held for you" in a for a in answers) == 1, answers
        assert sum("the most one person may hold" in a for a in answers) == 4
        assert bot.value("SELECT count(*) FROM requests WHERE status = 'held'") == 1
        # Flowyte's extra holds were given back: only one is still held there.
        wait_until(
            lambda: sum(r.state == "active" for r in flowyte.sandbox.reservations.values()) == 1
        )
    finally:
        second.stop()
        bot.stop()


@both_engines
def test_purchases_filed_at_once_in_two_processes_keep_the_budget(slack, flowyte, tmp_path):
    """$5.00 a month, $2.15 a number: of three filed at once, two fit."""
    bot = started(slack, flowyte, tmp_path, 'monthly_budget_usd = "5.00"\n')
    second = BotProcess(
        slack, flowyte.url, tmp_path, NUMBOT_POLICY=str(tmp_path / "policy.toml")
    ).start()
    try:
        held = [hold_number(bot, slack, user=user) for user in (ALICE, BOB, CAROL)]
        barrier = threading.Barrier(3)
        statuses = []

        def submit(i, user):
            barrier.wait()
            statuses.append((bot, second)[i % 2].submit_reason(held[i][1], "x", user=user))

        threads = [
            threading.Thread(target=submit, args=(i, u)) for i, u in enumerate((ALICE, BOB, CAROL))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_until(
            lambda: bot.value("SELECT count(*) FROM audit WHERE action = 'request_purchase'") == 3
        )
        assert bot.value("SELECT count(*) FROM requests WHERE status = 'pending'") == 2
        refused = bot.value(
            "SELECT count(*) FROM audit WHERE action = 'request_purchase' AND outcome = 'refused'"
        )
        assert refused == 1
    finally:
        second.stop()
        bot.stop()


def test_numbot_runs_as_a_runtime_role_and_warns_when_it_owns_the_log(
    pg_roles, slack, flowyte, tmp_path
):
    """The owner migrates and grants; numbot buys as the runtime role, which PostgreSQL
    refuses any change to the audit log's guards (tests/storage/test_roles.py)."""
    owner_url, runtime_url, runtime = pg_roles
    migrated = run_cli_env(
        tmp_path, "migrate", "--grant-to", runtime, NUMBOT_DATABASE_URL=owner_url
    )
    assert migrated.returncode == 0, migrated.stderr
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_DATABASE_URL=runtime_url).start()
    try:
        bot.wait_for_scope_check()
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid))
        assert "owns the audit table" not in bot.output()
    finally:
        bot.stop()
    owner = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_DATABASE_URL=owner_url).start()
    try:
        wait_until(lambda: "owns the audit table" in owner.output())
    finally:
        owner.stop()


def run_cli_env(cwd, *args, **env):
    import os
    import subprocess
    import sys

    from tests.e2e.harness import AUDIT_KEY, REPO

    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO),
            "NUMBOT_AUDIT_KEY": AUDIT_KEY,
            **env,
        },
        timeout=60,
    )

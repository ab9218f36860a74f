"""Money is guarded by the database's state (on SQLite and on PostgreSQL): many clicks in two processes, restarts, crashes."""

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

# Short Flowyte timeout and sweep interval, so a restarted bot settles within seconds: it
# takes up a request once it has been quiet for timeout + grace + 2 s (here 1 + 1 + 2).
QUICK_RECOVERY = {"NUMBOT_FLOWYTE_TIMEOUT": "1", "NUMBOT_SWEEP_SECONDS": "0.5"}


def assert_bought_once_by_replay(bot, slack, flowyte, request_id, *, timeout):
    """A purchase whose answer was lost, settled by replaying it with the same key: the card
    and the requester say it is bought, and the wallet was charged once."""
    slack.wait_for(
        lambda c: c.method == "chat.update" and "purchased" in texts(c.body), timeout=timeout
    )
    slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == ALICE
            and "is yours" in texts(c.body)
        )
    )
    keys = [c.idempotency_key for c in flowyte.calls("POST", "/numbers/purchase")]
    assert len(keys) == 2 and len(set(keys)) == 1
    assert str(flowyte.sandbox.balance) == "22.85"  # charged once
    assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "purchased"


@both_engines
def test_twelve_approvals_in_two_processes_buy_once(bot, slack, flowyte, tmp_path):
    second = BotProcess(slack, flowyte.url, tmp_path).start()  # same database, another process
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        barrier = threading.Barrier(12)
        statuses, rids = [], []

        def click(i):
            process = bot if i % 2 else second
            barrier.wait()
            response, rid = process.click(
                ids.APPROVE, request_id, user=(BOB, CAROL)[i % 2], channel=APPROVAL_CHANNEL
            )
            statuses.append(response.status_code)
            rids.append(rid)

        threads = [threading.Thread(target=click, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * 12  # every click acknowledged
        answers = [texts(reply(slack, rid)) for rid in rids]
        assert sum("Bought" in a for a in answers) == 1
        assert sum("Already approved" in a for a in answers) == 11
        assert (
            len(flowyte.calls("POST", "/numbers/purchase")) == 1
        )  # the database, not Flowyte's idempotency, stopped them
        assert str(flowyte.sandbox.balance) == "22.85"
        approvals = bot.value(
            "SELECT count(*) FROM audit WHERE action = 'approve' AND outcome = 'ok'"
        )
        refusals = bot.value(
            "SELECT count(*) FROM audit WHERE action = 'approve' AND outcome = 'refused'"
        )
        assert (approvals, refusals) == (1, 11)
    finally:
        second.stop()


@both_engines
def test_a_restart_between_request_and_approval_loses_nothing(bot, slack, flowyte, tmp_path):
    e164, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    bot.stop()
    restarted = BotProcess(slack, flowyte.url, tmp_path).start()
    try:
        _, rid = restarted.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid))
        assert [c.json["e164"] for c in flowyte.calls("POST", "/numbers/purchase")] == [e164]
        slack.wait_for(lambda c: c.method == "chat.update" and "purchased" in texts(c.body))
    finally:
        restarted.stop()


@both_engines
def test_kill_9_during_the_purchase_call_is_reconciled_on_restart(bot, slack, flowyte, tmp_path):
    """Flowyte buys, but the bot dies before hearing so; on restart numbot finds the number."""
    _, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    flowyte.add_fault("POST", r"/numbers/purchase$", times=1, delay_s=30, after_delay_apply=True)
    bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    flowyte_bought = threading.Event()
    for _ in range(200):
        calls = flowyte.calls("POST", "/numbers/purchase")
        if calls and calls[0].handled_status is not None:
            flowyte_bought.set()
            break
        threading.Event().wait(0.05)
    assert flowyte_bought.is_set()
    bot.kill9()
    assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "purchasing"
    restarted = BotProcess(slack, flowyte.url, tmp_path, **QUICK_RECOVERY).start()
    try:
        # Settled by replaying with the same key: Flowyte answered with the first result.
        assert_bought_once_by_replay(bot, slack, flowyte, request_id, timeout=20)
    finally:
        restarted.stop()
    verify = run_cli(bot, "audit", "verify")
    assert verify.returncode == 0, verify.stderr


@both_engines
def test_a_crash_after_approval_before_purchase_completes_on_restart(bot, slack, flowyte, tmp_path):
    """The approval was committed, then the process died (here: during the price re-check)."""
    e164, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    flowyte.add_fault("GET", r"/numbers/available/", times=1, delay_s=30)
    bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    wait_until(lambda: flowyte.calls("GET", path_regex=r"/numbers/available/"))
    bot.kill9()
    # the state that crash leaves behind
    assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "approved"
    restarted = BotProcess(slack, flowyte.url, tmp_path, **QUICK_RECOVERY).start()
    try:
        slack.wait_for(
            lambda c: c.method == "chat.update" and "purchased" in texts(c.body), timeout=20
        )
        assert [c.json["e164"] for c in flowyte.calls("POST", "/numbers/purchase")] == [e164]
    finally:
        restarted.stop()


def test_an_approval_forged_in_the_database_moves_no_money(bot, slack, flowyte, tmp_path):
    """Write access to the database is not an approval: numbot checks the sealed log."""
    _, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    bot.kill9()
    bot.sql(
        "UPDATE requests SET status = 'approved', decided_by = ? WHERE id = ?", [BOB, request_id]
    )
    restarted = BotProcess(slack, flowyte.url, tmp_path, **QUICK_RECOVERY).start()
    try:
        alarm = slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == APPROVAL_CHANNEL
                and "sealed audit entry" in texts(c.body)
            ),
            timeout=20,
        )
        assert request_id in texts(alarm[0].body)
        time.sleep(2)  # several sweeps pass: still nothing bought, one alarm
        assert flowyte.calls("POST", "/numbers/purchase") == []
        assert str(flowyte.sandbox.balance) == "25.00"
        assert not any("Approved by" in texts(c.body) for c in slack.calls("chat.update"))
        alarms = bot.value(
            "SELECT count(*) FROM audit WHERE action = 'integrity_alarm' AND subject = ?",
            [request_id],
        )
        assert alarms == 1
        assert "will not be executed" in restarted.output()
    finally:
        restarted.stop()
    verify = run_cli(bot, "audit", "verify")
    assert verify.returncode == 0, verify.stderr  # the log itself was not touched


def test_a_second_process_leaves_a_purchase_in_flight_alone(bot, slack, flowyte, tmp_path):
    """Process B starts (and sweeps) while process A waits on a slow purchase: B must not settle it."""
    e164, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    flowyte.add_fault("POST", r"/numbers/purchase$", times=1, delay_s=6)  # A's call takes 6 s
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    second = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_SWEEP_SECONDS="0.2").start()
    try:
        assert "Bought" in texts(reply(slack, rid, timeout=20))
        assert [c.json["e164"] for c in flowyte.calls("POST", "/numbers/purchase")] == [e164]
        assert not any("Failed" in texts(c.body) for c in slack.calls("chat.update"))
        assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "purchased"
        assert bot.value("SELECT count(*) FROM audit WHERE action = 'resume'") == 0
    finally:
        second.stop()

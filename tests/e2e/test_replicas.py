"""Several numbot processes on one database behave as one: one sweeps at a time, and a
process killed mid-purchase is settled by another that is still running."""

import time

from handlers import ids
from tests.e2e.harness import (
    APPROVAL_CHANNEL,
    BOB,
    BotProcess,
    both_engines,
    wait_until,
)
from tests.e2e.test_golden_path import hold_number, request_purchase, run_cli
from tests.e2e.test_money_guards import QUICK_RECOVERY, assert_bought_once_by_replay


def sweeper(bot):
    rows = bot.sql("SELECT holder FROM leases WHERE name = 'sweep'")
    return rows[0][0] if rows else None


@both_engines
def test_one_process_sweeps_at_a_time_and_another_takes_over_when_it_dies(
    bot, slack, flowyte, tmp_path
):
    second = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_SWEEP_SECONDS="0.2").start()
    try:
        first_pid = str(bot.proc.pid)
        wait_until(lambda: sweeper(bot) is not None, 10)
        assert f":{first_pid}:" in sweeper(bot)  # the first to start holds the lease...
        time.sleep(3)  # ...and keeps it while it lives, however often the other looks
        assert f":{first_pid}:" in sweeper(bot)
        assert "this process runs the sweep" not in second.output()
        bot.kill9()
        wait_until(lambda: f":{second.proc.pid}:" in (sweeper(second) or ""), 15)
        wait_until(lambda: "this process runs the sweep" in second.output(), 5)
    finally:
        second.stop()
    assert sweeper(second) is None  # let go at a clean stop


@both_engines
def test_a_process_killed_mid_purchase_is_settled_by_another(bot, slack, flowyte, tmp_path):
    second = BotProcess(slack, flowyte.url, tmp_path, **QUICK_RECOVERY).start()
    try:
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        flowyte.add_fault(
            "POST", r"/numbers/purchase$", times=1, delay_s=30, after_delay_apply=True
        )
        bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        wait_until(
            lambda: any(
                c.handled_status is not None for c in flowyte.calls("POST", "/numbers/purchase")
            ),
            10,
        )
        bot.kill9()  # it dies waiting for Flowyte's answer; the other process is still up
        assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "purchasing"
        assert_bought_once_by_replay(bot, slack, flowyte, request_id, timeout=30)
    finally:
        second.stop()
    verify = run_cli(bot, "audit", "verify")
    assert verify.returncode == 0, verify.stderr

"""Graceful overload: past NUMBOT_MAX_IN_FLIGHT commands and clicks in progress, a new one is
answered "busy" in its ack, starts nothing, and everything already taken still finishes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from handlers import ids
from tests.e2e.harness import ALICE, BOB, BotProcess, reply, texts
from tests.e2e.test_metrics import scrape, value


def test_work_past_the_limit_is_answered_busy_and_nothing_taken_is_lost(slack, flowyte, tmp_path):
    flowyte.add_fault("GET", r"/numbers/search$", times=2, delay_s=3)
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_MAX_IN_FLIGHT="2").start()
    try:
        bot.wait_for_scope_check()
        flowyte.forget_calls()
        # Two slow searches fill numbot up ...
        with ThreadPoolExecutor(2) as pool:
            taken = list(pool.map(lambda n: bot.command("search 415", user=ALICE), range(2)))
        for response, _ in taken:
            assert response.status_code == 200 and "Searching" in response.text
        time.sleep(0.3)  # both are past their ack and waiting on Flowyte
        # ... so a third command is told at once, in its ack, and starts nothing.
        started = time.monotonic()
        response, rid = bot.command("search 212", user=BOB)
        assert time.monotonic() - started < 1.0
        assert response.status_code == 200 and "busy" in response.text
        # A click past the limit is acknowledged and told through its response_url.
        click, click_rid = bot.click(ids.RESERVE, "+14155550123", user=BOB)
        assert click.status_code == 200
        assert "busy" in texts(reply(slack, click_rid))
        # A click on App Home has no response_url: the person is told in their DM.
        assert bot.click_on_home(ids.RESERVE, "+14155550124", user=BOB).status_code == 200
        slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == BOB
                and "busy" in texts(c.body)
            )
        )
        samples = scrape(bot)
        assert value(samples, "numbot_busy_total") == 3
        assert value(samples, "numbot_in_flight") == 2
        # The loop's lag is measured (a timer never fires exactly on time) and reported.
        assert 0 < value(samples, "numbot_loop_lag_seconds") < 1
        # What was taken finishes: both slow searches deliver their numbers.
        for _, taken_rid in taken:
            assert "Reserve" in texts(reply(slack, taken_rid, timeout=15))
        searches = flowyte.calls("GET", "/numbers/search")
        assert len(searches) == 2  # the busy one never reached Flowyte
        assert flowyte.calls("POST", "/numbers/reserve") == []  # nor the busy click
        assert slack.responses(rid) == []  # the busy command got no later reply either
        # Room again once they finished: the next search is taken.
        response, again = bot.command("search 212", user=BOB)
        assert "Searching" in response.text and "Reserve" in texts(reply(slack, again))
    finally:
        bot.stop()

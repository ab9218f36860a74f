"""What the numbers keep costing, through the real process against the fake Flowyte seeded
with owned numbers (some idle), a low balance and usage items: /numbers wallet, idle with
Request release through the normal approval, spend, the low-wallet warning once a day on two
replicas, and `numbot report` as CSV."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

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

QUICK = {"NUMBOT_SWEEP_SECONDS": "0.3", "NUMBOT_WALLET_LOOK_MINUTES": "0.05"}


def seed(flowyte) -> list[str]:
    """30 numbers at $1.00 a month: 27 ringing a published agent, one ringing none, one an
    agent never published, one toll-free ringing none. The wallet: $9.20, auto-reload off."""
    made = flowyte.sandbox.seed_owned(27, prefix="+1646", agent_every=1)
    made += flowyte.sandbox.seed_owned(2, prefix="+1628")
    made += flowyte.sandbox.seed_owned(1, prefix="+1888")
    by_e164 = {n.e164: n for n in flowyte.sandbox.numbers.values()}
    by_e164["+16280000001"].default_agent_id = "agt_draft"  # never published
    flowyte.set_balance("9.20")
    return made


def started(slack, flowyte, tmp_path, *, first: bool = True, **env: str) -> BotProcess:
    bot = BotProcess(slack, flowyte.url, tmp_path, **{**QUICK, **env}).start()
    bot.wait_for_scope_check()
    if first:  # the index is read by the process that holds the sweep
        bot.wait_for_owned_refresh()
    return bot


def notices(slack, words: str) -> list:
    return [
        c
        for c in slack.calls("chat.postMessage")
        if c.body.get("channel") == APPROVAL_CHANNEL and words in texts(c.body)
    ]


def test_wallet_idle_and_a_release_of_an_idle_number(slack, flowyte, tmp_path):
    seed(flowyte)
    bot = started(slack, flowyte, tmp_path)
    try:
        _, rid = bot.command("wallet", user=ALICE)
        wallet = texts(reply(slack, rid))
        # $9.20 at $30.00 a month: 9.20 * 30.4375 / 30 = 9.33 days.
        assert "Wallet balance: *$9.20*: lasts about 9 days at $30.00 a month." in wallet
        assert "Auto-reload is off." in wallet and "30 numbers owned: $30.00 a month" in wallet
        assert "3 numbers reach nobody: $3.00 a month" in wallet

        _, rid = bot.command("idle", user=ALICE)
        idle = reply(slack, rid)
        text = texts(idle)
        assert "3 numbers reach nobody: $3.00 a month" in text
        assert "+16280000000* · no agent · $1.00 a month" in text
        assert "+16280000001* · agent `agt_draft` never published" in text
        assert "+18880000000* · no agent · $1.00 a month · toll-free" in text
        release = find_element(idle, ids.REQUEST_RELEASE)
        assert release["value"] == "+16280000000"

        _, rid = bot.click(ids.REQUEST_RELEASE, release["value"], user=ALICE)
        assert "Release of +16280000000 requested" in texts(reply(slack, rid))
        [card] = slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == APPROVAL_CHANNEL
                and "asks to release +16280000000" in texts(c.body)
            )
        )
        request_id = find_element(card.body, ids.APPROVE)["value"]
        _, rid = bot.click(ids.APPROVE, request_id, user=ALICE, channel=APPROVAL_CHANNEL)
        # Four eyes, as for any release.
        assert "someone else must approve it" in texts(reply(slack, rid))
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "Released" in texts(reply(slack, rid, timeout=15))
        assert "+16280000000" not in {n.e164 for n in flowyte.sandbox.numbers.values()}
        _, rid = bot.command("idle", user=ALICE)
        assert "2 numbers reach nobody: $2.00 a month" in texts(reply(slack, rid))
    finally:
        bot.stop()


def test_the_low_wallet_warning_goes_once_on_two_replicas_and_says_when_it_clears(
    slack, flowyte, tmp_path
):
    seed(flowyte)
    first = started(slack, flowyte, tmp_path, NUMBOT_RUNWAY_ALERT_DAYS="14")
    second = started(slack, flowyte, tmp_path, first=False, NUMBOT_RUNWAY_ALERT_DAYS="14")
    try:
        [warning] = slack.wait_for(
            lambda c: c.method == "chat.postMessage" and "running low" in texts(c.body),
            timeout=20,
        )
        text = texts(warning.body)
        assert warning.body["channel"] == APPROVAL_CHANNEL
        assert "$9.20 pays for about 9 days of the numbers' $30.00 a month" in text
        assert "Top up in the Flowyte dashboard" in text
        time.sleep(8)  # both replicas look every 3 s meanwhile: the same day, no second one
        assert len(notices(slack, "running low")) == 1
        assert first.value("SELECT count(*) FROM audit WHERE action = 'wallet_low'") == 1

        flowyte.set_balance("500.00")  # topped up
        slack.wait_for(
            lambda c: c.method == "chat.postMessage" and "no longer running low" in texts(c.body),
            timeout=20,
        )
        time.sleep(4)
        assert len(notices(slack, "no longer running low")) == 1
        assert first.value("SELECT count(*) FROM audit WHERE action = 'wallet_ok'") == 1
    finally:
        first.stop()
        second.stop()


def test_spend_and_the_month_report_for_finance(slack, flowyte, tmp_path):
    flowyte.set_balance("100.00")
    flowyte.sandbox.charge(
        "number", Decimal(3), Decimal("300"), "rental", datetime(2026, 10, 2, tzinfo=UTC)
    )
    bot = started(slack, flowyte, tmp_path)
    try:
        e164, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid, timeout=15))
        _, rid = bot.command("spend", user=ALICE)
        spend = texts(reply(slack, rid, timeout=15))
        this_month = datetime.now(UTC).strftime("%Y-%m")
        assert f"*{this_month}*" in spend and "numbot bought 1 ($" in spend
        assert f"Top requesters: <@{ALICE}>" in spend
    finally:
        bot.stop()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--month", this_month],
        cwd=tmp_path,
        env=bot.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    [bought] = [r for r in rows if r["kind"] == "purchase"]
    assert bought["number"] == e164 and bought["requester"] == ALICE
    assert bought["request_id"] == request_id
    total = Decimal(bought["total_usd"])
    assert total == Decimal(bought["setup_usd"]) + Decimal(bought["first_month_usd"])
    [charged] = [r for r in rows if r["kind"] == "flowyte_number_charges"]
    assert Decimal(charged["total_usd"]) == total  # Flowyte charged what numbot sealed
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--month", "2026-13"],
        cwd=tmp_path,
        env=bot.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr


def test_spend_answers_from_what_is_stored_while_flowyte_s_usage_is_slow(slack, flowyte, tmp_path):
    """The command never pages Flowyte's usage itself: the process that holds the sweep reads
    it in the background; meanwhile the command answers at once, "not read yet", never $0."""
    this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=2)
    flowyte.sandbox.charge("number", Decimal(3), Decimal("300"), "rental", last_month)
    flowyte.add_fault("GET", r"/billing/usage/items$", delay_s=5)  # every page, 5 s
    bot = started(slack, flowyte, tmp_path)
    try:
        began = time.monotonic()
        _, rid = bot.command("spend", user=ALICE)
        text = texts(reply(slack, rid, timeout=15))
        assert time.monotonic() - began < 3.5  # not the 5 s of a page of usage
        assert text.count("Flowyte's charges: not read yet") == 6
        assert "Flowyte charged" not in text

        deadline = time.monotonic() + 30
        while bot.value("SELECT count(*) FROM usage_months") < 6:
            assert time.monotonic() < deadline, "the background read never ended"
            time.sleep(0.2)
        reads = len(flowyte.calls("GET", "/billing/usage/items"))
        assert reads == 6  # one read a month, however many commands asked meanwhile
        began = time.monotonic()
        _, rid = bot.command("spend", user=ALICE)
        text = texts(reply(slack, rid, timeout=15))
        assert time.monotonic() - began < 2.0
        assert "Flowyte charged $3.00 for numbers" in text
        assert "Flowyte charged $0.00 for numbers (as of <!date^" in text  # this month
        assert len(flowyte.calls("GET", "/billing/usage/items")) == reads  # nothing re-read
    finally:
        bot.stop()


def test_the_card_keeps_its_bill_when_a_first_approval_redraws_it(slack, flowyte, tmp_path):
    seed(flowyte)
    policy = tmp_path / "policy.toml"
    policy.write_text('[[quorum]]\nabove_usd = "0"\napprovals = 2\n')
    bot = started(slack, flowyte, tmp_path, NUMBOT_POLICY=str(policy))
    try:
        _, request_id = hold_number(bot, slack)
        card = texts(request_purchase(bot, slack, request_id).body)
        [bill] = [
            line for line in card.splitlines() if line.startswith("*Bill:* numbers: $30.00 →")
        ]
        assert "the wallet then lasts about" in bill
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "counted: 1 of 2" in texts(reply(slack, rid))
        [redrawn] = slack.wait_for(
            lambda c: (
                c.method == "chat.update"
                and c.body["channel"] == APPROVAL_CHANNEL
                and "1 of 2" in texts(c.body)
            )
        )
        assert bill in texts(redrawn.body).splitlines()
        _, rid = bot.click(ids.APPROVE, request_id, user=CAROL, channel=APPROVAL_CHANNEL)
        assert "Bought" in texts(reply(slack, rid, timeout=15))
    finally:
        bot.stop()


def test_idle_pages_with_previous_and_next(slack, flowyte, tmp_path):
    flowyte.sandbox.seed_owned(45, prefix="+1628")  # routed to no agent
    bot = started(slack, flowyte, tmp_path)
    try:
        _, rid = bot.command("idle", user=ALICE)
        first = reply(slack, rid)
        assert "45 numbers reach nobody" in texts(first)
        assert "Page 1 of 3: numbers 1–20 of 45" in texts(first)
        following = find_element(first, ids.IDLE_NEXT)
        _, rid = bot.click(ids.IDLE_NEXT, following["value"], user=ALICE)
        second = reply(slack, rid)
        assert "Page 2 of 3: numbers 21–40 of 45" in texts(second)
        assert "+16280000020*" in texts(second) and "+16280000019*" not in texts(second)
        _, rid = bot.click(ids.IDLE_NEXT, "99", user=ALICE)  # past the end: the last page
        assert "Page 3 of 3: numbers 41–45 of 45" in texts(reply(slack, rid))
    finally:
        bot.stop()

"""How long the last Approve click waits for Slack before the purchase leaves (target: the
purchase call reaches Flowyte within 300 ms of the click, p99 over 20 runs).

    python -m tests.bench.click_to_purchase                       # SQLite, 20 runs
    python -m tests.bench.click_to_purchase --engine postgresql   # a throwaway cluster
    python -m tests.bench.click_to_purchase --runs 50 --retry-after 30
    python -m tests.bench.click_to_purchase --group-listing 3.5   # approvers from a user group

The real numbot process (tests/e2e/harness.py) against the fake Slack and Flowyte servers on
127.0.0.1: 31 approvers, a policy asking two of them for anything above $1.00, and each run a
new $2.15 purchase that one approver approves and a second approves last. Just before the
last click, Slack is told to answer the next three chat.update calls with 429 and
Retry-After (2 s by default), as it does to a busy app. Each run measures the time from the
last click's request leaving the test to the purchase call arriving at Flowyte, and prints
the runs, their percentiles, and the Slack calls one purchase made. With `--group-listing S`
the 31 approvers are a Slack user group's members instead of named ones, and Slack takes S
seconds to list the group (numbot reads it in the background, every
NUMBOT_USERGROUP_REFRESH_SECONDS).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from handlers import ids
from tests.bench.load import percentile
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    BOT_TOKEN,
    CAROL,
    DATABASE_URL_FILE,
    BotProcess,
    reply,
)
from tests.e2e.test_golden_path import hold_number, request_purchase
from tests.fakes.flowyte_server import FakeFlowyte
from tests.fakes.slack_api import FakeSlack

TARGET_MS = 300.0
APPROVERS = (ALICE, BOB, CAROL, *(f"U0APPR{i:04d}" for i in range(28)))  # 31
POLICY = '[[quorum]]\nabove_usd = "1.00"\napprovals = 2\n'
GROUP = "S0APPROVERS"


def arrival(call: object) -> float:
    """When the fake Flowyte received `call` (its `at`, ISO with milliseconds)."""
    at = str(call.at).replace("Z", "+00:00")  # type: ignore[attr-defined]
    return datetime.fromisoformat(at).timestamp()


def one_run(bot: BotProcess, slack: FakeSlack, flowyte: FakeFlowyte, retry_after: float) -> float:
    _, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    reply(slack, rid)  # counted: 1 of 2
    bought_before = len(flowyte.calls("POST", "/numbers/purchase"))
    slack.fail("chat.update", "ratelimited", times=3, status=429, retry_after=retry_after)
    clicked = time.time()
    _, rid = bot.click(ids.APPROVE, request_id, user=CAROL, channel=APPROVAL_CHANNEL)
    deadline = time.monotonic() + 30
    while len(flowyte.calls("POST", "/numbers/purchase")) == bought_before:
        if time.monotonic() > deadline:
            raise RuntimeError("the purchase never left")
        time.sleep(0.002)
    purchase = flowyte.calls("POST", "/numbers/purchase")[-1]
    reply(slack, rid, timeout=30)
    return (arrival(purchase) - clicked) * 1000


def per_person(calls: list, runs: int) -> dict[str, tuple[float, float]]:
    """Posts and updates a purchase made, by where they landed: the approval channel (its
    thread counted apart), the requester's DM, and each approver's DM."""
    counts: dict[str, list[int]] = {}
    for call in calls:
        if call.method not in ("chat.postMessage", "chat.update"):
            continue
        channel = call.body.get("channel", "")
        if channel == APPROVAL_CHANNEL:
            who = "approval channel (thread)" if call.body.get("thread_ts") else "approval channel"
        elif channel == ALICE:
            who = "the requester's DM"
        else:
            who = "each approver's DM"
        slot = counts.setdefault(who, [0, 0])
        slot[0 if call.method == "chat.postMessage" else 1] += 1
    result = {}
    for who, (posts, updates) in counts.items():
        share = runs * (len(APPROVERS) - 1) if who == "each approver's DM" else runs
        result[who] = (posts / share, updates / share)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--retry-after", type=float, default=2.0)
    parser.add_argument("--notify", choices=("channel", "dm", "both"), default="channel")
    parser.add_argument(
        "--settle", type=float, help="seconds to let background redraws finish (counts)"
    )
    parser.add_argument(
        "--group-listing",
        type=float,
        metavar="SECONDS",
        help="approvers from a user group that Slack takes this long to list",
    )
    args = parser.parse_args(argv)
    cluster = None
    with tempfile.TemporaryDirectory(prefix="numbot-click-bench-") as tmp:
        workdir = Path(tmp)
        if args.engine == "postgresql":
            from tests.pg import cluster_for_session

            cluster = cluster_for_session()
            (workdir / DATABASE_URL_FILE).write_text(cluster.create_database())
        policy = POLICY
        slack, flowyte = FakeSlack(bot_token=BOT_TOKEN), FakeFlowyte()
        who: dict[str, str] = {"NUMBOT_APPROVERS": ",".join(APPROVERS)}
        if args.group_listing is not None:
            policy = f'approver_groups = ["{GROUP}"]\n' + POLICY
            slack.set_group(GROUP, APPROVERS)
            who = {"NUMBOT_USERGROUP_REFRESH_SECONDS": "5"}
        (workdir / "policy.toml").write_text(policy)
        flowyte.sandbox.balance = Decimal(10_000)
        try:
            with slack.serve(), flowyte.serve() as url:
                bot = BotProcess(
                    slack,
                    url,
                    workdir,
                    NUMBOT_POLICY=str(workdir / "policy.toml"),
                    NUMBOT_NOTIFY=args.notify,
                    NUMBOT_LOG_LEVEL="INFO",
                    **who,
                ).start()
                try:
                    bot.wait_for_scope_check()
                    slack.reset()
                    if args.group_listing is not None:
                        slack.slow("usergroups.users.list", args.group_listing)
                    times = [
                        one_run(bot, slack, flowyte, args.retry_after) for _ in range(args.runs)
                    ]
                    time.sleep(args.settle or args.retry_after + 1)  # background redraws
                    calls = slack.calls()
                finally:
                    bot.stop()
        finally:
            if cluster is not None:
                cluster.stop()
    p50, p99 = percentile(times, 50), percentile(times, 99)
    per_run = {
        m: sum(c.method == m for c in calls) / args.runs
        for m in ("chat.postMessage", "chat.update")
    }
    source = (
        f"from a user group Slack lists in {args.group_listing:g} s"
        if args.group_listing is not None
        else "named"
    )
    print(
        f"click -> purchase call, {args.runs} runs on {args.engine}, 31 approvers ({source}), "
        f"3 x 429 Retry-After {args.retry_after:g} s:"
    )
    print("  runs (ms): " + " ".join(f"{t:.0f}" for t in times))
    print(
        f"  p50 {p50:.0f} ms · p99 {p99:.0f} ms · max {max(times):.0f} ms · mean "
        f"{statistics.mean(times):.0f} ms (target p99 <= {TARGET_MS:.0f} ms)"
    )
    print(
        f"  Slack calls per purchase (NUMBOT_NOTIFY={args.notify}): "
        f"{per_run['chat.postMessage']:.1f} posts, {per_run['chat.update']:.1f} updates"
    )
    for who, (posts, updates) in sorted(per_person(calls, args.runs).items()):
        print(f"    {who}: {posts:.1f} posts, {updates:.1f} updates")
    return 0 if p99 <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

"""Many owned numbers (issue 11): what a person waits for at 50,000 numbers, Flowyte at 300 ms
a page of 100.

    python -m tests.bench.owned_bench                          # 50,000 numbers, 0.3 s a page
    python -m tests.bench.owned_bench --numbers 5000 --page-seconds 0.1 --no-reconcile

Starts `numbot run` (the e2e harness: fake Slack and fake Flowyte on loopback, the fake's
organization seeded with `--numbers` owned numbers, every Flowyte call delayed), then
prints, against the targets:

- the first `/numbers list` and a `/numbers assign` of a number deep in Flowyte's list while
  the first background read of the list is still running (the list says it is still reading;
  the number is not in the index yet, so it is looked for in Flowyte with an early exit);
- how long that first read of the whole list takes;
- `/numbers list`, its last page, and the deep `/numbers assign` once the index is read;
- `/numbers wallet`, `/numbers idle` and `/numbers spend` at that size, the Flowyte side
  seeded with `--usage-items` usage items of channel `number` this month (one a number): the
  spend command while the background read of that usage runs, how long that read takes, and
  the command once it is over (it answers from what is stored, never paging the usage);
- a purchase left unknown that was never made: how long until "not bought" (the whole list,
  to its stated end), unless `--no-reconcile`.

Figures, not a timed test: the time from sending the command to the reply reaching the fake
Slack's response_url.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    BOT_TOKEN,
    DEFAULT_LAG_LIMIT_MS,
    BotProcess,
    reply,
    texts,
)
from tests.e2e.test_faults import pending_request, status_of
from tests.fakes.flowyte_server import FakeFlowyte
from tests.fakes.slack_api import FakeSlack

TARGET_SECONDS = 1.0


def timed(bot: BotProcess, slack: FakeSlack, text: str) -> tuple[float, str]:
    started = time.monotonic()
    _, rid = bot.command(text, user=ALICE)
    message = reply(slack, rid, timeout=120)
    return time.monotonic() - started, texts(message)


def timed_click(bot: BotProcess, slack: FakeSlack, value: str) -> tuple[float, str]:
    started = time.monotonic()
    _, rid = bot.click(ids.LIST_NEXT, value, user=ALICE)
    message = reply(slack, rid, timeout=120)
    return time.monotonic() - started, texts(message)


def show(name: str, seconds: float, target: float | None = TARGET_SECONDS, note: str = "") -> None:
    verdict = "" if target is None else ("ok" if seconds <= target else "MISSED")
    goal = "" if target is None else f"(target ≤ {target:g} s) {verdict}"
    print(f"{name:<58} {seconds:8.3f} s  {goal} {note}".rstrip())


def first_line(text: str) -> str:
    return text.splitlines()[0][:90] if text else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=50_000)
    parser.add_argument("--page-seconds", type=float, default=0.3, help="every Flowyte call")
    parser.add_argument("--usage-items", type=int, default=None, help="default: --numbers")
    parser.add_argument("--no-reconcile", action="store_true")
    args = parser.parse_args()
    pages = -(-args.numbers // 100)
    usage_items = args.numbers if args.usage_items is None else args.usage_items
    print(f"{args.numbers:,} owned numbers, {pages} pages of 100, {args.page_seconds} s a page")
    print(f"{usage_items:,} usage items of channel `number` this month")

    slack, flowyte = FakeSlack(bot_token=BOT_TOKEN), FakeFlowyte()
    seeded = flowyte.sandbox.seed_owned(args.numbers)
    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = month_start.strftime("%Y-%m")
    for _ in range(usage_items):  # each number's rental this month
        flowyte.sandbox.charge("number", Decimal(1), Decimal("115"), "rental", month_start)
    deep = seeded[-10]  # on the last page of Flowyte's list
    flowyte.set_latency(args.page_seconds)  # every Flowyte call, each page of the list too
    with (
        tempfile.TemporaryDirectory(prefix="numbot-owned-") as work,
        slack.serve(),
        flowyte.serve() as url,
    ):
        env = {
            "NUMBOT_FLOWYTE_TIMEOUT": "2",
            "NUMBOT_SWEEP_SECONDS": "0.5",
            "NUMBOT_MAX_LOOP_LAG_MS": DEFAULT_LAG_LIMIT_MS,
        }
        bot = BotProcess(slack, url, Path(work), **env)
        started = time.monotonic()
        bot.start().wait_for_scope_check()
        try:
            seconds, text = timed(bot, slack, "spend")
            said = "not read yet" if "not read yet" in text else "read"
            # It waits up to 2 s for a read it began itself (SPEND_WAIT), never for one under way.
            show("spend, while the background read of the usage runs", seconds, 2.5, said)
            seconds, text = timed(bot, slack, "list")
            show("list, first page, while the first read runs", seconds, note=first_line(text))
            seconds, text = timed(bot, slack, f"assign {deep} agt_sales")
            show("assign a deep +E.164, while the first read runs", seconds, None)
            print(f"{'':<58} -> {first_line(text)}")
            bot.wait_for_owned_refresh(timeout=pages * args.page_seconds * 3 + 60)
            show("first read of the whole list (background)", time.monotonic() - started, None)

            seconds, text = timed(bot, slack, "list")
            show("list, first page", seconds, note=first_line(text))
            last = str(-(-args.numbers // 20) - 1)
            seconds, text = timed_click(bot, slack, last)
            show(f"list, last page (page {int(last) + 1})", seconds)
            seconds, text = timed(bot, slack, f"assign {seeded[-20]} agt_sales")
            show("assign a +E.164 on Flowyte's last page", seconds, note=first_line(text))
            seconds, text = timed(bot, slack, f"unassign {seeded[-20]}")
            show("unassign it", seconds)
            # What the numbers keep costing: from the index, never a walk of Flowyte's list
            # (the wallet and the agents are one call each, at the same latency).
            for command in ("wallet", "idle"):
                seconds, text = timed(bot, slack, command)
                show(command, seconds, note=first_line(text))
            read = re.compile(rf"usage for {this_month} read: (\d+) items in ([\d.]+) s")
            deadline = time.monotonic() + usage_items / 100 * args.page_seconds * 3 + 120
            while not (found := read.search(bot.output())) and time.monotonic() < deadline:
                time.sleep(0.5)
            show(
                f"background read of this month's usage ({-(-usage_items // 100)} pages)",
                float(found.group(2)) if found else float("nan"),
                None,
                f"({found.group(1) if found else '?'} items, as the bot logged it)",
            )
            seconds, text = timed(bot, slack, "spend")
            row = text.split(f"*{this_month}*", 1)[-1].splitlines()
            show("spend, once read", seconds, note=row[1].split(" · ")[0] if len(row) > 1 else "")

            if not args.no_reconcile:
                _, request_id = pending_request(bot, slack)
                flowyte.add_fault("POST", r"/numbers/purchase$", times=1, drop=True)
                refusal = {"status": 409, "code": "reservation_expired"}
                flowyte.add_fault("POST", r"/numbers/purchase$", status=409, body=refusal)
                began = time.monotonic()
                bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
                deadline = began + pages * args.page_seconds * 4 + 120
                while status_of(bot, request_id) not in ("failed", "purchased"):
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                show(
                    "purchase never made: settled 'not bought'",
                    time.monotonic() - began,
                    None,
                    f"(status {status_of(bot, request_id)}; quiet window, then a full read)",
                )
        finally:
            bot.stop()


if __name__ == "__main__":
    main()

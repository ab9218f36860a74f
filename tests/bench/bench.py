"""Issue 4's performance targets, measured against the real bot process.

    python -m tests.bench.bench              # the full run (about 25 s of load, < 1 min)
    python -m tests.bench.bench --quick      # a smoke run
    python -m tests.bench.bench --only search --profile-bot /tmp/bot.txt   # needs py-spy
    python -m tests.bench.stacks /tmp/bot.txt                               # where CPU went

Three processes, all on 127.0.0.1:

- the fakes (`python -m tests.bench.fakes`): fake Slack and fake Flowyte on one event loop,
  apart from the load generator so its GIL never delays what the bot sends them;
- the bot (`python -m bot run` in HTTP mode, started by tests.e2e.harness.BotProcess, at
  the default log level INFO);
- this process: the async load generator (aiohttp; bodies built and signed before the
  clock starts, a connection pool as large as the burst and warmed with that many
  keep-alive connections), then the SQLite audit benchmarks once the bot and the fakes
  are stopped.

On a machine with two CPUs or more the bot gets one of its own (every thread pinned) and
the fakes and the load generator share the others (`--no-pin` to turn that off), so the
harness never steals the bot's CPU; the bot is one event loop, so one CPU is all it uses.

What is measured:
- acknowledgement: from just before a request is written to its whole response read,
  per request; percentiles are nearest-rank (p99 of 100 is the 99th fastest);
- search: `--search-rounds` bursts of `--searches` concurrent `/numbers search 415`, Flowyte
  answering after `--latency` s; round 1 is the first burst after start (cold: bolt's
  auth.test, new Flowyte connections) and is shown for information, later rounds are held
  to the targets; "delivered" is when the fake Slack recorded the last response_url POST,
  from the first request's send (both wall clock, one machine);
- approvals: `--approvals` concurrent Approve clicks, by Bob and Carol alternately, on one
  request Alice made through the real flow (search, Reserve, Request purchase, the reason
  modal); purchases are counted where Flowyte saw them;
- memory: RSS (psutil) after start, then after a warm-up and after `--memory-requests`
  more (see memory_load);
- audit: see tests/bench/audit_bench.py.

Prints a table of every measurement against its target and exits 1 if any target fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil

from handlers import ids
from tests.bench import load
from tests.bench.audit_bench import bench_appends, bench_verify
from tests.bench.neighbours import Neighbours
from tests.bench.profiling import py_spy
from tests.bench.remote import FakesProcess, RemoteFlowyte, RemoteSlack
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    CAROL,
    DEFAULT_LAG_LIMIT_MS,
    BotProcess,
    find_element,
    texts,
)
from tests.fakes.slack_requests import block_action_body, slash_command_body

MB = 1024 * 1024
PHASES = ("search", "approvals", "memory", "audit")


@dataclass
class Check:
    name: str
    measured: str
    target: str
    ok: bool | None  # None: for information only


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, measured: str, target: str = "", ok: bool | None = None) -> None:
        self.checks.append(Check(name, measured, target, ok))

    def fail(self, name: str, error: BaseException) -> None:
        self.add(name, f"error: {type(error).__name__}: {error}"[:200], "completes", False)

    @property
    def passed(self) -> bool:
        return all(c.ok is not False for c in self.checks)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def ack_summary(results: list[load.Result]) -> tuple[str, float]:
    times = [r.seconds for r in results]
    p99 = load.percentile(times, 99)
    text = (
        f"p50 {ms(load.percentile(times, 50))} / p95 {ms(load.percentile(times, 95))} / "
        f"p99 {ms(p99)} / max {ms(max(times))} ms"
    )
    return text, p99


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def filesystem_of(path: Path) -> str:
    best, fstype = "", "?"
    for part in psutil.disk_partitions(all=True):
        mount = part.mountpoint
        if str(path).startswith(mount) and len(mount) > len(best):
            best, fstype = mount, part.fstype
    return f"{fstype} ({best})"


# --------------------------------------------------------------------------- profiler


# --------------------------------------------------------------------------- the loads


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


class CpuMeter:
    """CPU seconds used by the bot, the fakes and this process (the load generator)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def snapshot(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def since(self, before: dict[str, float]) -> str:
        now = self.snapshot()
        return ", ".join(f"{name} {now[name] - before[name]:.2f}" for name in self.pids)


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of `pid` (threads made later inherit it from their creator)."""
    for thread in psutil.Process(pid).threads():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(thread.id, cpus)


async def search_round(
    args: argparse.Namespace, bot: BotProcess, slack: RemoteSlack, tag: str
) -> dict[str, Any]:
    """One burst of `--searches` signed `/numbers search 415`, and its results."""
    n, latency = args.searches, args.latency
    prefix = f"{tag}{os.getpid()}-"
    requests = [
        load.prepare(
            slash_command_body(
                "search 415", f"U0S{i:05d}", response_url=slack.response_url(f"{prefix}{i:05d}")
            ),
            f"{prefix}{i:05d}",
        )
        for i in range(n)
    ]
    meter: CpuMeter = args.meter
    auth_before = len(slack.calls("auth.test", full=False))
    gc.collect()
    async with load.session(n + 8) as client:
        if not args.cold:
            await load.warm(client, bot.url, n)
        before = meter.snapshot()
        results = await load.burst(client, bot.url + "/slack/events", requests)
        ack_cpu = meter.since(before)
    first = min(x.sent_wall for x in results)
    complete, calls = slack.wait("response_url", prefix=prefix, count=n, timeout=latency + 15)
    total_cpu = meter.since(before)
    full = slack.calls("response_url", prefix=prefix, full=True)
    arrivals = sorted(c["at"] - first for c in calls)
    return {
        "results": results,
        "bad": [x for x in results if x.status != 200 or "Searching" not in x.text],
        "complete": complete,
        "arrivals": arrivals,
        "good": sum("available" in texts(c["body"]) for c in full),
        "ack_cpu": ack_cpu,
        "total_cpu": total_cpu,
        "auth_tests": len(slack.calls("auth.test", full=False)) - auth_before,
    }


async def search_load(
    args: argparse.Namespace, bot: BotProcess, slack: RemoteSlack, flowyte: RemoteFlowyte, r: Report
) -> None:
    """Round 1 is the first burst after start (cold: bolt's auth.test, new Flowyte
    connections, first-use imports), for information; rounds 2.. are measured."""
    n, latency = args.searches, args.latency
    flowyte.set_latency(latency)
    try:
        for round_ in range(1, args.search_rounds + 1):
            measured = round_ > 1 or args.search_rounds == 1
            out = await search_round(args, bot, slack, f"srch{round_}-")
            bad, arrivals = out["bad"], out["arrivals"]
            text, p99 = ack_summary(out["results"])
            label = f"search ×{n} round {round_}{'' if measured else ' (cold start)'}"
            extra = f"; {len(bad)} bad: {bad[0].status} {bad[0].error}" if bad else ""
            if out["auth_tests"]:
                extra += f"; {out['auth_tests']} auth.test calls"
            r.add(
                f"{label}: acknowledgement",
                text + extra,
                "p99 ≤ 100 ms",
                (p99 <= 0.100 and not bad) if measured else None,
            )
            done = arrivals[-1] if arrivals else float("nan")
            r.add(
                f"{label}: results delivered",
                f"{len(arrivals)}/{n} ({out['good']} with numbers); last at {done:.3f} s "
                f"(floor {latency:.1f} s, +{(done - latency) * 1000:.0f} ms)",
                f"all within {latency + 0.5:.1f} s",
                (out["complete"] and out["good"] == n and done <= latency + 0.5)
                if measured
                else None,
            )
            r.notes.append(
                f"{label}: CPU seconds until the last ack: {out['ack_cpu']}; "
                f"until the last result: {out['total_cpu']}"
            )
            await asyncio.sleep(1.0)
    finally:
        flowyte.set_latency(0.0)


def hold_and_request(bot: BotProcess, slack: RemoteSlack, flowyte: RemoteFlowyte) -> str:
    """The real flow: search, Reserve, Request purchase, the reason modal; the request id."""
    response, rid = bot.command("search 415", user=ALICE)
    assert response.status_code == 200, response.text
    e164 = find_element(slack.reply(rid), ids.RESERVE)["value"]
    _, rid = bot.click(ids.RESERVE, e164, user=ALICE)
    hold = slack.reply(rid)
    assert "held for you" in texts(hold), texts(hold)
    request_id = str(find_element(hold, ids.REQUEST_PURCHASE)["value"])
    views = len(slack.calls("views.open", full=False))
    cards = len(slack.calls("chat.postMessage", full=False))
    bot.click(ids.REQUEST_PURCHASE, request_id, user=ALICE)
    ok, _ = slack.wait("views.open", count=views + 1, full=False)
    assert ok, "no reason modal"
    assert bot.submit_reason(request_id, "benchmark", user=ALICE).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        posted = slack.calls("chat.postMessage")[cards:]
        if any(c["body"].get("channel") == APPROVAL_CHANNEL for c in posted):
            return request_id
        time.sleep(0.05)
    raise AssertionError("no approval card was posted")


async def approval_load(
    args: argparse.Namespace, bot: BotProcess, slack: RemoteSlack, flowyte: RemoteFlowyte, r: Report
) -> None:
    n = args.approvals
    flowyte.set_latency(0.0)
    request_id = hold_and_request(bot, slack, flowyte)
    bought_before = len(flowyte.calls("POST", "/numbers/purchase"))
    prefix = f"appr{os.getpid()}-"
    requests = [
        load.prepare(
            block_action_body(
                ids.APPROVE,
                request_id,
                (BOB, CAROL)[i % 2],
                response_url=slack.response_url(f"{prefix}{i:04d}"),
                channel_id=APPROVAL_CHANNEL,
            ),
            f"{prefix}{i:04d}",
        )
        for i in range(n)
    ]
    meter: CpuMeter = args.meter
    gc.collect()
    async with load.session(n + 8) as client:
        if not args.cold:
            await load.warm(client, bot.url, n)
        before = meter.snapshot()
        results = await load.burst(client, bot.url + "/slack/events", requests)
        ack_cpu = meter.since(before)
    bad = [x for x in results if x.status != 200]
    complete, calls = slack.wait("response_url", prefix=prefix, count=n, timeout=20)
    r.notes.append(f"approve ×{n}: CPU seconds until the last ack: {ack_cpu}")
    answers = [texts(c["body"]) for c in calls]
    bought = sum("Bought" in a for a in answers)
    already = sum("Already approved" in a for a in answers)
    purchases = len(flowyte.calls("POST", "/numbers/purchase")) - bought_before
    text, p99 = ack_summary(results)
    r.add(
        f"approve ×{n} (one request): acknowledgement",
        text + (f"; {len(bad)} bad: {bad[0].status} {bad[0].error}" if bad else ""),
        "p99 ≤ 100 ms",
        p99 <= 0.100 and not bad,
    )
    r.add(
        f"approve ×{n}: purchases seen by Flowyte",
        f"{purchases} (replies: {bought} bought, {already} already approved, "
        f"{len(calls)}/{n} answered)",
        "exactly 1",
        purchases == 1 and bought == 1 and complete,
    )


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


async def memory_load(
    args: argparse.Namespace, bot: BotProcess, slack: RemoteSlack, r: Report, idle: int
) -> None:
    """`--memory-requests` signed requests after a warm-up, RSS compared.

    Mostly `/numbers help` (answered in the ack); every `--memory-wallet-every`th is
    `/numbers wallet` (a Flowyte call, an audit append and a response_url reply), so the
    paths that allocate per request are in the mix. Sent in batches of
    `--memory-concurrency`, each batch's replies awaited before the next: the bot is never
    left with a growing backlog, so RSS growth means retained memory, not queued work.
    """
    n, warmup, batch = args.memory_requests, args.memory_warmup, args.memory_concurrency
    every = args.memory_wallet_every
    pid = bot.proc.pid  # type: ignore[union-attr]
    prefix = f"mem{os.getpid()}-"

    def build(count: int, tag: str) -> list[load.Prepared]:
        out = []
        for i in range(count):
            user = f"U0M{i % 50:03d}"
            if every and i % every == every - 1:
                rid = f"{prefix}{tag}{i // batch:05d}-{i:06d}"
                body = slash_command_body("wallet", user, response_url=slack.response_url(rid))
                out.append(load.prepare(body, "wallet"))
            else:
                out.append(load.prepare(slash_command_body("help", user), "help"))
        return out

    async def run(
        client: aiohttp.ClientSession,
        http: httpx.AsyncClient,
        requests: list[load.Prepared],
        tag: str,
    ) -> tuple[list[load.Result], bool]:
        results: list[load.Result] = []
        replied = True
        for b in range(0, len(requests), batch):
            chunk = requests[b : b + batch]
            results += await load.burst(client, bot.url + "/slack/events", chunk)
            wallets = sum(req.tag == "wallet" for req in chunk)
            if wallets:
                ok, _ = await slack.async_wait(
                    http,
                    "response_url",
                    prefix=f"{prefix}{tag}{b // batch:05d}-",
                    count=wallets,
                    timeout=10,
                )
                replied = replied and ok
            if tag == "m" and (b // batch + 1) % max(1, len(requests) // batch // 10) == 0:
                samples.append((b + len(chunk), rss(pid)))
        return results, replied

    requests, warm_requests = build(n, "m"), build(warmup, "w")
    samples: list[tuple[int, int]] = []
    gc.collect()
    async with load.session(batch + 8) as client, httpx.AsyncClient(timeout=60) as http:
        await load.warm(client, bot.url, batch)
        warm_results, warm_replied = await run(client, http, warm_requests, "w")
        await asyncio.sleep(0.5)
        warm_rss = rss(pid)
        before = args.meter.snapshot()
        start = time.perf_counter()
        results, replied = await run(client, http, requests, "m")
        elapsed = time.perf_counter() - start
        cpu = args.meter.since(before)
    await asyncio.sleep(0.5)
    after = rss(pid)
    bad = [
        x
        for x in warm_results + results
        if x.status != 200 or (x.tag == "help" and "/numbers" not in x.text)
    ]
    growth = after - warm_rss
    text, _ = ack_summary(results)
    mix = f"help, every {every}th wallet" if every else "help"
    r.add(
        f"memory: {n} requests ({mix}; +{warmup} warm-up)",
        f"in batches of {batch}: {n / elapsed:.0f} req/s; {text}"
        + (f"; {len(bad)} bad: {bad[0].status} {bad[0].error}" if bad else "")
        + ("" if replied and warm_replied else "; some wallet replies missing"),
        "all answered",
        not bad and replied and warm_replied,
    )
    r.add(
        f"memory: RSS after warm-up → after {n}",
        f"{warm_rss / MB:.1f} MB → {after / MB:.1f} MB ({growth / MB:+.1f} MB)",
        f"growth ≤ {args.rss_growth_mb:g} MB",
        growth <= args.rss_growth_mb * MB,
    )
    trend = ", ".join(f"{done}: {value / MB:.1f}" for done, value in samples)
    r.notes.append(f"bot RSS (MB) during the memory load, by requests done: {trend}")
    r.notes.append(f"memory load: CPU seconds {cpu}")


def audit_loads(args: argparse.Namespace, workdir: Path, r: Report) -> None:
    if args.audit_rows:
        try:
            a = bench_appends(workdir, args.audit_rows)
            r.add(
                f"audit: {a.rows} durable appends",
                f"AuditLog.append {a.audit_rate:,.0f}/s vs raw SQLite {a.raw_rate:,.0f}/s "
                f"= ratio {a.ratio:.2f}",
                "ratio ≥ 0.50",
                a.ratio >= 0.5,
            )
        except Exception as exc:
            r.fail("audit: durable appends", exc)
    if args.verify_rows:
        try:
            v = bench_verify(workdir, args.verify_rows)
            budget = 1.5 * v.rows / 100_000
            r.add(
                f"audit: verify() over {v.rows:,} entries",
                f"{v.verify_seconds:.3f} s ({v.rows / v.verify_seconds:,.0f}/s; built in "
                f"{v.build_seconds:.2f} s; ok={v.ok}, {v.entries} entries)",
                f"≤ {budget:.2f} s",
                v.verify_seconds <= budget and v.ok and v.entries == v.rows,
            )
        except Exception as exc:
            r.fail("audit: verify", exc)


# --------------------------------------------------------------------------- the run


async def bot_loads(args: argparse.Namespace, workdir: Path, r: Report) -> None:
    fakes = FakesProcess().start()
    bot: BotProcess | None = None
    try:
        slack, flowyte = RemoteSlack(fakes.slack_url), RemoteFlowyte(fakes.flowyte_url)
        bot = BotProcess(  # type: ignore[arg-type]
            slack,
            fakes.flowyte_url,
            workdir,
            NUMBOT_LOG_LEVEL=args.log_level,
            NUMBOT_MAX_LOOP_LAG_MS=DEFAULT_LAG_LIMIT_MS,
        )
        bot.start()
        pid = bot.proc.pid  # type: ignore[union-attr]
        args.meter = CpuMeter({"bot": pid, "fakes": fakes.pid, "load generator": os.getpid()})
        cpus = sorted(os.sched_getaffinity(0))
        if args.pin and len(cpus) >= 2:
            pin(pid, {cpus[0]})
            pin(fakes.pid, set(cpus[1:]))
            pin(os.getpid(), set(cpus[1:]))
            r.notes.append(
                f"pinned: bot on CPU {cpus[0]}; fakes and load generator on CPU {cpus[1:]}"
            )
        await asyncio.sleep(args.settle)
        idle = rss(pid)
        r.add("bot RSS idle (after start)", f"{idle / MB:.1f} MB", "< 120 MB", idle < 120 * MB)
        with py_spy(pid, args.profile_bot):
            for phase, run in (
                ("search", lambda: search_load(args, bot, slack, flowyte, r)),
                ("approvals", lambda: approval_load(args, bot, slack, flowyte, r)),
                ("memory", lambda: memory_load(args, bot, slack, r, idle)),
            ):
                if phase not in args.only:
                    continue
                try:
                    await run()
                except Exception as exc:
                    r.fail(phase, exc)
                await asyncio.sleep(0.3)
        if bot.proc and bot.proc.poll() is not None:
            r.add("bot process", f"exited with {bot.proc.returncode}", "stays up", False)
    finally:
        if bot is not None:
            bot.stop()
        fakes.stop()


def header(args: argparse.Namespace, workdir: Path, now: datetime.datetime) -> list[str]:
    return [
        f"numbot benchmark (issue 4){' --quick' if args.quick else ''}",
        f"date     {now.isoformat(timespec='seconds')}",
        f"machine  {platform.machine()} · {cpu_model()} · {os.cpu_count()} CPUs · "
        f"{psutil.virtual_memory().total / 1024**3:.0f} GiB",
        f"python   {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})",
        f"workdir  {workdir} on {filesystem_of(workdir)}",
        f"loads    searches={args.searches}×{args.search_rounds} rounds "
        f"(Flowyte latency {args.latency:g} s), "
        f"approvals={args.approvals}, memory={args.memory_requests}+{args.memory_warmup} "
        f"warm-up in batches of {args.memory_concurrency}"
        f"{f' (every {args.memory_wallet_every}th wallet)' if args.memory_wallet_every else ''}"
        f", audit rows={args.audit_rows}, "
        f"verify rows={args.verify_rows}, bot log level {args.log_level}, "
        f"{'cold' if args.cold else 'warm'} connections, "
        f"{'bot pinned to its own CPU' if args.pin else 'no CPU pinning'}",
    ]


def table(checks: list[Check]) -> str:
    rows = [("check", "measured", "target", "result")]
    rows += [
        (c.name, c.measured, c.target, {True: "PASS", False: "FAIL", None: "info"}[c.ok])
        for c in checks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    widths[1] = min(widths[1], 110)
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.bench", description=__doc__)
    ap.add_argument("--searches", type=int, default=100)
    ap.add_argument("--latency", type=float, default=2.0, help="Flowyte latency for searches (s)")
    ap.add_argument(
        "--search-rounds", type=int, default=2, help="bursts; the first is cold, for information"
    )
    ap.add_argument("--approvals", type=int, default=20)
    ap.add_argument("--audit-rows", type=int, default=20_000)
    ap.add_argument("--verify-rows", type=int, default=100_000)
    ap.add_argument("--memory-requests", type=int, default=10_000)
    ap.add_argument("--memory-warmup", type=int, default=1_000)
    ap.add_argument("--memory-concurrency", type=int, default=50)
    ap.add_argument(
        "--memory-wallet-every", type=int, default=10, help="every Nth is wallet (0: none)"
    )
    ap.add_argument("--rss-growth-mb", type=float, default=4.0, help="allowed RSS growth")
    ap.add_argument("--quick", action="store_true", help="a fast smoke run")
    ap.add_argument("--only", default=",".join(PHASES), help=f"comma list of {PHASES}")
    ap.add_argument("--cold", action="store_true", help="no connection warm-up before bursts")
    ap.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not give the bot a CPU of its own (the fakes and this process share the rest)",
    )
    ap.add_argument("--log-level", default="INFO", help="the bot's NUMBOT_LOG_LEVEL")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds before idle RSS")
    ap.add_argument("--workdir", help="keep databases and the bot's log here")
    ap.add_argument(
        "--profile-bot", help="py-spy record the bot during the loads (.svg, .json or .txt)"
    )
    ap.add_argument("--deadline", type=int, default=240, help="abort after this many seconds")
    args = ap.parse_args(argv)
    if args.quick:
        args.searches = min(args.searches, 20)
        args.approvals = min(args.approvals, 6)
        args.audit_rows = min(args.audit_rows, 2_000)
        args.verify_rows = min(args.verify_rows, 10_000)
        args.memory_requests = min(args.memory_requests, 1_000)
        args.memory_warmup = min(args.memory_warmup, 200)
    args.only = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = args.only - set(PHASES)
    if unknown:
        ap.error(f"unknown phases {sorted(unknown)}; choose from {PHASES}")
    return args


def _deadline(signum: int, frame: Any) -> None:
    raise TimeoutError("the benchmark ran past its --deadline")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="numbot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    now = datetime.datetime.now(datetime.UTC).astimezone()
    report = Report()
    signal.signal(signal.SIGALRM, _deadline)
    signal.alarm(args.deadline)
    neighbours = Neighbours().start()
    try:
        if args.only & {"search", "approvals", "memory"}:
            try:
                asyncio.run(bot_loads(args, workdir, report))
            except Exception as exc:
                report.fail("bot loads", exc)
        if "audit" in args.only:
            audit_loads(args, workdir, report)
    except TimeoutError as exc:
        report.fail("deadline", exc)
    finally:
        signal.alarm(0)
        others, top = neighbours.stop()
        report.add(
            "other processes' CPU during the run",
            f"{others:.1f} CPU-s" + (f" (most: {top[0][1]} {top[0][0]:.1f} s)" if top else ""),
            "≈ 0: else timings may be distorted",
            None,
        )
    print("\n".join(header(args, workdir, now)))
    print()
    print(table(report.checks))
    print()
    for note in report.notes:
        print(note)
    verdict = "ALL TARGETS MET" if report.passed else "SOME TARGETS FAILED"
    print(f"{verdict} in {time.monotonic() - started:.0f} s")
    if not args.workdir and report.passed:
        shutil.rmtree(workdir, ignore_errors=True)
    elif not report.passed:
        print(f"kept {workdir} (the bot's log, the databases)")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Issue 11's honest benchmark: sustained and overload load on the real `numbot run` process.

    python -m tests.bench.sustained                         # every phase (about 10 minutes)
    python -m tests.bench.sustained --only knee --step-seconds 5 --max-rate 300   # a short run
    python -m tests.bench.sustained --only sustained --rate 600 --profile-bot /tmp/bot.txt
    python -m tests.bench.stacks /tmp/bot.txt --top 10       # where the bot's CPU went

Two processes: the bot (`python -m bot run` in HTTP mode, started by
tests.e2e.harness.BotProcess, log level INFO, a fresh one per phase) pinned to one CPU, and
this one on the others: the open-loop load generator (tests/bench/openloop.py) and the lean
fakes of Slack and Flowyte (tests/bench/lean.py) on one event loop, so arrivals are counted
in memory with no IPC. The harness prints its own CPU per search; it must stay far below
the bot's for the figures to be the bot's.

Phases (`--only`, comma separated):

- knee: a fresh bot, Flowyte answering searches after `--latency` s; after a `--knee-warmup`
  at the first rate (not counted: the knee is a capacity; the sustained phase counts the cold
  start), the rate stepped from `--start-rate` by `--rate-step` for `--step-seconds` each,
  until a step fails: per step
  ack p50/p99/max, delivery p99, busy answers, errors, late sends, bot CPU and RSS. The knee
  is the highest rate with ack p99 ≤ 100 ms, delivery p99 ≤ latency + 100 ms, no busy answer,
  no error and nothing lost.
- sustained: `--rate` for `--seconds` on a fresh bot, the cold start included (no warm-up,
  nothing excluded): ack p99 ≤ 100 ms and delivery p99 ≤ latency + 100 ms.
- overload: 2x the knee (or `--overload-rate`) for `--seconds` on a fresh bot: every request
  answered within 1 s (a "numbot is busy" counts), every "Searching" ack followed by its
  results, RSS ≤ 2x idle during the load and within 10% of idle `--recover-seconds` after it
  (sampled every second). Idle is measured after `--warm-searches` at 10/s and
  `--warm-settle` s of quiet (a process that has served a request, its pooled connections
  expired), and printed beside the RSS before any request.
- memory: the real flow (search, Reserve, Request purchase, the reason, Approve) by
  `--memory-workers` people at once against the full fakes (tests/bench/fakes.py: the lean
  Flowyte only searches), RSS after `--memory-warmup` cycles and after `--memory-cycles` more.
- https: the same load at `--https-rate` twice on fresh bots, response_urls and the Web API
  over plain HTTP, then over HTTPS with a self-signed certificate made at run time and
  trusted through SSL_CERT_FILE (tests/bench/tls.py): the bot's CPU per search for each.

Every time is measured from when the request was due (t0 + i/rate), so waiting for a
connection the bot has not freed counts against the bot; "late" sends (more than 10 ms
after due) are counted to show it. Delivery is the response_url arrival minus the same due
time. Percentiles are nearest-rank. Exit 1 if a target fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from handlers import ids
from tests.bench import lean, openloop, tls
from tests.bench.bench import (
    MB,
    Report,
    _deadline,
    cpu_model,
    cpu_seconds,
    pin,
    rss,
    table,
)
from tests.bench.load import percentile
from tests.bench.neighbours import Neighbours
from tests.bench.profiling import py_spy
from tests.bench.remote import FakesProcess, RemoteFlowyte, RemoteSlack
from tests.e2e.harness import (
    APPROVAL_CHANNEL,
    BOB,
    DEFAULT_LAG_LIMIT_MS,
    REPO,
    SIGNING_SECRET,
    BotProcess,
    find_element,
    texts,
)
from tests.fakes.slack_requests import (
    block_action_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)

GCWATCH = Path(__file__).resolve().parent / "gcwatch"
PHASES = ("knee", "sustained", "overload", "memory", "https")
ACK_TARGET = 0.100
DELIVERY_MARGIN = 0.100
OVERLOAD_ACK = 1.0


def ms(seconds: float) -> str:
    return "nan" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


# --------------------------------------------------------------------------- measuring


def harness_cpu() -> float:
    """CPU seconds of this process's main thread: the load generator and the lean fakes (the
    machine-watching thread of tests/bench/neighbours.py is left out; the kernel's loopback
    work for what this thread sends is in)."""
    me = os.getpid()
    for thread in psutil.Process(me).threads():
        if thread.id == me:
            return float(thread.user_time + thread.system_time)
    return cpu_seconds(me)


class Sampler:
    """The bot's RSS and CPU seconds, every `every` seconds, on the harness's loop."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int, float]] = []  # (monotonic, rss, cpu seconds)
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> tuple[float, int, float]:
        s = (time.monotonic(), rss(self.pid), cpu_seconds(self.pid))
        self.samples.append(s)
        return s

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.sample()
            await asyncio.sleep(self.every)

    def start(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def max_rss(self, since: float = 0.0) -> int:
        return max((r for t, r, _ in self.samples if t >= since), default=0)


@dataclass
class Step:
    """One load at one rate, and what came of it."""

    rate: float
    n: int
    ack: list[float]  # answered requests: answer - due
    delivery: list[float]  # accepted ones that got a reply: arrival - due
    accepted: int
    busy: int
    other: int
    errors: int
    lost: int  # accepted, no reply within the drain
    without_numbers: int  # a reply without numbers (an error message)
    duplicates: int
    late: int
    late_max: float
    bot_cpu: float  # seconds, from the first send to the last reply
    harness_cpu: float
    wall: float
    rss_max: int
    rss_end: int
    connections: int
    error_samples: list[str] = field(default_factory=list)
    by_second: list[float] = field(default_factory=list)  # ack p99 of the requests due each second
    flowyte_searches: int = 0

    @property
    def ack_p50(self) -> float:
        return percentile(self.ack, 50)

    @property
    def ack_p99(self) -> float:
        return percentile(self.ack, 99)

    @property
    def ack_max(self) -> float:
        return max(self.ack, default=math.nan)

    @property
    def delivery_p99(self) -> float:
        return percentile(self.delivery, 99)

    @property
    def delivery_max(self) -> float:
        return max(self.delivery, default=math.nan)

    def meets(self, latency: float) -> bool:
        return (
            self.ack_p99 <= ACK_TARGET
            and self.delivery_p99 <= latency + DELIVERY_MARGIN
            and not (self.busy or self.other or self.errors or self.lost or self.without_numbers)
        )

    def brief(self) -> str:
        problems = [
            f"{count} {name}"
            for count, name in (
                (self.busy, "busy"),
                (self.other, "other answers"),
                (self.errors, "errors"),
                (self.lost, "lost"),
                (self.without_numbers, "replies without numbers"),
                (self.late, f"late sends (max {ms(self.late_max)} ms)"),
                (self.duplicates, "second replies to one request"),
            )
            if count
        ]
        return (
            f"ack p50 {ms(self.ack_p50)} / p99 {ms(self.ack_p99)} / max {ms(self.ack_max)} ms; "
            f"delivery p99 {ms(self.delivery_p99)} / max {ms(self.delivery_max)} ms; "
            + (", ".join(problems) + "; " if problems else "")
            + f"bot CPU {100 * self.bot_cpu / self.wall:.0f}% "
            f"({1000 * self.bot_cpu / self.n:.2f} ms/search), RSS max {self.rss_max / MB:.0f} MB"
        )


@dataclass
class Ctx:
    args: argparse.Namespace
    workdir: Path
    report: Report
    search_body: bytes
    lines: list[str] = field(default_factory=list)  # printed before the table
    harness_cpu: list[tuple[str, float, float]] = field(default_factory=list)  # per phase
    knee: float | None = None
    tags: int = 0

    def tag(self, name: str) -> str:
        self.tags += 1
        return f"{name}{self.tags}"


@contextlib.asynccontextmanager
async def fresh_bot(
    ctx: Ctx, slack: Any, flowyte_url: str, name: str, *, wait_scopes: bool = True, **env: str
) -> AsyncIterator[BotProcess]:
    """A new `numbot run`, pinned, its start-up calls answered, idle for `--settle` s."""
    args = ctx.args
    workdir = ctx.workdir / name
    workdir.mkdir(parents=True, exist_ok=True)
    more = {"NUMBOT_LOG_LEVEL": args.log_level, **env}
    gc_log = workdir / "gc.jsonl"
    if args.gc_watch:  # tests/bench/gcwatch/sitecustomize.py times the bot's collections
        more["PYTHONPATH"] = f"{GCWATCH}{os.pathsep}{REPO}"
        more["NUMBOT_BENCH_GC_LOG"] = str(gc_log)
    if args.max_in_flight:
        more["NUMBOT_MAX_IN_FLIGHT"] = str(args.max_in_flight)
    more["NUMBOT_MAX_LOOP_LAG_MS"] = (
        DEFAULT_LAG_LIMIT_MS if args.max_loop_lag_ms is None else str(args.max_loop_lag_ms)
    )
    bot = BotProcess(slack, flowyte_url, workdir, **more)
    ready = math.inf
    try:
        await asyncio.to_thread(bot.start)
        pid = bot.proc.pid  # type: ignore[union-attr]
        cpus = sorted(os.sched_getaffinity(0))
        if args.pin and len(cpus) >= 2:
            pin(pid, {args.bot_cpu})
        if wait_scopes:
            await asyncio.to_thread(bot.wait_for_scope_check)
        await asyncio.sleep(args.settle)
        ready = time.time()
        with py_spy(pid, args.profile_bot if name == args.profile_phase else None, rate=200):
            yield bot
    finally:
        await asyncio.to_thread(bot.stop)
        if gc_log.exists():
            ctx.lines.append(
                f"{name}: the bot's garbage collections after start: {gc_summary(gc_log, ready)}"
            )


def gc_summary(path: Path, since: float) -> str:
    """The collections logged by tests/bench/gcwatch after `since` (wall clock), by generation
    (the last second before the bot stopped may be missing)."""
    stats: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for line in path.read_text().splitlines():
        at, generation, pause, _ = line.split()
        if float(at) >= since:
            stats[int(generation)].append(float(pause))
    parts = [
        f"gen{g} ×{len(p)} total {ms(sum(p))} ms, longest {ms(max(p))} ms"
        for g, p in stats.items()
        if p
    ]
    return "; ".join(parts) or "none"


async def drive(
    ctx: Ctx,
    bot: BotProcess,
    slack: lean.LeanSlack,
    flowyte: lean.LeanFlowyte,
    rate: float,
    seconds: float,
    name: str,
    sampler: Sampler,
    *,
    drain: float | None = None,
) -> Step:
    """`rate` searches a second for `seconds`, open loop; wait for the replies; measure."""
    args = ctx.args
    n = max(1, round(rate * seconds))
    tag = ctx.tag(name)
    rids = [f"{tag}-{i}" for i in range(n)]
    raw = openloop.slash_commands(
        "127.0.0.1", bot.port, SIGNING_SECRET, "search 415", slack.url, rids
    )
    gen = openloop.OpenLoop("127.0.0.1", bot.port, max_connections=args.max_connections)
    await gen.warm(max(8, math.ceil(rate * 0.03)))
    gc.collect()
    gc.freeze()  # the prepared requests and everything before: never scanned during the load
    pid = bot.proc.pid  # type: ignore[union-attr]
    bot0, me0, start = cpu_seconds(pid), harness_cpu(), time.monotonic()
    drain = args.drain if drain is None else drain
    searches0, duplicates0 = flowyte.searches, slack.arrivals.duplicates
    run = await gen.run(raw, rate, answer_timeout=drain)
    accepted = [i for i in range(n) if run.kind[i] == openloop.ACCEPTED]
    first = slack.arrivals.first
    waiting = [rids[i] for i in accepted]
    deadline = time.monotonic() + flowyte.latency + drain
    while waiting and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        waiting = [r for r in waiting if r not in first]
    arrived = [first[rids[i]] for i in accepted if rids[i] in first]
    last = max([t for t, _ in arrived] + [max(run.done)])
    bot_cpu, me = cpu_seconds(pid) - bot0, harness_cpu() - me0
    await gen.close()
    gc.unfreeze()
    late, late_max = run.late()
    answered = [run.done[i] - run.scheduled[i] for i in range(n) if run.kind[i] != openloop.ERROR]
    end = sampler.sample()
    step = Step(
        rate=rate,
        n=n,
        ack=answered,
        delivery=[first[rids[i]][0] - run.scheduled[i] for i in accepted if rids[i] in first],
        accepted=len(accepted),
        busy=run.kind.count(openloop.BUSY),
        other=run.kind.count(openloop.OTHER),
        errors=run.kind.count(openloop.ERROR),
        lost=len(waiting),
        without_numbers=sum(not numbers for _, numbers in arrived),
        duplicates=slack.arrivals.duplicates - duplicates0,
        late=late,
        late_max=late_max,
        bot_cpu=bot_cpu,
        harness_cpu=me,
        wall=max(1e-9, last - start),
        rss_max=sampler.max_rss(since=start),
        rss_end=end[1],
        connections=run.max_connections_used,
        error_samples=run.errors[:3],
        flowyte_searches=flowyte.searches - searches0,
    )
    buckets: dict[int, list[float]] = {}
    t0 = run.scheduled[0]
    for i in range(n):
        if run.kind[i] != openloop.ERROR:
            buckets.setdefault(int(run.scheduled[i] - t0), []).append(
                run.done[i] - run.scheduled[i]
            )
    step.by_second = [
        percentile(buckets.get(k, []), 99) for k in range(max(buckets, default=-1) + 1)
    ]
    if n >= 500:  # not the few requests of a check
        ctx.harness_cpu.append((f"{name} {rate:g}/s", me, n))
    return step


@contextlib.asynccontextmanager
async def lean_fakes(
    ctx: Ctx, *, https: bool = False
) -> AsyncIterator[tuple[lean.LeanSlack, lean.LeanFlowyte]]:
    context = None
    if https:
        cert, key = tls.self_signed(ctx.workdir / "tls")
        context = tls.server_context(cert, key)
    slack = await lean.LeanSlack(ssl_context=context).start()
    flowyte = await lean.LeanFlowyte(ctx.search_body, ctx.args.latency).start()
    try:
        yield slack, flowyte
    finally:
        if flowyte.unexpected:
            ctx.lines.append(
                f"lean Flowyte: unexpected calls {sorted(set(flowyte.unexpected))[:5]}"
            )
        await slack.server.stop()
        await flowyte.server.stop()


# --------------------------------------------------------------------------- phases


def step_row(step: Step) -> str:
    return (
        f"{step.rate:>6g}/s  {ms(step.ack_p50):>5} {ms(step.ack_p99):>6} {ms(step.ack_max):>6}  "
        f"{ms(step.delivery_p99):>6} {ms(step.delivery_max):>6}  {step.busy:>5} "
        f"{step.errors + step.other:>5} {step.lost + step.without_numbers:>5} "
        f"{step.late:>5}  {100 * step.bot_cpu / step.wall:>4.0f}% "
        f"{1000 * step.bot_cpu / step.n:>5.2f}  {step.rss_max / MB:>5.0f}  "
        f"{1000 * step.harness_cpu / step.n:>5.3f}  {step.connections:>4}"
    )


def by_second(step: Step) -> str:
    return "  ack p99 (ms) of the requests due in each second: " + " ".join(
        ms(x) for x in step.by_second
    )


STEP_HEADER = (
    f"{'rate':>8}  {'ack50':>5} {'ack99':>6} {'ackmax':>6}  {'dlv99':>6} {'dlvmax':>6}  "
    f"{'busy':>5} {'err':>5} {'lost':>5} {'late':>5}  {'botCPU':>5} {'ms/s':>5}  {'RSS':>5}  "
    f"{'hms/s':>5}  {'conns':>4}"
)
STEP_NOTE = (
    "(times in ms from when each request was due; dlv: delivery; err: errors and answers other than Searching/busy; "
    "lost: accepted searches with no results (none, or an error message); late: sent > 10 ms "
    "after due; botCPU: % of one core, and ms/s its CPU ms per search; RSS: the bot's max MB; "
    "hms/s: the harness's CPU ms per search; conns: most connections to the bot)"
)


async def knee_phase(ctx: Ctx) -> None:
    args, r = ctx.args, ctx.report
    async with (
        lean_fakes(ctx) as (slack, flowyte),
        fresh_bot(ctx, slack, flowyte.url, "knee") as bot,
    ):
        sampler = Sampler(bot.proc.pid).start()  # type: ignore[union-attr]
        idle = sampler.sample()[1]
        ctx.lines.append(
            f"knee: Flowyte latency {args.latency:g} s, {args.step_seconds:g} s a step, "
            f"bot idle RSS {idle / MB:.0f} MB"
        )
        knee, first_fail = 0.0, None
        rate = args.start_rate
        try:
            if args.knee_warmup:  # the knee is capacity; the sustained phase counts the cold start
                warm = await drive(
                    ctx, bot, slack, flowyte, rate, args.knee_warmup, "warm", sampler
                )
                ctx.lines.append(f"knee warm-up, not counted: {step_row(warm)}")
                await asyncio.sleep(args.gap)
            ctx.lines += [STEP_NOTE, STEP_HEADER]
            while rate <= args.max_rate:
                step = await drive(
                    ctx, bot, slack, flowyte, rate, args.step_seconds, "knee", sampler
                )
                ctx.lines.append(step_row(step) + ("" if step.meets(args.latency) else "  FAIL"))
                if step.meets(args.latency):
                    knee = rate
                else:
                    first_fail = step
                    break
                rate += args.rate_step
                await asyncio.sleep(args.gap)
        finally:
            await sampler.stop()
    ctx.knee = knee
    why = ""
    if first_fail is not None:
        why = f"; at {first_fail.rate:g}/s: {first_fail.brief()}"
    else:
        why = f"; no step failed up to --max-rate {args.max_rate:g}/s"
    r.add(
        f"knee (Flowyte {args.latency:g} s, steps of {args.rate_step:g}/s)",
        f"{knee:g}/s{why}",
        "≥ 1000/s (issue 11)",
        None,
    )


async def sustained_phase(ctx: Ctx) -> None:
    args, r = ctx.args, ctx.report
    async with (
        lean_fakes(ctx) as (slack, flowyte),
        fresh_bot(ctx, slack, flowyte.url, "sustained") as bot,
    ):
        sampler = Sampler(bot.proc.pid).start()  # type: ignore[union-attr]
        try:
            step = await drive(ctx, bot, slack, flowyte, args.rate, args.seconds, "sust", sampler)
        finally:
            await sampler.stop()
    label = f"sustained {args.rate:g}/s × {args.seconds:g} s (cold start included)"
    r.add(
        f"{label}: ack",
        step.brief(),
        f"p99 ≤ {ms(ACK_TARGET)} ms",
        step.ack_p99 <= ACK_TARGET and not step.errors,
    )
    budget = args.latency + DELIVERY_MARGIN
    r.add(
        f"{label}: delivery",
        f"p99 {ms(step.delivery_p99)} ms; {len(step.delivery)}/{step.accepted} replies, "
        f"{step.without_numbers} without numbers, {step.lost} lost; {step.busy} busy; "
        f"Flowyte saw {step.flowyte_searches} searches",
        f"p99 ≤ {ms(budget)} ms, all delivered",
        step.delivery_p99 <= budget
        and not step.lost
        and not step.without_numbers
        and not step.busy,
    )
    ctx.lines += ["sustained:", STEP_HEADER, step_row(step), by_second(step)]


WARM_RATE = 10.0  # searches a second before the overload's idle RSS is measured


async def overload_phase(ctx: Ctx) -> None:
    args, r = ctx.args, ctx.report
    rate = args.overload_rate or 2 * (ctx.knee or args.rate)
    async with (
        lean_fakes(ctx) as (slack, flowyte),
        fresh_bot(ctx, slack, flowyte.url, "overload") as bot,
    ):
        sampler = Sampler(bot.proc.pid).start()  # type: ignore[union-attr]
        try:
            cold = idle = sampler.sample()[1]
            if args.warm_searches:
                # The first searches load what a process loads once (modules imported on
                # first use, connection pools, TLS contexts): that is not what a burst
                # leaves behind. Idle is measured after them, once every pooled
                # connection has expired, as it has again 60 s after the load.
                await drive(
                    ctx,
                    bot,
                    slack,
                    flowyte,
                    WARM_RATE,
                    args.warm_searches / WARM_RATE,
                    "warm",
                    sampler,
                )
                await asyncio.sleep(args.warm_settle)
                idle = sampler.sample()[1]
            t0 = time.monotonic()
            step = await drive(ctx, bot, slack, flowyte, rate, args.seconds, "over", sampler)
            stopped = time.monotonic()
            await asyncio.sleep(args.recover_seconds - (time.monotonic() - stopped))
            after = sampler.sample()[1]
        finally:
            await sampler.stop()
    label = f"overload {rate:g}/s × {args.seconds:g} s" + (
        f" (2× knee {ctx.knee:g}/s)" if ctx.knee and not args.overload_rate else ""
    )
    answered_late = sum(a > OVERLOAD_ACK for a in step.ack)
    r.add(
        f"{label}: every request answered",
        f"{step.brief()}; {answered_late} answered after {OVERLOAD_ACK:g} s",
        f"all within {OVERLOAD_ACK:g} s (busy counts)",
        step.ack_max <= OVERLOAD_ACK and not step.errors and not step.other,
    )
    r.add(
        f"{label}: accepted work done",
        f"{step.accepted} accepted ('Searching'), {step.busy} busy; {len(step.delivery)} replied, "
        f"{step.without_numbers} without numbers, {step.lost} lost; delivery p99 "
        f"{ms(step.delivery_p99)} ms",
        "every accepted search gets its results",
        not step.lost and not step.without_numbers,
    )
    during = sampler.max_rss(since=t0)
    r.add(
        f"{label}: RSS during",
        f"idle {idle / MB:.0f} MB, max {during / MB:.0f} MB ({during / idle:.2f}×)",
        "≤ 2× idle",
        during <= 2 * idle,
    )
    r.add(
        f"{label}: RSS {args.recover_seconds:g} s after the load",
        f"{after / MB:.1f} MB ({100 * (after - idle) / idle:+.1f}% of idle {idle / MB:.1f} MB"
        + (
            f" after {args.warm_searches} searches; {100 * (after - cold) / cold:+.1f}% of "
            f"{cold / MB:.1f} MB before any)"
            if args.warm_searches
            else ")"
        ),
        "within 10% of idle",
        after <= 1.1 * idle,
    )
    curve = " ".join(f"{rss_ / MB:.0f}" for t, rss_, _ in sampler.samples if t >= t0)
    ctx.lines.append(f"overload: bot RSS MB each second from the first send: {curve}")
    ctx.lines.append(f"overload: load stopped at +{stopped - t0:.0f} s; idle {idle / MB:.0f} MB")
    ctx.lines += ["overload:", STEP_HEADER, step_row(step), by_second(step)]


async def https_phase(ctx: Ctx) -> None:
    args, r = ctx.args, ctx.report
    results: dict[str, Step] = {}
    for scheme in ("http", "https"):
        async with lean_fakes(ctx, https=scheme == "https") as (slack, flowyte):
            env = {}
            if scheme == "https":
                env["SSL_CERT_FILE"] = str(ctx.workdir / "tls" / "slack-local.pem")
            async with fresh_bot(ctx, slack, flowyte.url, scheme, **env) as bot:
                sampler = Sampler(bot.proc.pid).start()  # type: ignore[union-attr]
                try:
                    step = await drive(
                        ctx,
                        bot,
                        slack,
                        flowyte,
                        args.https_rate,
                        args.https_seconds,
                        scheme,
                        sampler,
                    )
                finally:
                    await sampler.stop()
            if scheme == "https":
                ctx.lines.append(f"https: Web API calls over TLS: {slack.api_calls}")
        results[scheme] = step
        r.add(
            f"{scheme.upper()} Slack side, {args.https_rate:g}/s × {args.https_seconds:g} s",
            step.brief(),
            "all delivered",
            not step.lost and not step.errors and not step.without_numbers,
        )
    # Verification is on: the same HTTPS Slack, without SSL_CERT_FILE, gets nothing.
    async with (
        lean_fakes(ctx, https=True) as (slack, flowyte),
        fresh_bot(ctx, slack, flowyte.url, "untrusted", wait_scopes=False) as bot,
    ):
        sampler = Sampler(bot.proc.pid)  # type: ignore[union-attr]
        step = await drive(ctx, bot, slack, flowyte, 10, 1, "untrusted", sampler, drain=2.0)
        refused = "CERTIFICATE_VERIFY_FAILED" in bot.output()
    r.add(
        "HTTPS without SSL_CERT_FILE (the certificate not trusted)",
        f"{len(step.delivery)}/{step.n} replies delivered; 'CERTIFICATE_VERIFY_FAILED' "
        f"{'in' if refused else 'not in'} the bot's log",
        "none delivered: numbot verifies",
        not step.delivery and refused,
    )
    h, s = results["http"], results["https"]
    per = 1000 * h.bot_cpu / h.n, 1000 * s.bot_cpu / s.n
    r.add(
        "bot CPU per search: HTTP vs HTTPS response_urls",
        f"{per[0]:.2f} vs {per[1]:.2f} ms ({per[1] / per[0]:.2f}×)",
        "",
        None,
    )


# --------------------------------------------------------------------------- memory


class Person:
    """One worker of the memory phase: signed requests over its own HTTP clients."""

    def __init__(self, bot: BotProcess, slack: RemoteSlack, n: int) -> None:
        self.bot, self.n = bot, n
        self.http = httpx.Client(timeout=30)
        self.slack = RemoteSlack(slack.base_url)
        self.user = f"U0MEM{n:04d}"
        self.count = 0

    def post(self, body: str) -> httpx.Response:
        r = self.http.post(
            self.bot.url + "/slack/events",
            content=body,
            headers=signed_headers(body, SIGNING_SECRET),
        )
        r.raise_for_status()
        return r

    def rid(self) -> str:
        self.count += 1
        return f"mem-{self.n}-{self.count}"

    def cycle(self, area: int) -> str:
        """Search, Reserve, Request purchase, the reason, Approve (by Bob): what it said."""
        rid = self.rid()
        self.post(
            slash_command_body(
                f"search {area}", self.user, response_url=self.slack.response_url(rid)
            )
        )
        e164 = find_element(self.slack.reply(rid), ids.RESERVE)["value"]
        rid = self.rid()
        self.post(
            block_action_body(
                ids.RESERVE, e164, self.user, response_url=self.slack.response_url(rid)
            )
        )
        request_id = str(find_element(self.slack.reply(rid), ids.REQUEST_PURCHASE)["value"])
        self.post(
            block_action_body(
                ids.REQUEST_PURCHASE,
                request_id,
                self.user,
                response_url=self.slack.response_url(self.rid()),
            )
        )
        self.post(
            view_submission_body(
                ids.PURCHASE_REASON_VIEW,
                {ids.REASON_BLOCK: {ids.REASON_INPUT: "memory benchmark"}},
                self.user,
                private_metadata=request_id,
            )
        )
        for _ in range(50):
            rid = self.rid()
            self.post(
                block_action_body(
                    ids.APPROVE,
                    request_id,
                    BOB,
                    response_url=self.slack.response_url(rid),
                    channel_id=APPROVAL_CHANNEL,
                )
            )
            said = texts(self.slack.reply(rid))
            if "Bought" in said:
                return "bought"
            time.sleep(0.05)  # the card may not be up yet
        return said[:80]


def memory_cycles(people: list[Person], cycles: int, start: int) -> tuple[int, list[str]]:
    """`cycles` purchase cycles shared by the people, each area code a new one."""
    counter = iter(range(start, start + cycles))
    lock = threading.Lock()
    bought, odd = 0, []

    def work(person: Person) -> None:
        nonlocal bought
        while True:
            with lock:
                k = next(counter, None)
            if k is None:
                return
            try:
                said = person.cycle(201 + k % 780)
            except Exception as exc:
                said = f"{type(exc).__name__}: {exc}"[:120]
            with lock:
                if said == "bought":
                    bought += 1
                else:
                    odd.append(said)

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bought, odd


async def memory_phase(ctx: Ctx) -> None:
    args, r = ctx.args, ctx.report
    fakes = await asyncio.to_thread(FakesProcess().start)
    try:
        slack, flowyte = RemoteSlack(fakes.slack_url), RemoteFlowyte(fakes.flowyte_url)
        flowyte.set_latency(0.0)
        flowyte.http.post(
            flowyte.url + "/_control/wallet", json={"balanceUsd": 10_000_000}
        ).raise_for_status()
        async with fresh_bot(ctx, slack, fakes.flowyte_url, "memory") as bot:
            pid = bot.proc.pid  # type: ignore[union-attr]
            if args.pin:
                pin(fakes.pid, set(sorted(os.sched_getaffinity(0))[1:]) or {0})
            people = [Person(bot, slack, n) for n in range(args.memory_workers)]
            idle = rss(pid)
            warm_bought, warm_odd = await asyncio.to_thread(
                memory_cycles, people, args.memory_warmup, 0
            )
            await asyncio.sleep(1.0)
            warm = rss(pid)
            bot0, start = cpu_seconds(pid), time.monotonic()
            bought, odd = await asyncio.to_thread(
                memory_cycles, people, args.memory_cycles, args.memory_warmup
            )
            elapsed = time.monotonic() - start
            cpu = cpu_seconds(pid) - bot0
            await asyncio.sleep(1.0)
            after = rss(pid)
    finally:
        await asyncio.to_thread(fakes.stop)
    n = args.memory_cycles
    odd_all = warm_odd + odd
    r.add(
        f"memory: {n} purchase cycles (search, reserve, request, reason, approve) by "
        f"{args.memory_workers} at once, +{args.memory_warmup} warm-up",
        f"{bought}/{n} bought ({warm_bought}/{args.memory_warmup} in the warm-up), "
        f"{n / elapsed:.1f} cycles/s, bot CPU {1000 * cpu / n:.1f} ms a cycle"
        + (f"; {len(odd_all)} odd: {odd_all[0]}" if odd_all else ""),
        "all bought",
        not odd_all,
    )
    growth = after - warm
    r.add(
        "memory: RSS idle → after warm-up → after the cycles",
        f"{idle / MB:.1f} → {warm / MB:.1f} → {after / MB:.1f} MB ({growth / MB:+.1f} MB over {n})",
        f"growth ≤ {args.rss_growth_mb:g} MB",
        growth <= args.rss_growth_mb * MB,
    )


# --------------------------------------------------------------------------- the run


async def run_phases(ctx: Ctx) -> None:
    args = ctx.args
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            rest = set(cpus) - {args.bot_cpu}
            pin(os.getpid(), rest)
            ctx.lines.append(f"pinned: bot on CPU {args.bot_cpu}; harness on CPU {sorted(rest)}")
    for phase, run in (
        ("knee", knee_phase),
        ("sustained", sustained_phase),
        ("overload", overload_phase),
        ("memory", memory_phase),
        ("https", https_phase),
    ):
        if phase not in args.only:
            continue
        try:
            await run(ctx)
        except Exception as exc:
            ctx.report.fail(phase, exc)
        await asyncio.sleep(1.0)


def header(args: argparse.Namespace, workdir: Path, now: datetime.datetime) -> list[str]:
    return [
        "numbot sustained-load benchmark (issue 11)",
        f"date     {now.isoformat(timespec='seconds')}",
        f"machine  {platform.machine()} · {cpu_model()} · {os.cpu_count()} CPUs · "
        f"{psutil.virtual_memory().total / 1024**3:.0f} GiB · load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg()),
        f"python   {platform.python_implementation()} {platform.python_version()}",
        f"workdir  {workdir}",
        f"phases   {','.join(p for p in PHASES if p in args.only)}; Flowyte latency "
        f"{args.latency:g} s; sustained {args.rate:g}/s × {args.seconds:g} s; knee from "
        f"{args.start_rate:g}/s by {args.rate_step:g}/s, {args.step_seconds:g} s a step; bot log "
        f"level {args.log_level}; NUMBOT_MAX_IN_FLIGHT {args.max_in_flight or 'default'}; "
        f"NUMBOT_MAX_LOOP_LAG_MS {'default' if args.max_loop_lag_ms is None else args.max_loop_lag_ms}",
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m tests.bench.sustained",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--only", default=",".join(PHASES), help=f"comma list of {PHASES}")
    ap.add_argument("--latency", type=float, default=0.3, help="Flowyte search latency (s)")
    ap.add_argument("--rate", type=float, default=1000, help="sustained rate (searches/s)")
    ap.add_argument("--seconds", type=float, default=60, help="sustained and overload length")
    ap.add_argument("--start-rate", type=float, default=100)
    ap.add_argument("--rate-step", type=float, default=100)
    ap.add_argument("--max-rate", type=float, default=3000)
    ap.add_argument("--step-seconds", type=float, default=10)
    ap.add_argument("--gap", type=float, default=2.0, help="pause between knee steps (s)")
    ap.add_argument(
        "--knee-warmup",
        type=float,
        default=3.0,
        help="seconds at the first rate before the knee's steps, not counted (0: none)",
    )
    ap.add_argument("--overload-rate", type=float, help="default: 2× the knee (or 2× --rate)")
    ap.add_argument("--recover-seconds", type=float, default=60)
    ap.add_argument(
        "--warm-searches",
        type=int,
        default=20,
        help="overload: searches (at 10/s) before idle RSS is measured; 0: idle as started",
    )
    ap.add_argument(
        "--warm-settle",
        type=float,
        default=35,
        help="overload: seconds idle after them (past the 30 s keep-alive of pooled connections)",
    )
    ap.add_argument("--drain", type=float, default=15.0, help="wait for late replies (s)")
    ap.add_argument("--https-rate", type=float, default=300)
    ap.add_argument("--https-seconds", type=float, default=20)
    ap.add_argument("--memory-workers", type=int, default=8)
    ap.add_argument("--memory-warmup", type=int, default=100, help="purchase cycles")
    ap.add_argument("--memory-cycles", type=int, default=400)
    ap.add_argument("--rss-growth-mb", type=float, default=4.0)
    ap.add_argument("--max-connections", type=int, default=450, help="to the bot, at most")
    ap.add_argument("--max-in-flight", type=int, help="the bot's NUMBOT_MAX_IN_FLIGHT")
    ap.add_argument("--max-loop-lag-ms", type=int, help="the bot's NUMBOT_MAX_LOOP_LAG_MS")
    ap.add_argument("--log-level", default="INFO", help="the bot's NUMBOT_LOG_LEVEL")
    ap.add_argument("--settle", type=float, default=1.0, help="idle seconds after start")
    ap.add_argument("--no-pin", dest="pin", action="store_false")
    ap.add_argument("--bot-cpu", type=int, default=0)
    ap.add_argument(
        "--no-gc-watch",
        dest="gc_watch",
        action="store_false",
        help="do not time the bot's garbage collections (tests/bench/gcwatch)",
    )
    ap.add_argument("--workdir", help="keep the bots' logs and databases here")
    ap.add_argument("--profile-bot", help="py-spy record the bot (.svg, .json or .txt)")
    ap.add_argument(
        "--profile-phase",
        default="sustained",
        choices=("knee", "sustained", "overload", "memory", "http", "https"),
        help="the phase whose bot --profile-bot records",
    )
    ap.add_argument("--deadline", type=int, default=3600, help="abort after this many seconds")
    args = ap.parse_args(argv)
    args.only = {p.strip() for p in args.only.split(",") if p.strip()}
    if args.only - set(PHASES):
        ap.error(f"unknown phases {sorted(args.only - set(PHASES))}; choose from {PHASES}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="numbot-sust-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    now = datetime.datetime.now(datetime.UTC).astimezone()
    report = Report()
    signal.signal(signal.SIGALRM, _deadline)
    signal.alarm(args.deadline)
    neighbours = Neighbours(every=5.0).start()
    ctx = Ctx(args, workdir, report, asyncio.run(lean.canned_search()))
    try:
        asyncio.run(run_phases(ctx))
    except TimeoutError as exc:
        report.fail("deadline", exc)
    finally:
        signal.alarm(0)
        others, top = neighbours.stop()
        report.add(
            "other processes' CPU during the run",
            f"{others:.1f} CPU-s over {time.monotonic() - started:.0f} s"
            + (f" (most: {top[0][1]} {top[0][0]:.1f} s)" if top else ""),
            "≈ 0: else timings may be distorted",
            None,
        )
    if ctx.harness_cpu:
        total = sum(c for _, c, _ in ctx.harness_cpu)
        count = sum(n for _, _, n in ctx.harness_cpu)
        worst = max(ctx.harness_cpu, key=lambda x: x[1] / x[2])
        report.add(
            "harness CPU per search (load generator + lean fakes, one process)",
            f"{1000 * total / count:.3f} ms on average; worst {1000 * worst[1] / worst[2]:.3f} ms "
            f"({worst[0]})",
            "≤ 0.3 ms",
            None,
        )
    print("\n".join(header(args, workdir, now)))
    print()
    for line in ctx.lines:
        print(line)
    print()
    print(table(report.checks))
    verdict = "ALL TARGETS MET" if report.passed else "SOME TARGETS FAILED"
    print(f"{verdict} in {time.monotonic() - started:.0f} s")
    if not args.workdir and report.passed:
        shutil.rmtree(workdir, ignore_errors=True)
    elif not report.passed:
        print(f"kept {workdir} (the bots' logs, the databases)")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())

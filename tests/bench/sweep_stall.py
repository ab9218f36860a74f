"""What a sweep pass costs the event loop with many open requests (issue 11: ≤ 20 ms).

    python -m tests.bench.sweep_stall                       # 100,000 open, 200 lapsed
    python -m tests.bench.sweep_stall --open 10000 --due 50

Builds a database with `--open` pending requests whose holds lapse far in the future and
`--due` whose holds have lapsed (cloned from one request made through the real service on the
sandbox), then runs sweep passes on the real service while a ticker on the same event loop
measures how late its 1 ms sleeps wake: the worst lateness is the longest the loop was
stalled, i.e. how long a Slack request arriving then would have waited to be read. Prints the
stall percentiles, each pass's duration and what it touched, and `next_due` timings.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config.settings import load_settings
from bot.kernel.outcomes import Held, Requested
from bot.process.wiring import build_service
from tests.bench.load import percentile

STALL_TARGET_MS = 20.0


async def ticker(lateness: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        asked = loop.time()
        await asyncio.sleep(0.001)
        lateness.append((loop.time() - asked - 0.001) * 1000)


def clone(db_path: Path, template_id: str, open_: int, due: int) -> None:
    """`open_` copies of the template whose holds lapse in a day, `due` already lapsed."""
    import sqlite3

    conn = sqlite3.connect(db_path, isolation_level=None)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(requests)")]
    now = datetime.now(UTC)
    later = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lapsed = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    picked = ", ".join(columns)
    template = conn.execute(
        f"SELECT {picked} FROM requests WHERE id = ?",
        (template_id,),
    ).fetchone()
    row = dict(zip(columns, template, strict=True))
    conn.execute("BEGIN")
    for n in range(open_ + due):
        row["id"] = f"req_bench{n:09d}"
        row["e164"] = f"+1415{n:07d}"
        row["card_ts"] = None  # no card: the sweep would otherwise post the missing ones
        row["hold_expires_at"] = lapsed if n < due else later
        conn.execute(
            f"INSERT INTO requests ({picked}) VALUES ({', '.join('?' for _ in columns)})",
            [row[c] for c in columns],
        )
    conn.execute("COMMIT")
    conn.close()


async def measure(args: argparse.Namespace, workdir: Path) -> None:
    db = workdir / "sweep.db"
    settings = load_settings(NUMBOT_DB=str(db), NUMBOT_APPROVERS="U0BOB")
    service = build_service(settings, notifier=None)
    from bot.flowyte.models import SearchQuery

    found = await service.flowyte.search(SearchQuery(area_code="415"))
    held = await service.reserve("U0ALICE", found[0].e164)
    if not isinstance(held, Held):
        raise SystemExit(f"could not reserve on the sandbox: {held}")
    asked = await service.request_purchase("U0ALICE", held.request.id, "bench")
    if not isinstance(asked, Requested):
        raise SystemExit(f"could not request: {asked}")
    started = time.perf_counter()
    clone(db, asked.request.id, args.open, args.due)
    print(
        f"built {args.open:,} open + {args.due:,} lapsed in {time.perf_counter() - started:.1f} s"
    )

    gc.collect()
    gc.freeze()  # as numbot run does once started (bot/process/runtime.py Runtime.running)
    lateness: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(lateness, stop))
    await asyncio.sleep(0.2)
    idle = list(lateness)
    lateness.clear()
    passes: list[tuple[float, int]] = []
    while True:
        t0 = time.perf_counter()
        touched = await service.resume()
        passes.append((time.perf_counter() - t0, touched))
        if not touched or len(passes) > 100:
            break
    t0 = time.perf_counter()
    due_in = await service.next_due()
    next_due_ms = (time.perf_counter() - t0) * 1000
    stop.set()
    await tick
    await service.flowyte.aclose()
    service.storage.close()

    def line(label: str, values: list[float]) -> str:
        return (
            f"{label}: p50 {percentile(values, 50):.2f} / p99 {percentile(values, 99):.2f} / "
            f"max {max(values):.2f} ms over {len(values)} ticks"
        )

    print(line("loop lateness idle      ", idle))
    print(line("loop lateness sweeping  ", lateness))
    for n, (seconds, touched) in enumerate(passes, 1):
        print(f"pass {n}: {seconds * 1000:.0f} ms, touched {touched}")
    print(f"next_due: {next_due_ms:.1f} ms (answer: {due_in:.0f} s)")
    worst = max(lateness)
    verdict = "PASS" if worst <= STALL_TARGET_MS else "FAIL"
    print(f"worst stall {worst:.1f} ms, target ≤ {STALL_TARGET_MS:.0f} ms: {verdict}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--open", type=int, default=100_000)
    ap.add_argument("--due", type=int, default=200)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="numbot-sweep-") as workdir:
        asyncio.run(measure(args, Path(workdir)))


if __name__ == "__main__":
    main()

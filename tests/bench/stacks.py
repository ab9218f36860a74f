"""Summarise a py-spy raw profile (`--profile-bot FILE.txt`): where the bot's time went.

    python -m tests.bench.stacks /tmp/bot.txt [--top 30] [--match slack_bolt]

Prints the share of samples that include each function (inclusive), the share in which it
is the innermost frame (self), and self time by package (aiohttp, h11, bot/flowyte...),
biggest first. Idle samples (the event loop waiting in
select/epoll) are counted separately so the shares are of busy time. The benchmark
records with `py-spy record --gil`, so only the thread holding the GIL is sampled.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

IDLE = re.compile(r"(^|\.)(select|poll) \(selectors\.py\)$")
REPO = str(Path(__file__).resolve().parents[2]) + "/"  # frames of this checkout, wherever it is
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    """`func (path/to/site-packages/pkg/mod.py:12)` -> `func (pkg/mod.py)`."""
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/", REPO):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{m.group('func')} ({path})"


def package(frame: str) -> str:
    """Where a shortened frame's code lives: `aiohttp`, `asyncio`, `bot/flowyte`, `handlers`..."""
    m = FRAME.match(frame)
    if not m:
        return "other"
    parts = m.group("file").split("/")
    if len(parts) == 1:
        return parts[0].removesuffix(".py")  # a stdlib module (json, ssl...) or <frozen ...>
    if parts[0] == "bot" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--match", default="", help="only functions whose name/path contains this")
    args = ap.parse_args()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    by_package: collections.Counter[str] = collections.Counter()
    busy = idle = 0
    with open(args.file, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [short(x) for x in stack.split(";")]
            if IDLE.search(frames[-1]):
                idle += n
                continue
            busy += n
            for frame in set(frames):
                inclusive[frame] += n
            own[frames[-1]] += n
            by_package[package(frames[-1])] += n
    print(f"samples: {busy} busy, {idle} idle (event loop waiting)")
    for title, counter in (
        ("inclusive", inclusive),
        ("self", own),
        ("self time by package (where the innermost frame's code lives)", by_package),
    ):
        print(f"\n-- {title} share of busy samples --")
        shown = 0
        for frame, n in counter.most_common():
            if args.match and args.match not in frame:
                continue
            print(f"{100 * n / max(busy, 1):5.1f}%  {frame}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()

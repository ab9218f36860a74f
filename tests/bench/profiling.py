"""py-spy on the bot process while a benchmark's load runs (only when asked for a file)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def py_spy(pid: int, out: str | None, *, rate: int = 250) -> Iterator[None]:
    """`py-spy record --gil` on `pid` (only the thread holding the GIL: the event loop's
    own work) into `out`: .txt raw stacks (tests.bench.stacks reads them), .json speedscope,
    anything else a flame graph. Nothing when `out` is None."""
    if not out:
        yield
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = {".json": "speedscope", ".txt": "raw"}.get(Path(out).suffix, "flamegraph")
    proc = subprocess.Popen(
        [
            exe,
            "record",
            "--gil",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            fmt,
            "-o",
            out,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # let it attach
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

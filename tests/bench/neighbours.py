"""CPU used by processes that are not part of the benchmark, while it measures.

On a small shared machine (2 cores) another test run or build during a burst turns a
100 ms acknowledgement into 500 ms, and the table alone cannot tell that from a slow bot.
`Neighbours` samples every process outside this process's tree in a background thread
and reports the CPU seconds they used, so a reader knows whether a run was disturbed
(one sample, every second, takes about 3 ms of this process).
Processes that start and end between two samples are missed; the figure is a lower bound.
"""

from __future__ import annotations

import contextlib
import os
import threading

import psutil

Key = tuple[int, float]  # pid, create_time: pids are reused


def _ours() -> set[int]:
    me = psutil.Process(os.getpid())
    return {me.pid, *(c.pid for c in me.children(recursive=True))}


def _cpu(ours: set[int]) -> dict[Key, tuple[float, str]]:
    out: dict[Key, tuple[float, str]] = {}
    for p in psutil.process_iter(["pid", "ppid", "create_time", "cpu_times", "name"]):
        # kernel threads (children of kthreadd, pid 2) do this run's own disk I/O too
        if p.info["pid"] in ours or p.info["ppid"] in (0, 2) or p.info["cpu_times"] is None:
            continue
        t = p.info["cpu_times"]
        out[(p.info["pid"], p.info["create_time"] or 0.0)] = (t.user + t.system, p.info["name"])
    return out


class Neighbours:
    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._first: dict[Key, tuple[float, str]] = {}
        self._last: dict[Key, tuple[float, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-neighbours", daemon=True)

    def _sample(self) -> None:
        now = _cpu(_ours())
        for key, value in now.items():
            self._first.setdefault(key, (0.0, value[1]) if self._last else value)
        self._last.update(now)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(Exception):
                self._sample()

    def start(self) -> Neighbours:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> tuple[float, list[tuple[float, str]]]:
        """(CPU seconds used by others, the biggest users as (seconds, name))."""
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):
            self._sample()
        used = [
            (self._last[k][0] - first[0], first[1])
            for k, first in self._first.items()
            if k in self._last
        ]
        used = [u for u in used if u[0] > 0.005]
        used.sort(reverse=True)
        return sum(u[0] for u in used), used[:3]

"""Loaded by the bot process when the sustained benchmark runs with `--gc-log FILE`: this
directory goes first on the bot's PYTHONPATH, so Python imports this file at start (site's
`sitecustomize` hook). numbot's code is untouched: gc.callbacks time every collection, and at
most once a second (uvicorn ends the process by re-raising SIGTERM, so atexit cannot be
relied on) one JSON line per generation is written to NUMBOT_BENCH_GC_LOG: how many
collections, their total and longest pause, and what they collected.
"""

import atexit
import gc
import json
import os
import time

_path = os.environ.get("NUMBOT_BENCH_GC_LOG")
if _path:
    _stats = {g: {"count": 0, "total": 0.0, "max": 0.0, "collected": 0} for g in range(3)}
    _started = [0.0]
    _dumped = [0.0]

    def _watch(phase, info):
        if phase == "start":
            _started[0] = time.perf_counter()
            return
        pause = time.perf_counter() - _started[0]
        s = _stats[info["generation"]]
        s["count"] += 1
        s["total"] += pause
        s["max"] = max(s["max"], pause)
        s["collected"] += info.get("collected", 0)
        now = time.monotonic()
        if now - _dumped[0] >= 1.0:
            _dumped[0] = now
            _dump()

    def _dump():
        with open(_path, "w", encoding="utf-8") as f:
            for generation, s in _stats.items():
                f.write(json.dumps({"generation": generation, **s}) + "\n")

    gc.callbacks.append(_watch)
    atexit.register(_dump)

"""Loaded by the bot process when the sustained benchmark runs it (tests/bench/sustained.py):
this directory goes first on the bot's PYTHONPATH, so Python imports this file at start
(site's `sitecustomize` hook). numbot's code is untouched: gc.callbacks time every
collection, and at most once a second (uvicorn ends the process by re-raising SIGTERM, so
atexit cannot be relied on) the new ones are appended to NUMBOT_BENCH_GC_LOG, one line
each: wall-clock time, generation, pause in seconds, objects collected.
"""

import gc
import os
import time

_path = os.environ.get("NUMBOT_BENCH_GC_LOG")
if _path:
    _pending = []
    _started = [0.0]
    _written = [0.0]

    def _watch(phase, info):
        if phase == "start":
            _started[0] = time.perf_counter()
            return
        pause = time.perf_counter() - _started[0]
        now = time.time()
        _pending.append(f"{now:.6f} {info['generation']} {pause:.6f} {info.get('collected', 0)}\n")
        if now - _written[0] >= 1.0:
            _written[0] = now
            with open(_path, "a", encoding="utf-8") as f:
                f.writelines(_pending)
            _pending.clear()

    gc.callbacks.append(_watch)

"""How much work numbot has taken on, and when to say "busy" instead of taking more.

Slack needs an answer within 3 seconds; the work behind a command (a Flowyte call, a reply)
runs after that answer. Taken without limit, a burst beyond what one process can do piles
up work whose answers all come late, memory grows with it, and the acks of later requests
wait behind it. So every listener run counts while it lasts, from its ack to its last reply,
and past `capacity` runs at once a new one is answered "numbot is busy" at once and does
nothing. What was taken is always finished: nothing is dropped once accepted.

A count alone does not bound the delay: what a run costs varies, and Slack's requests queue
for the event loop before any listener sees them, so a loop that is behind answers every
request late however few runs are open. So the loop's lag (how late a timer fires, measured
by bot/ops/loop_lag.py) counts too: while two measures in a row are over `max_lag`, new runs
are turned away as well, and the loop's time goes to finishing what was taken and to quick
"busy" answers. One late measure alone (a garbage collection) turns nobody away. A
`max_lag` of None turns the lag check off (NUMBOT_MAX_LOOP_LAG_MS=0): only `capacity` bounds
the work then.

Pure bookkeeping on one event loop; no I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

DEFAULT_CAPACITY = 512
# How late the event loop may run before new work is turned away: well under Slack's 3 s.
# Measured at 1,000 searches/s on one core (tests/bench/sustained.py), one 60 s run each, a
# lower limit gave faster acks: turning away at one late measure, 50 ms: ack p99 0.64 s;
# 100 ms: 0.85 s; 250 ms: 8 s and growing. At two in a row over 50 ms (kept, so that a lone
# garbage collection turns nobody away): 0.89 s.
DEFAULT_MAX_LAG = 0.05


class Workload:
    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        max_lag: float | None = DEFAULT_MAX_LAG,
        on_turned_away: Callable[[], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.max_lag = max_lag
        self.lag = 0.0  # seconds, as last measured (note_lag)
        self.behind = False  # the last two measures were both over max_lag
        self.in_flight = 0
        self.turned_away = 0  # since start: what was answered "busy"
        self._on_turned_away = on_turned_away

    @property
    def full(self) -> bool:
        return self.behind or self.in_flight >= self.capacity

    def note_lag(self, seconds: float) -> None:
        """How late the event loop ran at its latest measure."""
        self.behind = self.max_lag is not None and min(seconds, self.lag) > self.max_lag
        self.lag = seconds

    def admit(self) -> bool:
        """Take one more run if there is room (the caller must then `done()` it)."""
        if self.full:
            self.turned_away += 1
            if self._on_turned_away is not None:
                self._on_turned_away()
            return False
        self.in_flight += 1
        return True

    def done(self) -> None:
        if self.in_flight <= 0:
            raise RuntimeError("done() without a matching admit()")
        self.in_flight -= 1

    def carry(self) -> None:
        """Count one more run whatever the load: work a person cannot be asked to repeat
        (a modal they filled in) is never turned away, but still weighs on what follows."""
        self.in_flight += 1

    @contextlib.contextmanager
    def run(self, *, may_refuse: bool = True) -> Iterator[bool]:
        """`with workload.run() as admitted:` counts the block if admitted."""
        if may_refuse:
            admitted = self.admit()
        else:
            self.carry()
            admitted = True
        try:
            yield admitted
        finally:
            if admitted:
                self.done()

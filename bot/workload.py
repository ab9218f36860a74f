"""How much work numbot has taken on, and when to say "busy" instead of taking more.

Slack needs an answer within 3 seconds; the work behind a command (a Flowyte call, a reply)
runs after that answer. Taken without limit, a burst beyond what one process can do piles
up work whose answers all come late, memory grows with it, and the acks of later requests
wait behind it. So every listener run counts while it lasts, from its ack to its last reply,
and past `capacity` runs at once a new one is answered "numbot is busy" at once and does
nothing. What was taken is always finished: nothing is dropped once accepted.

Pure bookkeeping on one event loop; no I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

DEFAULT_CAPACITY = 512


class Workload:
    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        on_turned_away: Callable[[], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.in_flight = 0
        self.turned_away = 0  # since start: what was answered "busy"
        self._on_turned_away = on_turned_away

    @property
    def full(self) -> bool:
        return self.in_flight >= self.capacity

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

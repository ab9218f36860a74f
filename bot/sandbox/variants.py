"""Where Flowyte's docs allow more than one answer shape, `Variants` picks one per sandbox:
`SandboxFlowyte(variants=Variants(page_size=2))`, or `sandbox.configure(problems="type_only")`
on a live one (problems with the code only in `type`, reservations answered with `{id}`
alone, small pages and other cursor placements, rate limits with `RateLimit-*` headers, 402
without amounts, a processing delay for idempotent calls, replays refused while the first
call runs, a per-result bestEffort flag, a success envelope without `message`/`errors`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal
from typing import Any, Literal, get_args

ProblemStyle = Literal["code", "type_only"]
ReservationStyle = Literal["full", "id_only"]
ReplayStyle = Literal["wait", "conflict"]
EnvelopeStyle = Literal["documented", "plain"]
PaginationStyle = Literal[
    "next_cursor", "items", "pagination", "meta", "has_more", "links", "no_cursor", "repeat"
]


@dataclass(frozen=True)
class Variants:
    """How the sandbox answers, where Flowyte's docs allow more than one shape.

    - `problems`: "code" puts the code in `code` and in `type`; "type_only" only in `type`
      (`https://docs.flowyte.com/errors/<code>`), as the API introduction shows.
    - `reservations`: "full" answers a hold with every [inferred] field; "id_only" with
      `{"id"}` alone, the only field the guide promises.
    - `page_size`: the most items a list page holds, whatever `limit` asks (2 makes lists
      really page).
    - `pagination`: where the next cursor goes. Readable by numbot: "next_cursor"
      (`nextCursor` beside `data`, the [inferred] shape), "items" (`data: {items,
      nextCursor}`), "pagination" (`pagination: {nextCursor, hasMore}`), "meta"
      (`meta: {nextCursor}`). Unreadable, for tests: "has_more" (`hasMore` and no cursor),
      "links" (`links: {next: "?cursor=..."}`), "no_cursor" (nothing at all), "repeat"
      (every page points back to the second: a loop).
    - `rate_limit` calls per `rate_window` seconds per organization (None: no limit). Every
      answer then carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
      (seconds); a 429 also `Retry-After`, unless `retry_after` is false.
    - `amounts_on_402`: a 402 carries `balanceUsd`/`requiredUsd`/`shortfallUsd` ([inferred]
      extension members); false leaves them out, and the detail names no amount.
    - `processing_delay`: seconds a call with an `Idempotency-Key` works after claiming the
      key and before it takes effect, so a replay can arrive while it is still running (set
      it above numbot's Flowyte deadline for purchases that outlast the caller).
    - `replays`: what a call gets with a key whose first call is still running: "wait" waits
      for that call and replays its result (what "a retry replays the original result"
      allows); "conflict" is a 409 `idempotency_in_progress` (a code the docs do not name).
    - `best_effort_flag`: whether a widened search marks each result `bestEffort: true`. The
      documented result has no such member: false.
    - `envelope`: "documented" puts `message` and `errors: []` beside every success's `data`,
      as the API reference's examples do; "plain" only `success` and `data`.

    The defaults are Flowyte as its docs describe it, and no kinder: problems with their code
    only in `type`, the documented envelope, no per-result flag, replays that wait. Two are
    left kind on purpose, for people trying numbot on the sandbox: holds answered with every
    field, and purchases that take effect at once (`processing_delay` 0); the tests run the
    money paths against the other shapes as well.
    """

    problems: ProblemStyle = "type_only"
    reservations: ReservationStyle = "full"
    page_size: int = 100
    pagination: PaginationStyle = "next_cursor"
    rate_limit: int | None = None
    rate_window: float = 60.0
    retry_after: bool = True
    amounts_on_402: bool = True
    processing_delay: float = 0.0
    replays: ReplayStyle = "wait"
    best_effort_flag: bool = False
    envelope: EnvelopeStyle = "documented"

    def __post_init__(self) -> None:
        choices = {
            "problems": get_args(ProblemStyle),
            "reservations": get_args(ReservationStyle),
            "pagination": get_args(PaginationStyle),
            "replays": get_args(ReplayStyle),
            "envelope": get_args(EnvelopeStyle),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
        if isinstance(self.page_size, bool) or not isinstance(self.page_size, int):
            raise ValueError("page_size must be a whole number")
        if not 1 <= self.page_size <= 100:
            raise ValueError("page_size must be from 1 to 100")
        if self.rate_limit is not None and (
            isinstance(self.rate_limit, bool)
            or not isinstance(self.rate_limit, int)
            or self.rate_limit < 1
        ):
            raise ValueError("rate_limit must be a positive whole number, or None")
        for name in ("rate_window", "processing_delay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                raise ValueError(f"{name} must be a number of seconds")
            if not math.isfinite(value) or value < 0 or (name == "rate_window" and value == 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        for name in ("retry_after", "amounts_on_402", "best_effort_flag"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")

    def with_changes(self, changes: Mapping[str, Any]) -> Variants:
        """These variants with `changes` applied (JSON numbers may arrive as Decimal)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown variants: {', '.join(unknown)}")
        values = dict(changes)
        for name in ("rate_window", "processing_delay"):
            if isinstance(values.get(name), Decimal):
                values[name] = float(values[name])
        return replace(self, **values)

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        for name in ("rate_window", "processing_delay"):
            out[name] = Decimal(repr(float(out[name])))
        return out

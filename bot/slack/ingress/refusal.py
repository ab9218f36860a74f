"""A request the ingress answers itself, without bolt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """An HTTP status and why. `reason` is a constant phrase: it is logged, so it never holds
    anything taken from the request."""

    status: int
    reason: str

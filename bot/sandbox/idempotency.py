"""Idempotency-Keys in the sandbox (purchase, publish and top-up take one).

A key is scoped to the organization (one key, one request): the same key with the same
method, path and body replays the first successful response byte for byte (with an
`Idempotent-Replayed: true` header) for 24 hours; with anything else it is 422
`idempotency_mismatch`. While the first call is still running, a replay waits for it and
replays its result (Variants.replays "wait"), or is 409 `idempotency_in_progress` with
`Retry-After: 1` ("conflict"; the docs name no such code). Failed requests are not stored, so a retry can succeed. Bodies are compared with
sorted keys and normalized amounts, so `1.5` and `1.50` are the same request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from bot.sandbox.problems import ApiError
from bot.sandbox.wire import dumps_json

IDEMPOTENCY_TTL: Final = timedelta(hours=24)


@dataclass(frozen=True)
class Replay:
    """A stored success: what the first call answered, and which request it was."""

    fingerprint: str
    status: int
    payload: str
    stored_at: datetime


def canonical(value: object) -> object:
    """`value` with sorted keys and normalized Decimals, for comparing request bodies."""
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def fingerprint(method: str, path: str, body: Mapping[str, object]) -> str:
    """What makes two requests under one key the same request."""
    return dumps_json([method, path, canonical(body)])


class StillRunning(Exception):
    """The first call with this key is still running (the caller waits, or answers 409)."""


def in_progress() -> ApiError:
    return ApiError(
        409,
        "idempotency_in_progress",
        "A request with this Idempotency-Key is still being processed; retry later.",
        headers={"Retry-After": "1"},
    )


def idempotency_mismatch() -> ApiError:
    return ApiError(
        422, "idempotency_mismatch", "This Idempotency-Key was used with a different request."
    )


class IdempotencyKeys:
    """One organization's keys: the stored successes, and the keys of calls still running.
    Not locked itself: callers hold the organization's lock."""

    def __init__(self) -> None:
        self.replays: dict[str, Replay] = {}
        self.in_flight: dict[str, str] = {}  # Idempotency-Key -> fingerprint, while running

    def claim(self, key: str, fingerprint: str, now: datetime) -> Replay | None:
        """The stored success to replay, or None once `key` is claimed for this call; a key
        that is running (409) or was used for another request (422) is refused."""
        stored = self.replays.get(key)
        if stored is not None and now - stored.stored_at < IDEMPOTENCY_TTL:
            if stored.fingerprint != fingerprint:
                raise idempotency_mismatch()
            return stored
        running = self.in_flight.get(key)
        if running is not None:
            if running != fingerprint:
                raise idempotency_mismatch()
            raise StillRunning(key)
        self.in_flight[key] = fingerprint
        return None

    def store(self, key: str, replay: Replay) -> None:
        """Keep a success to replay (call before `release`)."""
        self.replays[key] = replay

    def release(self, key: str) -> None:
        """The call under `key` is over, whether it succeeded or not."""
        self.in_flight.pop(key, None)

    def running(self, key: str) -> bool:
        return key in self.in_flight

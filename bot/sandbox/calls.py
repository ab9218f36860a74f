"""One call to the sandbox as its endpoint handlers see it, and what they answer: the
request's parts already read (path and query parameters, JSON body, the time), and readers
that refuse a malformed request with the problem Flowyte would send.

- The API key is `Authorization: Bearer flowyte_sk_...`; any key of that shape is accepted
  (which scopes it has is the organization's business, see organization.py).
- A body must be a JSON object (an empty body reads as `{}`); amounts in it are Decimal.
- An `Idempotency-Key` is 1 to 255 characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from bot.sandbox.inventory import E164
from bot.sandbox.problems import ApiError, invalid
from bot.sandbox.wire import loads_json


@dataclass(frozen=True)
class Call:
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: Mapping[str, Any]
    now: datetime


@dataclass(frozen=True)
class Result:
    """What a handler answers: `data` in a success envelope. A list page (`page`) also says
    where the list goes on (`next_cursor`); paging.py places that as the variants say."""

    data: object
    status: int = 200
    page: bool = False
    next_cursor: str | None = None


Handler = Callable[[Call], Result]


def api_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    kind, _, key = header.partition(" ")
    key = key.strip()
    if kind.lower() != "bearer" or not key.startswith("flowyte_sk_"):
        raise ApiError(
            401,
            "unauthorized",
            "Send a Flowyte API key: Authorization: Bearer flowyte_sk_...",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = loads_json(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise invalid([("body", f"not valid JSON ({exc})")]) from None
    if not isinstance(body, dict):
        raise invalid([("body", "must be a JSON object")])
    return body


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key.strip()) <= 255:
        raise invalid([("Idempotency-Key", "must be 1 to 255 characters")])
    return key.strip() if key is not None else None


def require_e164(body: Mapping[str, Any], name: str = "e164") -> str:
    value = body.get(name)
    if not isinstance(value, str) or not E164.match(value):
        raise invalid([(name, "must be an E.164 number such as +14155550123")])
    return value


def optional_str(body: Mapping[str, Any], name: str, max_length: int = 200) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise invalid([(name, f"must be a string of 1 to {max_length} characters")])
    return value


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid([(name, f"must be an integer from {low} to {high}")])
    return int(raw)


def time_param(query: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 date-time query parameter (`Z` or an offset; a bare date is midnight UTC)."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid([(name, "must be an ISO 8601 date-time")]) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

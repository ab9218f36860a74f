"""numbot's built-in Flowyte: an in-process, in-memory implementation of the numbers API.

numbot talks to it when no real API key is configured, so a demo or a developer machine
never touches real money:

    sandbox = SandboxFlowyte()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.asgi()), base_url="http://sandbox/api/v1"
    )

The end-to-end tests serve the same app over real HTTP as their fake Flowyte
(tests/fakes/flowyte_server.py). It follows shared/flowyte-api.md; where that contract is
silent the sandbox chooses, and says so here:

- Inventory is generated deterministically (from `seed`) per area code, the first time the
  code is searched or looked up: 30 local numbers `+1NPA555xxxx` for any area code 2xx-9xx
  (a few of them vanity-friendly, such as 555-CALL or 555-1234), 15 toll-free ones for 800,
  833, 844, 855, 866, 877 and 888. Toll-free numbers have `locality`, `region` and
  `rateCenter` null. There is no `national` or `mobile` inventory: such searches are empty.
- A search without `areaCode` looks through the named area codes (415, 212, 512, 206...)
  and, unless `numberType` says otherwise, the toll-free codes.
- Numbers that are held by an active reservation, owned, released or taken elsewhere are left
  out of search results, so every result has `reservable: true`.
  `GET /numbers/available/{e164}` answers 404 for owned, released and unknown numbers and
  shows a held number with `reservable: false` (it can still be bought with its reservation).
- `bestEffort` (default true) widens only when nothing matches exactly: first the digit
  patterns are dropped, then `locality`/`administrativeArea`, then `features`; every widened
  result carries `bestEffort: true`. `areaCode`, `numberType` and `country` never widen.
- Reserving or buying a well-formed E.164 number that is not in the inventory is
  409 `number_unavailable` (not 404): for the caller it is one more number that cannot be held.
- Without `reservationId`, a purchase of a number held by any active reservation is 409
  `number_unavailable`. A cancelled reservation is 404 `reservation_not_found`; an expired
  one is 409 `reservation_expired`; a consumed one is 409 `number_unavailable`.
- `Idempotency-Key` is scoped to the organization (one key, one request): the same key
  with the same method, path and body replays the first successful response byte for byte
  (with an `Idempotent-Replayed: true` header) for 24 hours; with anything else it is 422
  `idempotency_mismatch`. While the first call is still running, a replay is 409
  `idempotency_in_progress` (with `Retry-After: 1`) [inferred: the docs do not name this
  code]. Failed requests are not stored, so a retry can succeed.
- Creating calls answer 201 (reserve, purchase, import, publish, top-up); the rest 200.
- Imported numbers cost nothing (`monthlyCost: 0.00`, `provider: "imported"`).
- Assigning an agent that was never published succeeds (the guide: callers reach nothing),
  unless `require_published_agent` is set, which makes it 409 `no_published_version`.
- Released numbers do not return to the inventory. A top-up only records a pending payment
  (`topups`); `settle_topups()` credits them, as the dashboard would.
- Any key that starts with `flowyte_sk_` is accepted. Its scopes are what `key_scopes` /
  `set_key_scopes()` gave that exact key; otherwise a key containing `readonly` has only the
  read scopes (`numbers:read`, `billing:read`, `agents:read`) and any other key all six. A
  missing scope is a 403 `insufficient_scope` with `requiredScope`, checked before the body
  is read or validated and before anything is looked up (the order is [inferred]).
- Problems carry their code in `code` and in `type` (`https://docs.flowyte.com/errors/<code>`).

Where Flowyte's docs allow more than one shape, `Variants` picks one per instance (problems
with the code only in `type`, reservations answered with `{id}` alone, small pages and other
cursor placements, rate limits with `RateLimit-*` headers, 402 without amounts, a processing
delay for idempotent calls): `SandboxFlowyte(variants=Variants(page_size=2))`, or
`sandbox.configure(problems="type_only")` on a live one.

Money is Decimal throughout, parsed with `parse_float=Decimal` and written back as JSON
number tokens without passing through float. Every handler does its state work synchronously
under one lock, so concurrent requests (one event loop, or the server thread and a test
thread) cannot both take one number or spend one balance twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import random
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Final, Literal, get_args

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from bot.money import CENT, usd

API_PREFIX: Final = "/api/v1"
HOLD_DURATION: Final = timedelta(minutes=30)
IDEMPOTENCY_TTL: Final = timedelta(hours=24)
ORGANIZATION_ID: Final = "org_sandbox"
PROBLEM_TYPE_BASE: Final = "https://docs.flowyte.com/errors/"
JSON_MEDIA_TYPE: Final = "application/json"
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"

NUMBER_TYPES: Final = ("local", "toll_free", "national", "mobile")
FEATURES: Final = ("voice", "sms", "mms", "fax", "emergency")
TOLL_FREE_CODES: Final = ("800", "833", "844", "855", "866", "877", "888")
PRICES: Final[Mapping[str, tuple[Decimal, Decimal]]] = {  # numberType -> (setup, monthly)
    "local": (Decimal("1.00"), Decimal("1.15")),
    "toll_free": (Decimal("2.00"), Decimal("2.15")),
}

# Named area codes: the first locality is the main one, later ones are suburbs.
KNOWN_AREAS: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "415": (("San Francisco", "CA"), ("San Rafael", "CA")),
    "212": (("New York", "NY"),),
    "646": (("New York", "NY"),),
    "512": (("Austin", "TX"), ("Round Rock", "TX")),
    "206": (("Seattle", "WA"), ("Bellevue", "WA")),
    "312": (("Chicago", "IL"),),
    "617": (("Boston", "MA"), ("Cambridge", "MA")),
    "213": (("Los Angeles", "CA"),),
    "303": (("Denver", "CO"),),
    "305": (("Miami", "FL"),),
    "404": (("Atlanta", "GA"),),
    "202": (("Washington", "DC"),),
    "503": (("Portland", "OR"),),
    "702": (("Las Vegas", "NV"),),
}
_GENERIC_TOWNS: Final = (
    "Springfield",
    "Riverside",
    "Fairview",
    "Franklin",
    "Greenville",
    "Clinton",
    "Madison",
    "Georgetown",
    "Salem",
    "Arlington",
)
_GENERIC_STATES: Final = ("OH", "MO", "IL", "KY", "TN", "PA", "NC", "IN", "WI", "VA", "OR")
# Last four digits that make a number easy to say, with the word they spell (if any).
_VANITY_LINES: Final = (
    ("2255", "CALL"),
    ("4357", "HELP"),
    ("2273", "CARE"),
    ("7467", "SHOP"),
    ("3463", "FIND"),
    ("1234", None),
    ("7777", None),
    ("0000", None),
    ("5000", None),
)
_LOCAL_FEATURE_SETS: Final = (
    ("voice", "sms", "mms"),
    ("voice", "sms", "mms"),
    ("voice", "sms", "mms"),
    ("voice", "sms", "mms", "emergency"),
    ("voice", "sms", "mms", "emergency"),
    ("voice", "sms", "mms", "fax"),
    ("voice",),
    ("voice", "emergency"),
)
_TOLL_FREE_FEATURE_SETS: Final = (("voice", "sms"), ("voice", "sms"), ("voice",))
_LOCAL_COUNT: Final = 30
_TOLL_FREE_COUNT: Final = 15
_KEYPAD: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "22233344455566677778889999")
_E164: Final = re.compile(r"^\+[1-9]\d{7,14}$")
_NANP: Final = re.compile(r"^\+1([2-9]\d{2})(\d{7})$")
_AREA_CODE: Final = re.compile(r"^[2-9]\d{2}$")
_PATTERN: Final = re.compile(r"^[0-9A-Za-z]{1,11}$")
READ_SCOPES: Final = frozenset({"numbers:read", "billing:read", "agents:read"})
ALL_SCOPES: Final = READ_SCOPES | {"numbers:write", "billing:write", "agents:write"}


# --- JSON with Decimal money -------------------------------------------------------------


def dumps_json(value: object) -> str:
    """JSON text for `value`; a Decimal becomes a plain number token, a float is refused."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def _encode(value: object, out: list[str]) -> None:
    if value is None or isinstance(value, bool):
        out.append({None: "null", True: "true", False: "false"}[value])
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a JSON number: {value!r}")
        out.append(format(value, "f"))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, str):
        out.append(json.dumps(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append("," if i else "")
            out.append(json.dumps(str(key)) + ":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            _encode(item, out)
        out.append("]")
    else:  # floats included: money must never be binary floating point
        raise TypeError(f"cannot encode {type(value).__name__} as sandbox JSON")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def loads_json(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as a Decimal; NaN and Infinity are refused."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def _canonical(value: object) -> object:
    """`value` with sorted keys and normalized Decimals, for comparing request bodies."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- the documented variants ------------------------------------------------------------

ProblemStyle = Literal["code", "type_only"]
ReservationStyle = Literal["full", "id_only"]
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
      key and before it takes effect, so a replay can arrive while it is still running.
    """

    problems: ProblemStyle = "code"
    reservations: ReservationStyle = "full"
    page_size: int = 100
    pagination: PaginationStyle = "next_cursor"
    rate_limit: int | None = None
    rate_window: float = 60.0
    retry_after: bool = True
    amounts_on_402: bool = True
    processing_delay: float = 0.0

    def __post_init__(self) -> None:
        choices = {
            "problems": get_args(ProblemStyle),
            "reservations": get_args(ReservationStyle),
            "pagination": get_args(PaginationStyle),
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
        for name in ("retry_after", "amounts_on_402"):
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


# --- errors ------------------------------------------------------------------------------


class ApiError(Exception):
    """A refusal the sandbox answers as an RFC 9457 problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: Sequence[tuple[str, str]] | None = None,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self, instance: str, style: ProblemStyle = "code") -> dict[str, object]:
        problem: dict[str, object] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if style == "code":
            problem["code"] = self.code
        if self.errors is not None:
            problem["errors"] = [{"field": f, "message": m} for f, m in self.errors]
        problem.update(self.extra)
        return problem


def invalid(errors: Sequence[tuple[str, str]]) -> ApiError:
    detail = "; ".join(f"{f}: {m}" for f, m in errors)
    return ApiError(400, "validation_error", f"The request is invalid: {detail}.", errors=errors)


def problem_response(error: ApiError, instance: str, style: ProblemStyle = "code") -> Response:
    return Response(
        dumps_json(error.body(instance, style)),
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=error.headers,
    )


def _unavailable(e164: str) -> ApiError:
    return ApiError(409, "number_unavailable", f"{e164} can no longer be held; search again.")


# --- state -------------------------------------------------------------------------------


@dataclass
class AvailableNumber:
    """A number in the carrier inventory (mutable, so tests can change a price)."""

    e164: str
    number_type: str
    locality: str | None
    region: str | None
    features: tuple[str, ...]
    setup_cost: Decimal
    monthly_cost: Decimal
    vanity_format: str | None = None

    @property
    def area_code(self) -> str:
        return self.e164[2:5]

    @property
    def formatted(self) -> str:
        return f"+1 {self.e164[2:5]}-{self.e164[5:8]}-{self.e164[8:]}"

    def to_json(self, *, reservable: bool = True, best_effort: bool = False) -> dict[str, object]:
        return {
            "e164": self.e164,
            "formatted": self.formatted,
            "locality": self.locality,
            "region": self.region,
            "rateCenter": self.locality.upper() if self.locality else None,
            "features": list(self.features),
            "monthlyCost": self.monthly_cost,
            "setupCost": self.setup_cost,
            "currency": "USD",
            "reservable": reservable,
            "vanityFormat": self.vanity_format,
            "bestEffort": best_effort,
        }


@dataclass
class Reservation:
    id: str
    e164: str
    created_at: datetime
    expires_at: datetime
    setup_cost: Decimal
    monthly_cost: Decimal
    state: Literal["active", "consumed", "cancelled"] = "active"

    def holds(self, now: datetime) -> bool:
        return self.state == "active" and now < self.expires_at

    def status(self, now: datetime) -> str:
        return "expired" if self.state == "active" and not self.holds(now) else self.state

    def to_json(self, now: datetime) -> dict[str, object]:
        return {
            "id": self.id,
            "e164": self.e164,
            "status": self.status(now),
            "expiresAt": _iso(self.expires_at),
            "createdAt": _iso(self.created_at),
            "setupCost": self.setup_cost,
            "monthlyCost": self.monthly_cost,
        }


@dataclass
class OwnedNumber:
    id: str
    e164: str
    provider: str
    monthly_cost: Decimal
    created_at: datetime
    seq: int
    default_agent_id: str | None = None

    @property
    def status(self) -> str:
        return "assigned" if self.default_agent_id else "available"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "organizationId": ORGANIZATION_ID,
            "e164": self.e164,
            "provider": self.provider,
            "defaultAgentId": self.default_agent_id,
            "monthlyCost": self.monthly_cost,
            "createdAt": _iso(self.created_at),
            "status": self.status,
        }


@dataclass
class Agent:
    id: str
    name: str
    version: int
    created_at: datetime
    updated_at: datetime
    seq: int
    published_version_id: str | None = None
    is_active: bool = True

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "publishedVersionId": self.published_version_id,
            "isActive": self.is_active,
            "createdAt": _iso(self.created_at),
            "updatedAt": _iso(self.updated_at),
        }


@dataclass
class AgentVersion:
    id: str
    agent_id: str
    version: int
    note: str | None
    published_at: datetime
    published_by: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "agentId": self.agent_id,
            "version": self.version,
            "note": self.note,
            "publishedAt": _iso(self.published_at),
            "publishedBy": self.published_by,
        }


@dataclass
class Wallet:
    balance_usd: Decimal
    auto_reload_enabled: bool = False
    auto_reload_threshold_usd: Decimal = Decimal("5.00")
    auto_reload_amount_usd: Decimal = Decimal("25.00")

    def to_json(self) -> dict[str, object]:
        return {
            "balanceUsd": _money(self.balance_usd),
            "autoReloadEnabled": self.auto_reload_enabled,
            "autoReloadThresholdUsd": self.auto_reload_threshold_usd,
            "autoReloadAmountUsd": self.auto_reload_amount_usd,
        }


@dataclass
class TopUp:
    id: str
    amount_usd: Decimal
    client_secret: str
    created_at: datetime
    settled: bool = False


@dataclass(frozen=True)
class _Replay:
    fingerprint: str
    status: int
    payload: str
    stored_at: datetime


@dataclass(frozen=True)
class SearchQuery:
    area_code: str | None = None
    number_type: str | None = None
    locality: str | None = None
    administrative_area: str | None = None
    features: frozenset[str] = frozenset()
    contains: str | None = None
    starts_with: str | None = None
    ends_with: str | None = None
    country: str = "US"
    best_effort: bool = True
    limit: int = 20


# --- requests and results ----------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: Mapping[str, Any]
    now: datetime


@dataclass(frozen=True)
class _Result:
    data: object
    status: int = 200
    page: bool = False
    next_cursor: str | None = None

    def envelope(self, pagination: PaginationStyle = "next_cursor") -> dict[str, object]:
        """The success envelope; a list page places its cursor as `pagination` says."""
        if not self.page:
            return {"success": True, "data": self.data}
        cursor, more = self.next_cursor, self.next_cursor is not None
        shapes: dict[str, dict[str, object]] = {
            "next_cursor": {"data": self.data, "nextCursor": cursor},
            "items": {"data": {"items": self.data, "nextCursor": cursor}},
            "pagination": {
                "data": self.data,
                "pagination": {"nextCursor": cursor, "hasMore": more},
            },
            "meta": {"data": self.data, "meta": {"nextCursor": cursor}},
            "has_more": {"data": self.data, "hasMore": more},
            "links": {"data": self.data, "links": {"next": f"?cursor={cursor}" if more else None}},
            "no_cursor": {"data": self.data},
            "repeat": {"data": self.data, "nextCursor": cursor},
        }
        return {"success": True, **shapes[pagination]}


_Handler = Callable[[_Call], _Result]
_Endpoint = Callable[[Request], Awaitable[Response]]


def _api_key(request: Request) -> str:
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


async def _read_body(request: Request) -> dict[str, Any]:
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


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key.strip()) <= 255:
        raise invalid([("Idempotency-Key", "must be 1 to 255 characters")])
    return key.strip() if key is not None else None


def _json_response(result: _Result, pagination: PaginationStyle) -> Response:
    return Response(
        dumps_json(result.envelope(pagination)),
        status_code=result.status,
        media_type=JSON_MEDIA_TYPE,
    )


def _require_e164(body: Mapping[str, Any], name: str = "e164") -> str:
    value = body.get(name)
    if not isinstance(value, str) or not _E164.match(value):
        raise invalid([(name, "must be an E.164 number such as +14155550123")])
    return value


def _optional_str(body: Mapping[str, Any], name: str, max_length: int = 200) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise invalid([(name, f"must be a string of 1 to {max_length} characters")])
    return value


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid([(name, f"must be an integer from {low} to {high}")])
    return int(raw)


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    prefix, _, seq = text.partition(":")
    if prefix != "after" or not seq.isdigit():
        raise invalid([("cursor", "is not a cursor this API returned")])
    return int(seq)


def _page(
    items: Iterable[tuple[int, dict[str, object]]], query: Mapping[str, str], variants: Variants
) -> _Result:
    """One page of (seq, json) items in seq order, after the query's cursor; a page holds at
    most `limit` and at most the variants' `page_size` items."""
    limit = min(_int_param(query, "limit", 20, 1, 100), variants.page_size)
    cursor = query.get("cursor")
    after = _decode_cursor(cursor) if cursor else -1
    every = sorted(items, key=lambda pair: pair[0])
    rest = [pair for pair in every if pair[0] > after]
    page = rest[:limit]
    more = len(rest) > limit
    next_cursor = _encode_cursor(page[-1][0]) if more and page else None
    if variants.pagination == "repeat" and more:
        next_cursor = _encode_cursor(every[:limit][-1][0])  # always "after the first page"
    return _Result([data for _, data in page], page=True, next_cursor=next_cursor)


# --- search ------------------------------------------------------------------------------


def _keypad_digits(pattern: str) -> str:
    return pattern.upper().translate(_KEYPAD)


def parse_search(query: Mapping[str, str]) -> SearchQuery:
    """The search query parameters, validated; every problem is reported at once."""
    errors: list[tuple[str, str]] = []

    def text(name: str, pattern: re.Pattern[str], message: str) -> str | None:
        value = query.get(name)
        if value is not None and not pattern.match(value):
            errors.append((name, message))
            return None
        return value

    area_code = text("areaCode", _AREA_CODE, "must be a 3-digit US area code (200-999)")
    number_type = query.get("numberType")
    if number_type is not None and number_type not in NUMBER_TYPES:
        errors.append(("numberType", f"must be one of {', '.join(NUMBER_TYPES)}"))
    locality = text("locality", re.compile(r"^.{1,64}$"), "must be 1 to 64 characters")
    admin = text("administrativeArea", re.compile(r"^[A-Za-z]{2}$"), "must be a 2-letter state")
    country = text("country", re.compile(r"^[A-Za-z]{2}$"), "must be a 2-letter country code")
    features = frozenset(
        f.strip().lower() for f in query.get("features", "").split(",") if f.strip()
    )
    unknown = sorted(features - set(FEATURES))
    if unknown:
        errors.append(("features", f"unknown {unknown[0]!r}; use {', '.join(FEATURES)}"))
    digits = "must be 1 to 11 digits (letters map to the phone keypad)"
    patterns = {
        name: text(name, _PATTERN, digits) for name in ("contains", "startsWith", "endsWith")
    }
    best_effort = query.get("bestEffort", "true").lower()
    if best_effort not in ("true", "false", "1", "0"):
        errors.append(("bestEffort", "must be true or false"))
    try:
        limit = _int_param(query, "limit", 20, 1, 50)
    except ApiError as exc:
        errors.extend(exc.errors or ())
        limit = 20
    if errors:
        raise invalid(errors)
    return SearchQuery(
        area_code=area_code,
        number_type=number_type,
        locality=locality,
        administrative_area=admin.upper() if admin else None,
        features=features,
        contains=_keypad_digits(patterns["contains"]) if patterns["contains"] else None,
        starts_with=_keypad_digits(patterns["startsWith"]) if patterns["startsWith"] else None,
        ends_with=_keypad_digits(patterns["endsWith"]) if patterns["endsWith"] else None,
        country=(country or "US").upper(),
        best_effort=best_effort in ("true", "1"),
        limit=limit,
    )


def _matches_digits(number: AvailableNumber, q: SearchQuery) -> bool:
    national, full = number.e164[2:], number.e164[1:]
    return (
        (q.contains is None or q.contains in full)
        and (
            q.starts_with is None
            or full.startswith(q.starts_with)
            or national.startswith(q.starts_with)
        )
        and (q.ends_with is None or national.endswith(q.ends_with))
    )


def _matches_place(number: AvailableNumber, q: SearchQuery) -> bool:
    return (q.locality is None or (number.locality or "").casefold() == q.locality.casefold()) and (
        q.administrative_area is None or number.region == q.administrative_area
    )


def _matches(number: AvailableNumber, q: SearchQuery) -> bool:
    return (
        (q.number_type is None or number.number_type == q.number_type)
        and q.features <= set(number.features)
        and _matches_place(number, q)
        and _matches_digits(number, q)
    )


def _widenings(q: SearchQuery) -> Iterable[SearchQuery]:
    """Ever looser versions of `q`, for a best-effort search that found nothing exact."""
    steps: tuple[Callable[[SearchQuery], SearchQuery], ...] = (
        lambda s: replace(s, contains=None, starts_with=None, ends_with=None),
        lambda s: replace(s, locality=None, administrative_area=None),
        lambda s: replace(s, features=frozenset()),
    )
    loose = q
    for step in steps:
        wider = step(loose)
        if wider != loose:
            loose = wider
            yield loose


def _area_place(area_code: str) -> tuple[tuple[str, str], ...]:
    known = KNOWN_AREAS.get(area_code)
    if known:
        return known
    n = int(area_code)
    return ((_GENERIC_TOWNS[n % len(_GENERIC_TOWNS)], _GENERIC_STATES[n % len(_GENERIC_STATES)]),)


def generate_inventory(area_code: str, seed: int) -> list[AvailableNumber]:
    """The deterministic inventory of one area code (empty for an invalid code)."""
    if not _AREA_CODE.match(area_code):
        return []
    rng = random.Random(f"{seed}:{area_code}")  # noqa: S311 - test data, not secrets
    toll_free = area_code in TOLL_FREE_CODES
    count = _TOLL_FREE_COUNT if toll_free else _LOCAL_COUNT
    vanity = rng.sample(_VANITY_LINES, 4 if toll_free else 5)
    taken = {line for line, _ in vanity}
    plain = [f"{n:04d}" for n in rng.sample(range(10000), count + len(_VANITY_LINES))]
    lines = vanity + [(line, None) for line in plain if line not in taken][: count - len(vanity)]
    places = _area_place(area_code)
    number_type = "toll_free" if toll_free else "local"
    setup, monthly = PRICES[number_type]
    numbers = []
    for line, word in lines:
        place = places[0] if len(places) == 1 or rng.random() < 0.7 else rng.choice(places[1:])
        feature_sets = _TOLL_FREE_FEATURE_SETS if toll_free else _LOCAL_FEATURE_SETS
        numbers.append(
            AvailableNumber(
                e164=f"+1{area_code}555{line}",
                number_type=number_type,
                locality=None if toll_free else place[0],
                region=None if toll_free else place[1],
                features=rng.choice(feature_sets),
                setup_cost=setup,
                monthly_cost=monthly,
                vanity_format=f"+1 {area_code}-555-{word}" if word else None,
            )
        )
    return sorted(numbers, key=lambda n: n.e164)


# --- the sandbox -------------------------------------------------------------------------


class SandboxFlowyte:
    """One in-memory Flowyte organization. State is public so tests can inspect and poke it:

    `wallet` (`balance` is a shortcut to `wallet.balance_usd`), `reservations`, `numbers`
    (owned, by id), `agents`, `versions`, `topups`, `inventory` (by e164, filled per area
    code on first use; see `inventory_for`), `unavailable` (e164s taken elsewhere or released).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        balance: Decimal = Decimal("25.00"),
        seed: int = 7,
        require_published_agent: bool = False,
        variants: Variants | None = None,
        key_scopes: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """`variants` picks among the answer shapes Flowyte's docs allow (see Variants);
        `key_scopes` gives exact API keys their own scopes (see `set_key_scopes`)."""
        self._clock = clock or _utcnow
        self.seed = seed
        self.require_published_agent = require_published_agent
        self._lock = threading.RLock()
        self.variants = variants or Variants()
        self.key_scopes: dict[str, frozenset[str]] = {}
        for key, scopes in (key_scopes or {}).items():
            self.set_key_scopes(key, scopes)
        self._window: tuple[datetime, int] | None = None  # rate limit: (start, calls)
        self._in_flight: dict[str, str] = {}  # Idempotency-Key -> fingerprint, while running
        self.wallet = Wallet(balance_usd=balance)
        self.reservations: dict[str, Reservation] = {}
        self.numbers: dict[str, OwnedNumber] = {}
        self.agents: dict[str, Agent] = {}
        self.versions: dict[str, AgentVersion] = {}
        self.topups: list[TopUp] = []
        self.inventory: dict[str, AvailableNumber] = {}
        self.unavailable: set[str] = set()
        self._generated: set[str] = set()
        self._replays: dict[str, _Replay] = {}
        self._ids = random.Random(seed)  # noqa: S311 - ids in a sandbox, not secrets
        self._seq = 0
        self._app: Starlette | None = None
        self._seed_agents()

    # --- conveniences for tests and the demo ---

    @property
    def balance(self) -> Decimal:
        return self.wallet.balance_usd

    @balance.setter
    def balance(self, amount: Decimal) -> None:
        self.wallet.balance_usd = amount

    def configure(self, **changes: Any) -> Variants:
        """Switch answer variants on a live sandbox, e.g. `configure(problems="type_only")`."""
        with self._lock:
            return self.use_variants(self.variants.with_changes(changes))

    def use_variants(self, variants: Variants) -> Variants:
        """Answer in `variants` from now on; a rate-limit window starts afresh."""
        with self._lock:
            self.variants = variants
            self._window = None
            return variants

    def set_key_scopes(self, key: str, scopes: Iterable[str] | None) -> None:
        """Give the exact API `key` these scopes (None: back to the default for its shape)."""
        with self._lock:
            if scopes is None:
                self.key_scopes.pop(key, None)
                return
            granted = frozenset(scopes)
            unknown = sorted(granted - ALL_SCOPES)
            if unknown:
                raise ValueError(f"unknown scopes: {', '.join(unknown)}")
            self.key_scopes[key] = granted

    def scopes_for(self, key: str) -> frozenset[str]:
        """A key's scopes: as set for it, else read-only if it contains `readonly`, else all."""
        with self._lock:
            granted = self.key_scopes.get(key)
        if granted is not None:
            return granted
        return READ_SCOPES if "readonly" in key else ALL_SCOPES

    def idempotency_in_progress(self, key: str) -> bool:
        """Whether a call with this Idempotency-Key has claimed it and not finished yet."""
        with self._lock:
            return key in self._in_flight

    def now(self) -> datetime:
        moment = self._clock()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def inventory_for(self, area_code: str) -> list[AvailableNumber]:
        """Every inventory number of an area code (held and owned ones included)."""
        with self._lock:
            self._generate(area_code)
            return sorted(
                (n for n in self.inventory.values() if n.area_code == area_code),
                key=lambda n: n.e164,
            )

    def lookup(self, e164: str) -> AvailableNumber | None:
        """The inventory entry for `e164`, whatever its state, or None."""
        match = _NANP.match(e164)
        if match:
            self.inventory_for(match.group(1))
        return self.inventory.get(e164)

    def take_elsewhere(self, e164: str) -> None:
        """Someone outside this organization buys `e164`: it is gone from the inventory."""
        with self._lock:
            self.unavailable.add(e164)

    def settle_topups(self) -> Decimal:
        """Credit every pending top-up, as a confirmed card payment would; returns the sum."""
        with self._lock:
            total = Decimal("0.00")
            for topup in self.topups:
                if not topup.settled:
                    topup.settled = True
                    total += topup.amount_usd
            self.wallet.balance_usd += total
            return total

    def asgi(self) -> Starlette:
        """The ASGI app, with the API mounted under /api/v1 (built once)."""
        if self._app is None:
            self._app = self._build_app()
        return self._app

    # --- internals ---

    def _generate(self, area_code: str) -> None:
        if area_code not in self._generated:
            self._generated.add(area_code)
            for number in generate_inventory(area_code, self.seed):
                self.inventory.setdefault(number.e164, number)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{self._ids.getrandbits(64):016x}"

    def _seed_agents(self) -> None:
        now = self.now()
        seeds = (
            ("agt_support", "Support line", 3, True),
            ("agt_sales", "Sales", 1, True),
            ("agt_draft", "After-hours (draft)", 1, False),
        )
        for i, (agent_id, name, version, published) in enumerate(seeds):
            created = now - timedelta(days=30 - i)
            agent = Agent(agent_id, name, version, created, created, seq=self._next_seq())
            if published:
                ver = AgentVersion(
                    self._new_id("ver"), agent_id, version, "Initial setup", created, "usr_admin"
                )
                self.versions[ver.id] = ver
                agent.published_version_id = ver.id
            self.agents[agent_id] = agent

    def _owned_e164s(self) -> set[str]:
        return {n.e164 for n in self.numbers.values()}

    def _held_e164s(self, now: datetime) -> set[str]:
        return {r.e164 for r in self.reservations.values() if r.holds(now)}

    def _gone(self, e164: str) -> bool:
        return e164 in self.unavailable or e164 in self._owned_e164s()

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ApiError(404, "agent_not_found", f"No agent {agent_id} in this organization.")
        return agent

    def _number(self, number_id: str) -> OwnedNumber:
        number = self.numbers.get(number_id)
        if number is None:
            raise ApiError(404, "number_not_found", f"No number {number_id} in this organization.")
        return number

    def _routable_agent(self, agent_id: str) -> Agent:
        agent = self._agent(agent_id)
        if self.require_published_agent and agent.published_version_id is None:
            raise ApiError(
                409, "no_published_version", f"Agent {agent_id} must be published first."
            )
        return agent

    # --- handlers: synchronous, called under the lock ---

    def _search(self, call: _Call) -> _Result:
        q = parse_search(call.query)
        candidates = self._search_universe(q, call.now)
        found = [n for n in candidates if _matches(n, q)]
        best_effort = False
        if not found and q.best_effort:
            for wider in _widenings(q):
                found = [n for n in candidates if _matches(n, wider)]
                if found:
                    best_effort = True
                    break
        return _Result([n.to_json(best_effort=best_effort) for n in found[: q.limit]])

    def _search_universe(self, q: SearchQuery, now: datetime) -> list[AvailableNumber]:
        if q.country != "US":
            return []
        if q.area_code:
            codes: list[str] = [q.area_code]
        else:
            codes = [c for c in KNOWN_AREAS if q.number_type in (None, "local")]
            codes += [c for c in TOLL_FREE_CODES if q.number_type in (None, "toll_free")]
        for code in codes:
            self._generate(code)
        order = {code: i for i, code in enumerate(codes)}
        gone = self._owned_e164s() | self._held_e164s(now) | self.unavailable
        pool = [n for n in self.inventory.values() if n.area_code in order and n.e164 not in gone]
        return sorted(pool, key=lambda n: (order[n.area_code], n.e164))

    def _available(self, call: _Call) -> _Result:
        e164 = _require_e164(call.params)
        number = self.lookup(e164)
        if number is None or self._gone(e164):
            raise ApiError(404, "not_found", f"{e164} is not available.")
        held = e164 in self._held_e164s(call.now)
        return _Result(number.to_json(reservable=not held))

    def _reserve(self, call: _Call) -> _Result:
        e164 = _require_e164(call.body)
        number = self.lookup(e164)
        if number is None or self._gone(e164) or e164 in self._held_e164s(call.now):
            raise _unavailable(e164)
        reservation = Reservation(
            id=self._new_id("rsv"),
            e164=e164,
            created_at=call.now,
            expires_at=call.now + HOLD_DURATION,
            setup_cost=number.setup_cost,
            monthly_cost=number.monthly_cost,
        )
        self.reservations[reservation.id] = reservation
        if self.variants.reservations == "id_only":
            return _Result({"id": reservation.id}, status=201)
        return _Result(reservation.to_json(call.now), status=201)

    def _cancel_reservation(self, call: _Call) -> _Result:
        reservation = self.reservations.get(call.params["id"])
        if reservation is None:
            raise ApiError(404, "reservation_not_found", "No such reservation.")
        if reservation.state == "consumed":
            raise ApiError(
                409, "reservation_consumed", "The reservation was used to buy its number."
            )
        if reservation.holds(call.now):
            reservation.state = "cancelled"
        return _Result(reservation.to_json(call.now))

    def _purchase(self, call: _Call) -> _Result:
        e164 = _require_e164(call.body)
        reservation_id = _optional_str(call.body, "reservationId")
        reservation = None
        if reservation_id is not None:
            reservation = self._usable_reservation(reservation_id, e164, call.now)
            setup, monthly = reservation.setup_cost, reservation.monthly_cost
            if self._gone(e164):
                raise _unavailable(e164)
        else:
            number = self.lookup(e164)
            if number is None or self._gone(e164) or e164 in self._held_e164s(call.now):
                raise _unavailable(e164)
            setup, monthly = number.setup_cost, number.monthly_cost
        self._debit(setup + monthly)
        if reservation is not None:
            reservation.state = "consumed"
        owned = OwnedNumber(
            id=self._new_id("num"),
            e164=e164,
            provider="sandbox-carrier",
            monthly_cost=monthly,
            created_at=call.now,
            seq=self._next_seq(),
        )
        self.numbers[owned.id] = owned
        return _Result(owned.to_json(), status=201)

    def _usable_reservation(self, reservation_id: str, e164: str, now: datetime) -> Reservation:
        reservation = self.reservations.get(reservation_id)
        if reservation is None or reservation.state == "cancelled":
            raise ApiError(404, "reservation_not_found", f"No reservation {reservation_id}.")
        if reservation.e164 != e164:
            raise ApiError(
                422,
                "reservation_mismatch",
                f"Reservation {reservation_id} holds {reservation.e164}, not {e164}.",
            )
        if reservation.state == "consumed":
            raise _unavailable(e164)
        if not reservation.holds(now):
            raise ApiError(
                409, "reservation_expired", f"The hold on {e164} expired; reserve it again."
            )
        return reservation

    def _debit(self, cost: Decimal) -> None:
        balance = self.wallet.balance_usd
        if balance < cost and not self.variants.amounts_on_402:
            raise ApiError(
                402,
                "insufficient_balance",
                "The wallet balance does not cover this purchase. Top up and retry.",
            )
        if balance < cost:
            raise ApiError(
                402,
                "insufficient_balance",
                f"The wallet holds {usd(balance)}, {usd(cost - balance)} short of the "
                f"{usd(cost)} this purchase costs. Top up and retry.",
                extra={
                    "balanceUsd": _money(balance),
                    "requiredUsd": _money(cost),
                    "shortfallUsd": _money(cost - balance),
                },
            )
        self.wallet.balance_usd = balance - cost

    def _import(self, call: _Call) -> _Result:
        e164 = _require_e164(call.body)
        agent_id = _optional_str(call.body, "agentId")
        if e164 in self._owned_e164s():
            raise ApiError(409, "already_exists", f"{e164} is already in this organization.")
        agent = self._routable_agent(agent_id) if agent_id is not None else None
        owned = OwnedNumber(
            id=self._new_id("num"),
            e164=e164,
            provider="imported",
            monthly_cost=Decimal("0.00"),
            created_at=call.now,
            seq=self._next_seq(),
            default_agent_id=agent.id if agent else None,
        )
        self.numbers[owned.id] = owned
        return _Result(owned.to_json(), status=201)

    def _list_numbers(self, call: _Call) -> _Result:
        numbers = ((n.seq, n.to_json()) for n in self.numbers.values())
        return _page(numbers, call.query, self.variants)

    def _get_number(self, call: _Call) -> _Result:
        return _Result(self._number(call.params["id"]).to_json())

    def _assign(self, call: _Call) -> _Result:
        number = self._number(call.params["id"])
        agent_id = call.body.get("agentId")
        if not isinstance(agent_id, str) or not agent_id:
            raise invalid([("agentId", "is required")])
        number.default_agent_id = self._routable_agent(agent_id).id
        return _Result(number.to_json())

    def _unassign(self, call: _Call) -> _Result:
        number = self._number(call.params["id"])
        number.default_agent_id = None
        return _Result(number.to_json())

    def _release(self, call: _Call) -> _Result:
        number = self.numbers.pop(self._number(call.params["id"]).id)
        self.unavailable.add(number.e164)
        return _Result({**number.to_json(), "status": "released"})

    def _list_agents(self, call: _Call) -> _Result:
        return _page(
            ((a.seq, a.to_json()) for a in self.agents.values()), call.query, self.variants
        )

    def _get_agent(self, call: _Call) -> _Result:
        return _Result(self._agent(call.params["id"]).to_json())

    def _publish(self, call: _Call) -> _Result:
        agent = self._agent(call.params["id"])
        note = _optional_str(call.body, "note", max_length=500)
        number = 1 + max(
            (v.version for v in self.versions.values() if v.agent_id == agent.id), default=0
        )
        version = AgentVersion(self._new_id("ver"), agent.id, number, note, call.now, "api_key")
        self.versions[version.id] = version
        agent.version = max(agent.version, number)
        agent.published_version_id = version.id
        agent.updated_at = call.now
        return _Result(version.to_json(), status=201)

    def _get_wallet(self, call: _Call) -> _Result:
        return _Result(self.wallet.to_json())

    def _topup(self, call: _Call) -> _Result:
        amount = call.body.get("amountUsd")
        if (
            isinstance(amount, bool)
            or not isinstance(amount, Decimal | int)
            or not 0 < amount <= 10000
            or Decimal(amount) != _money(Decimal(amount))
        ):
            raise invalid([("amountUsd", "must be a number of dollars and cents, up to 10000")])
        topup_id = self._new_id("pi")
        topup = TopUp(
            topup_id,
            _money(Decimal(amount)),
            f"{topup_id}_secret_{self._ids.getrandbits(48):012x}",
            call.now,
        )
        self.topups.append(topup)
        return _Result({"clientSecret": topup.client_secret, "amountUsd": topup.amount_usd}, 201)

    # --- HTTP wiring ---

    def _authorize(self, request: Request, scope: str) -> None:
        if scope not in self.scopes_for(_api_key(request)):
            raise ApiError(
                403,
                "insufficient_scope",
                f"This API key lacks the {scope} scope.",
                extra={"requiredScope": scope},
            )

    def _admit(self, now: datetime) -> dict[str, str]:
        """Count one call against the organization's rate limit: the RateLimit-* headers to
        send, or a 429 (with them, and Retry-After unless switched off) when over it."""
        limit, window = self.variants.rate_limit, self.variants.rate_window
        if limit is None:
            return {}
        with self._lock:
            start, calls = self._window or (now, 0)
            if now >= start + timedelta(seconds=window):
                start, calls = now, 0
            calls += 1
            self._window = (start, calls)
        reset = max(0, math.ceil((start + timedelta(seconds=window) - now).total_seconds()))
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(0, limit - calls)),
            "RateLimit-Reset": str(reset),
        }
        if calls > limit:
            if self.variants.retry_after:
                headers["Retry-After"] = str(reset)
            raise ApiError(
                429,
                "rate_limited",
                f"More than {limit} calls in {window:g} seconds; wait and retry.",
                headers=headers,
            )
        return headers

    def _problem(self, error: ApiError, instance: str) -> Response:
        return problem_response(error, instance, self.variants.problems)

    def _endpoint(self, handler: _Handler, scope: str, *, idempotent: bool = False) -> _Endpoint:
        async def endpoint(request: Request) -> Response:
            limits: dict[str, str] = {}
            try:
                self._authorize(request, scope)
                limits = self._admit(self.now())
                key = _idempotency_key(request) if idempotent else None
                body = await _read_body(request)
                if key is None:
                    with self._lock:  # no await below: each request's state change is atomic
                        call = _Call(
                            dict(request.path_params), request.query_params, body, self.now()
                        )
                        response = _json_response(handler(call), self.variants.pagination)
                else:
                    response = await self._idempotent(key, request, body, handler)
            except ApiError as exc:
                response = self._problem(exc, request.url.path)
            response.headers.update(limits)
            return response

        return endpoint

    async def _idempotent(
        self, key: str, request: Request, body: dict[str, Any], handler: _Handler
    ) -> Response:
        """Run a call under its Idempotency-Key: replay a stored success, refuse a key that is
        running (409 idempotency_in_progress, [inferred]) or was used for another request
        (422 idempotency_mismatch), else claim the key, work, and store a success."""
        fingerprint = dumps_json([request.method, request.url.path, _canonical(body)])
        with self._lock:
            now = self.now()
            stored = self._replays.get(key)
            if stored is not None and now - stored.stored_at < IDEMPOTENCY_TTL:
                if stored.fingerprint != fingerprint:
                    raise _idempotency_mismatch()
                return Response(
                    stored.payload,
                    status_code=stored.status,
                    media_type=JSON_MEDIA_TYPE,
                    headers={"Idempotent-Replayed": "true"},
                )
            running = self._in_flight.get(key)
            if running is not None:
                if running != fingerprint:
                    raise _idempotency_mismatch()
                raise ApiError(
                    409,
                    "idempotency_in_progress",
                    "A request with this Idempotency-Key is still being processed; retry later.",
                    headers={"Retry-After": "1"},
                )
            self._in_flight[key] = fingerprint
        try:
            if self.variants.processing_delay:
                await asyncio.sleep(self.variants.processing_delay)
            with self._lock:
                call = _Call(dict(request.path_params), request.query_params, body, self.now())
                result = handler(call)
                payload = dumps_json(result.envelope(self.variants.pagination))
                self._replays[key] = _Replay(fingerprint, result.status, payload, call.now)
        finally:
            with self._lock:
                self._in_flight.pop(key, None)
        return Response(payload, status_code=result.status, media_type=JSON_MEDIA_TYPE)

    def _build_app(self) -> Starlette:
        read, write = "numbers:read", "numbers:write"
        ep = self._endpoint
        routes = [
            Route("/numbers/search", ep(self._search, read), methods=["GET"]),
            Route("/numbers/available/{e164}", ep(self._available, read), methods=["GET"]),
            Route("/numbers/reserve", ep(self._reserve, write), methods=["POST"]),
            Route("/numbers/reserve/{id}", ep(self._cancel_reservation, write), methods=["DELETE"]),
            Route(
                "/numbers/purchase", ep(self._purchase, write, idempotent=True), methods=["POST"]
            ),
            Route("/numbers/import", ep(self._import, write), methods=["POST"]),
            Route("/numbers", ep(self._list_numbers, read), methods=["GET"]),
            Route("/numbers/{id}", ep(self._get_number, read), methods=["GET"]),
            Route("/numbers/{id}", ep(self._release, write), methods=["DELETE"]),
            Route("/numbers/{id}/assign", ep(self._assign, write), methods=["POST"]),
            Route("/numbers/{id}/assign", ep(self._unassign, write), methods=["DELETE"]),
            Route("/agents", ep(self._list_agents, "agents:read"), methods=["GET"]),
            Route("/agents/{id}", ep(self._get_agent, "agents:read"), methods=["GET"]),
            Route(
                "/agents/{id}/publish",
                ep(self._publish, "agents:write", idempotent=True),
                methods=["POST"],
            ),
            Route("/billing/wallet", ep(self._get_wallet, "billing:read"), methods=["GET"]),
            Route(
                "/billing/wallet/topup",
                ep(self._topup, "billing:write", idempotent=True),
                methods=["POST"],
            ),
        ]
        return Starlette(
            routes=[Mount(API_PREFIX, routes=routes)],
            exception_handlers={ApiError: self._on_api_error, HTTPException: self._on_http_error},
        )

    async def _on_api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return self._problem(exc, request.url.path)

    async def _on_http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        codes = {404: "not_found", 405: "method_not_allowed"}
        error = ApiError(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=exc.headers,
        )
        return self._problem(error, request.url.path)


def _idempotency_mismatch() -> ApiError:
    return ApiError(
        422, "idempotency_mismatch", "This Idempotency-Key was used with a different request."
    )

"""Searching the sandbox's inventory: the query parameters, and which numbers match.

- A search without `areaCode` looks through the named area codes (415, 212, 512, 206...)
  and, unless `numberType` says otherwise, the toll-free codes; outside the US it finds
  nothing.
- `bestEffort` (default true) widens only when nothing matches exactly: first the digit
  patterns are dropped, then `locality`/`administrativeArea`, then `features`; every widened
  result carries `bestEffort: true`. `areaCode`, `numberType` and `country` never widen.
- Letters in the digit patterns are phone keypad digits (CALL is 2255).

Which numbers are candidates at all (held, owned and released ones are not) is the
endpoint's business (endpoints.py); this module only matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from bot.sandbox.calls import int_param
from bot.sandbox.inventory import (
    AREA_CODE,
    FEATURES,
    KNOWN_AREAS,
    NUMBER_TYPES,
    TOLL_FREE_CODES,
    AvailableNumber,
)
from bot.sandbox.problems import ApiError, invalid

_KEYPAD: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "22233344455566677778889999")
_PATTERN: Final = re.compile(r"^[0-9A-Za-z]{1,11}$")


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

    area_code = text("areaCode", AREA_CODE, "must be a 3-digit US area code (200-999)")
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
        limit = int_param(query, "limit", 20, 1, 50)
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


def area_codes(q: SearchQuery) -> list[str]:
    """The area codes a search looks through, in the order its results come."""
    if q.country != "US":
        return []
    if q.area_code:
        return [q.area_code]
    codes = [c for c in KNOWN_AREAS if q.number_type in (None, "local")]
    codes += [c for c in TOLL_FREE_CODES if q.number_type in (None, "toll_free")]
    return codes


def find(
    candidates: Sequence[AvailableNumber], q: SearchQuery
) -> tuple[list[AvailableNumber], bool]:
    """The candidates that match `q` (at most its `limit`), and whether the search had to be
    widened to find them (best effort)."""
    found = [n for n in candidates if _matches(n, q)]
    best_effort = False
    if not found and q.best_effort:
        for wider in _widenings(q):
            found = [n for n in candidates if _matches(n, wider)]
            if found:
                best_effort = True
                break
    return found[: q.limit], best_effort

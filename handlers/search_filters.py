"""The search filters and their checks, shared by every way of asking for a search.

`/numbers search 415 city=Austin` and the search modal must accept and refuse exactly the
same values with the same words, so both go through here:

    values = {"area_code": "415", "limit": "50"}     # raw text, by SearchQuery field
    checked = check(values)                           # SearchQuery, or {field: message}

Pure and total: no I/O, and nothing here raises for any input (a FilterError is caught by
`check`; the parser catches it too, to report the first mistake in the order it was typed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import ValidationError

from bot.flowyte.models import FEATURES, NUMBER_TYPES, SearchQuery

# What people may type before `=` (lower-cased), and the SearchQuery field it fills.
KEYS = {
    "areacode": "area_code",
    "area": "area_code",
    "type": "number_type",
    "numbertype": "number_type",
    "city": "locality",
    "locality": "locality",
    "state": "administrative_area",
    "administrativearea": "administrative_area",
    "features": "features",
    "contains": "contains",
    "startswith": "starts_with",
    "endswith": "ends_with",
    "country": "country",
    "besteffort": "best_effort",
    "limit": "limit",
}
# How a field is named back to people: the name the help text teaches.
NAMES = {
    "area_code": "areaCode",
    "number_type": "type",
    "locality": "city",
    "administrative_area": "state",
    "features": "features",
    "contains": "contains",
    "starts_with": "startsWith",
    "ends_with": "endsWith",
    "country": "country",
    "best_effort": "bestEffort",
    "limit": "limit",
}
FIELDS = tuple(NAMES)  # in the order SearchQuery declares them, which is the order errors take
BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_LIMIT = re.compile(r"[0-9]{1,3}")

# Why a value was refused: a phrase that reads after the filter's name ("`limit`: …") and,
# capitalised, alone under a modal's field.
MESSAGES = {
    "area_code": "an area code is three digits, like 415.",
    "administrative_area": "a state is two letters, like CA.",
    "country": "a country is two letters, like US.",
    "number_type": f"type is one of {', '.join(NUMBER_TYPES)}.",
    "features": f"features are a comma list of {', '.join(FEATURES)}.",
    "contains": "up to 10 digits or letters.",
    "starts_with": "up to 10 digits or letters.",
    "ends_with": "up to 10 digits or letters.",
    "limit": "a whole number from 1 to 50.",
    "locality": "a city name up to 64 characters.",
    "best_effort": "true or false.",
}
NO_FEATURES = f"at least one of {', '.join(FEATURES)}."


class FilterError(Exception):
    """A filter's value cannot be read; `message` says what it should be."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalise(field: str, raw: str) -> object:
    """One filter's text as SearchQuery takes it (upper-cased codes, a features tuple, an int
    limit, a bool), or FilterError when it cannot be read at all. SearchQuery checks the rest."""
    if field == "features":
        features = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
        if not features:
            raise FilterError(field, NO_FEATURES)
        return features
    if field == "best_effort":
        if raw.lower() not in BOOLS:
            raise FilterError(field, MESSAGES[field])
        return BOOLS[raw.lower()]
    if field == "limit":
        if not _LIMIT.fullmatch(raw):
            raise FilterError(field, MESSAGES[field])
        return int(raw)
    if field in ("administrative_area", "country", "contains", "starts_with", "ends_with"):
        return raw.upper()
    if field == "number_type":
        return raw.lower().replace("-", "_")
    return raw


def validate(values: Mapping[str, object]) -> SearchQuery | dict[str, str]:
    """Normalised values -> the query, or a message for each field that is wrong."""
    try:
        return SearchQuery.model_validate(dict(values))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "filter"
            errors.setdefault(field, MESSAGES.get(field, str(err["msg"])))
        return {f: errors[f] for f in sorted(errors, key=_order)}


def check(raw: Mapping[str, str]) -> SearchQuery | dict[str, str]:
    """Raw text by field -> the query, or every field's problem at once (for a modal)."""
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for field, text in raw.items():
        try:
            values[field] = normalise(field, text)
        except FilterError as exc:
            errors[field] = exc.message
    checked = validate({k: v for k, v in values.items() if k not in errors})
    if isinstance(checked, dict):
        errors.update(checked)
    if errors:
        return {f: errors[f] for f in sorted(errors, key=_order)}
    return checked


def _order(field: str) -> int:
    return FIELDS.index(field) if field in FIELDS else len(FIELDS)

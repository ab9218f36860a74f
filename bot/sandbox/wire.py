"""The sandbox's JSON: money is Decimal throughout, parsed with `parse_float=Decimal` and
written back as JSON number tokens without passing through float (a float is refused), and
the wire forms of times (ISO 8601 in UTC, milliseconds, `Z`) and amounts (whole cents).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from bot.kernel.money import CENT

JSON_MEDIA_TYPE: Final = "application/json"


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


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


def utcnow() -> datetime:
    return datetime.now(UTC)

"""The sandbox's carrier inventory: generated deterministically (from `seed`) per area code,
the first time the code is searched or looked up.

- 30 local numbers `+1NPA555xxxx` for any area code 2xx-9xx (a few of them vanity-friendly,
  such as 555-CALL or 555-1234), 15 toll-free ones for 800, 833, 844, 855, 866, 877 and 888.
- Toll-free numbers have `locality`, `region` and `rateCenter` null.
- There is no `national` or `mobile` inventory: such searches are empty.
- Named area codes (KNOWN_AREAS) have their real towns; any other gets a made-up one.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

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
E164: Final = re.compile(r"^\+[1-9]\d{7,14}$")
NANP: Final = re.compile(r"^\+1([2-9]\d{2})(\d{7})$")
AREA_CODE: Final = re.compile(r"^[2-9]\d{2}$")


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

    def to_json(
        self, *, reservable: bool = True, best_effort: bool | None = None
    ) -> dict[str, object]:
        """As search and `available/{e164}` answer it; `bestEffort` only when given (the
        documented result has no such member: Variants.best_effort_flag)."""
        flag = {} if best_effort is None else {"bestEffort": best_effort}
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
            **flag,
        }


def _area_place(area_code: str) -> tuple[tuple[str, str], ...]:
    known = KNOWN_AREAS.get(area_code)
    if known:
        return known
    n = int(area_code)
    return ((_GENERIC_TOWNS[n % len(_GENERIC_TOWNS)], _GENERIC_STATES[n % len(_GENERIC_STATES)]),)


def generate_inventory(area_code: str, seed: int) -> list[AvailableNumber]:
    """The deterministic inventory of one area code (empty for an invalid code)."""
    if not AREA_CODE.match(area_code):
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

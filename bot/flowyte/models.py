"""What Flowyte returns, as pydantic models.

Tolerant by design (flowyte-api.md marks many fields as inferred): unknown fields are
ignored, optional fields may be missing. Amounts are Decimal: the client parses JSON with
`parse_float=Decimal`, so no amount ever passes through binary floating point.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from bot.kernel.money import to_decimal


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def _money(value: object) -> Decimal | None:
    return None if value is None else to_decimal(value)


class AvailableNumber(_Model):
    e164: str
    formatted: str | None = None
    locality: str | None = None
    region: str | None = None
    rate_center: str | None = Field(default=None, alias="rateCenter")
    features: tuple[str, ...] = ()
    monthly_cost: Decimal | None = Field(default=None, alias="monthlyCost")
    setup_cost: Decimal | None = Field(default=None, alias="setupCost")
    currency: str = "USD"
    reservable: bool = True
    vanity_format: str | None = Field(default=None, alias="vanityFormat")
    best_effort: bool | None = Field(default=None, alias="bestEffort")

    _amounts = field_validator("monthly_cost", "setup_cost", mode="before")(_money)


def _utc(value: datetime | None) -> datetime | None:
    """Flowyte's timestamps are UTC; one without an offset is read as UTC, not host time."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Reservation(_Model):
    """A hold. Only `id` is promised by Flowyte's guide; everything else is [inferred] and may
    be missing: `FlowyteClient.reserve` fills in the e164 it asked for, and the caller takes
    the price from the search result and assumes a ~30-minute hold when they are absent."""

    id: str = Field(min_length=1)
    e164: str | None = None
    status: str | None = None
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    created_at: datetime | None = Field(default=None, alias="createdAt")
    setup_cost: Decimal | None = Field(default=None, alias="setupCost")
    monthly_cost: Decimal | None = Field(default=None, alias="monthlyCost")

    _amounts = field_validator("monthly_cost", "setup_cost", mode="before")(_money)
    _times = field_validator("expires_at", "created_at", mode="after")(_utc)


class OwnedNumber(_Model):
    id: str
    e164: str
    organization_id: str | None = Field(default=None, alias="organizationId")
    provider: str | None = None
    default_agent_id: str | None = Field(default=None, alias="defaultAgentId")
    monthly_cost: Decimal | None = Field(default=None, alias="monthlyCost")
    created_at: datetime | None = Field(default=None, alias="createdAt")
    status: str | None = None

    _amounts = field_validator("monthly_cost", mode="before")(_money)


class Agent(_Model):
    id: str
    name: str | None = None
    version: int | str | None = None
    published_version_id: str | None = Field(default=None, alias="publishedVersionId")
    is_active: bool | None = Field(default=None, alias="isActive")

    @property
    def published(self) -> bool:
        return self.published_version_id is not None

    @property
    def label(self) -> str:
        return self.name or self.id


class AgentVersion(_Model):
    id: str
    agent_id: str | None = Field(default=None, alias="agentId")
    version: int | str | None = None
    note: str | None = None
    published_at: datetime | None = Field(default=None, alias="publishedAt")
    published_by: str | None = Field(default=None, alias="publishedBy")


class Wallet(_Model):
    balance_usd: Decimal = Field(alias="balanceUsd")
    auto_reload_enabled: bool | None = Field(default=None, alias="autoReloadEnabled")
    auto_reload_threshold_usd: Decimal | None = Field(default=None, alias="autoReloadThresholdUsd")
    auto_reload_amount_usd: Decimal | None = Field(default=None, alias="autoReloadAmountUsd")

    _amounts = field_validator(
        "balance_usd", "auto_reload_threshold_usd", "auto_reload_amount_usd", mode="before"
    )(_money)


_WHEN: TypeAdapter[datetime] = TypeAdapter(datetime)


def _loose_text(value: object) -> str | None:
    """An undocumented text field: text as it is, a number as its digits, anything else (null,
    an object, a list) absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return None


def _loose_amount(value: object) -> Decimal | None:
    """An undocumented amount: absent when it is not one (null, text that is no number)."""
    try:
        return None if value is None else to_decimal(value)
    except (TypeError, ValueError):
        return None


def _loose_time(value: object) -> datetime | None:
    """An undocumented time: absent when it cannot be read as one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return _utc(_WHEN.validate_python(value))
    except ValidationError:
        return None


class UsageItem(_Model):
    """One charge from the wallet [docs: GET /billing/usage/items]: `credits` (1 = $0.01)
    debited for `quantity` units of `channel` (voice, chat, transfer_minute, number).

    Only `channel` and `credits` are required: an item without them is unreadable, never a
    charge of $0. The fields the docs do not describe (`time`, `type`, `quantity`, `agentId`,
    `description`) are read loosely: a value that is not what numbot expects is taken as
    absent (or a number as text), never as a reason to refuse the whole answer."""

    time: datetime | None = None
    type: str | None = None
    channel: str
    quantity: Decimal | None = None
    credits: Decimal
    description: str | None = None
    agent_id: str | None = Field(default=None, alias="agentId")

    _credits = field_validator("credits", mode="before")(to_decimal)
    _quantity = field_validator("quantity", mode="before")(_loose_amount)
    _texts = field_validator("type", "description", "agent_id", mode="before")(_loose_text)
    _times = field_validator("time", mode="before")(_loose_time)


NUMBER_TYPES = ("local", "toll_free", "national", "mobile")
FEATURES = ("voice", "sms", "mms", "fax", "emergency")
_KEYPAD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "22233344455566677778889999")
_DIGIT_PATTERNS = ("contains", "startsWith", "endsWith")


def keypad_digits(pattern: str) -> str:
    """A vanity pattern as the digits a phone keypad puts under its letters: CALL -> 2255."""
    return pattern.upper().translate(_KEYPAD)


class SearchQuery(_Model):
    """A validated inventory search; field names follow the API's query parameters.

    `contains`, `starts_with` and `ends_with` keep what the person typed (`CALL`), so what
    numbot shows reads as they wrote it (`params()`); Flowyte takes digits only, so what is
    sent (`api_params()`) has the letters turned into keypad digits (`2255`).
    """

    area_code: str | None = Field(default=None, pattern=r"^[2-9][0-9]{2}$")
    number_type: str | None = None
    locality: str | None = Field(default=None, min_length=1, max_length=64)
    administrative_area: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    features: tuple[str, ...] = ()
    contains: str | None = Field(default=None, pattern=r"^[0-9A-Z]{1,10}$")
    starts_with: str | None = Field(default=None, pattern=r"^[0-9A-Z]{1,10}$")
    ends_with: str | None = Field(default=None, pattern=r"^[0-9A-Z]{1,10}$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    best_effort: bool | None = None
    limit: int = Field(default=10, ge=1, le=50)

    @field_validator("number_type")
    @classmethod
    def _known_type(cls, value: str | None) -> str | None:
        if value is not None and value not in NUMBER_TYPES:
            raise ValueError(f"must be one of {', '.join(NUMBER_TYPES)}")
        return value

    @field_validator("features")
    @classmethod
    def _known_features(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in value if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown feature {unknown[0]!r}; use {', '.join(FEATURES)}")
        return tuple(dict.fromkeys(value))

    def params(self) -> dict[str, str]:
        """The filters by their API names, as the person gave them (letters kept): for showing."""
        names = {
            "area_code": "areaCode",
            "number_type": "numberType",
            "locality": "locality",
            "administrative_area": "administrativeArea",
            "contains": "contains",
            "starts_with": "startsWith",
            "ends_with": "endsWith",
            "country": "country",
        }
        params = {
            api: str(getattr(self, attr)) for attr, api in names.items() if getattr(self, attr)
        }
        if self.features:
            params["features"] = ",".join(self.features)
        if self.best_effort is not None:
            params["bestEffort"] = "true" if self.best_effort else "false"
        params["limit"] = str(self.limit)
        return params

    @property
    def has_pattern(self) -> bool:
        """A vanity or last-four search (contains, startsWith or endsWith)."""
        return bool(self.contains or self.starts_with or self.ends_with)

    def api_params(self) -> dict[str, str]:
        """The query parameters to send: `params()` with vanity letters as keypad digits, and
        `bestEffort=false` for a pattern unless the person asked for nearby matches: Flowyte
        widens a too-narrow filter by default, and its results do not say which it widened."""
        params = self.params()
        for name in _DIGIT_PATTERNS:
            if name in params:
                params[name] = keypad_digits(params[name])
        if self.has_pattern and self.best_effort is None:
            params["bestEffort"] = "false"
        return params

    def miss(self, e164: str) -> str | None:
        """Why `e164` does not match this search's pattern ("does not end in CALL (2255)"),
        or None when it does (or there is no pattern). Checked on numbot's side whatever
        Flowyte sends: digits of the whole number, or of the national number after a
        leading 1."""
        digits = e164.lstrip("+")
        forms = (digits, digits[1:]) if digits.startswith("1") else (digits,)
        checks = (
            ("contain", self.contains, lambda d, p: p in d),
            ("start with", self.starts_with, lambda d, p: d.startswith(p)),
            ("end in", self.ends_with, lambda d, p: d.endswith(p)),
        )
        for verb, typed, test in checks:
            if typed is None:
                continue
            wanted = keypad_digits(typed)
            if not any(test(form, wanted) for form in forms):
                shown = typed if typed == wanted else f"{typed} ({wanted})"
                return f"does not {verb} {shown}"
        return None

"""Money is Decimal USD, parsed from Flowyte's JSON numbers without passing through float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal:
    """Accept what Flowyte sends for an amount (a JSON number parsed as Decimal, int or str)."""
    if isinstance(value, (bool, float)):
        # A float here means someone parsed JSON the wrong way: refuse rather than round.
        raise TypeError("money must not be a float")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount


def usd(amount: Decimal) -> str:
    """`Decimal("1.5")` -> `$1.50`; negative amounts as `-$1.50`."""
    with localcontext() as ctx:
        ctx.prec = max(28, amount.adjusted() + 4)  # room for every digit before the point
        cents = amount.quantize(CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"

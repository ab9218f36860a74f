"""The spend policy: who may approve, how many must, and how much may be spent. Pure.

Read from the TOML file `NUMBOT_POLICY` names (bot/config/policy_file.py); without one, numbot
behaves as it always has: the approvers in NUMBOT_APPROVERS, one approval for any amount, no
cap, no budget, no limit on holds. Every key is optional:

    approvers = ["U0AAA", "U0BBB"]        # added to NUMBOT_APPROVERS
    approver_groups = ["S0CCC"]           # Slack user groups, membership read at click time
    max_purchase_usd = "25.00"            # a purchase charging more now is refused
    monthly_budget_usd = "100.00"         # per UTC month: charged + being bought + pending
    max_open_holds = 3                    # per person
    release_approvals = 1                 # distinct approvals a release needs
    [[quorum]]                            # distinct approvals by the charge now
    above_usd = "20.00"                   # strictly above
    approvals = 2

Amounts are strings ("25.00"), never TOML floats: money is never binary floating point.
The functions below take facts (a charge, this month's figures, someone's holds) and return
decisions (how many approvals, or why not); the workflow gathers the facts and audits each
decision with the policy's hash, so a later reader knows which rules applied.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_validator

from bot.kernel.money import usd

USER_ID = r"^[UW][A-Z0-9]{2,20}$"
GROUP_ID = r"^S[A-Z0-9]{2,20}$"
MAX_APPROVALS = 10


def _amount(value: object) -> Decimal:
    """An amount in dollars, written as a string ("25.00") or a whole number (25); a Decimal
    from code (or from a Policy's own model_dump) too."""
    if isinstance(value, bool | float):
        raise ValueError('write amounts as strings, e.g. "25.00" (a TOML float is not exact)')
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError('an amount in dollars, e.g. "25.00"')
    try:
        amount = Decimal(value.strip())
    except ArithmeticError:
        raise ValueError(f'{value!r} is not an amount in dollars, e.g. "25.00"') from None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or amount < 0 or (isinstance(exponent, int) and exponent < -2):
        raise ValueError(f"{value!r} is not an amount in dollars and cents, at least 0")
    return amount


Money = Annotated[Decimal, BeforeValidator(_amount)]


class QuorumTier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    above_usd: Money
    approvals: StrictInt = Field(ge=1, le=MAX_APPROVALS)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: tuple[Annotated[str, Field(pattern=USER_ID)], ...] = ()
    approver_groups: tuple[Annotated[str, Field(pattern=GROUP_ID)], ...] = ()
    max_purchase_usd: Money | None = None
    monthly_budget_usd: Money | None = None
    max_open_holds: StrictInt | None = Field(default=None, ge=1, le=100)
    release_approvals: StrictInt = Field(default=1, ge=1, le=MAX_APPROVALS)
    quorum: tuple[QuorumTier, ...] = ()

    @field_validator("quorum")
    @classmethod
    def _tiers_distinct(cls, tiers: tuple[QuorumTier, ...]) -> tuple[QuorumTier, ...]:
        thresholds = [t.above_usd for t in tiers]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("two quorum tiers have the same above_usd")
        return tuple(sorted(tiers, key=lambda t: t.above_usd))

    @property
    def hash(self) -> str:
        """Which rules applied: a digest of the effective rules, not of how they were written
        ("25" and "25.00" are one amount; the order of names and tiers does not matter)."""

        def cents(amount: Decimal | None) -> str | None:
            return None if amount is None else str(amount.quantize(Decimal("0.01")))

        rules = {
            "approvers": sorted(set(self.approvers)),
            "approver_groups": sorted(set(self.approver_groups)),
            "max_purchase_usd": cents(self.max_purchase_usd),
            "monthly_budget_usd": cents(self.monthly_budget_usd),
            "max_open_holds": self.max_open_holds,
            "release_approvals": self.release_approvals,
            "quorum": [[cents(t.above_usd), t.approvals] for t in self.quorum],
        }
        canonical = json.dumps(rules, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def names_approvers(self) -> bool:
        return bool(self.approvers or self.approver_groups)


NO_POLICY = Policy()


def approvals_needed(policy: Policy, kind: str, charge: Decimal | None) -> int:
    """Distinct approvals a request needs: by the charge now for a purchase (every tier it
    is strictly above; an unknown charge needs the most any tier asks), fixed for a release."""
    if kind == "release":
        return policy.release_approvals
    needed = 1
    for tier in policy.quorum:
        if charge is None or charge > tier.above_usd:
            needed = max(needed, tier.approvals)
    return needed


@dataclass(frozen=True)
class MonthSpend:
    """This UTC month's money, as numbot's own records have it."""

    spent: Decimal  # charged: purchases done this month
    in_flight: Decimal  # approved and being bought, or being checked
    pending: Decimal  # requested, waiting for approval

    @property
    def committed(self) -> Decimal:
        return self.spent + self.in_flight


def request_refusal(policy: Policy, charge: Decimal, month: MonthSpend) -> tuple[str, str] | None:
    """Whether a purchase may be put up for approval: (code, sentence) when not."""
    cap = policy.max_purchase_usd
    if cap is not None and charge > cap:
        return "over_cap", f"{usd(charge)} is over the {usd(cap)} cap for one purchase."
    budget = policy.monthly_budget_usd
    if budget is not None and month.committed + month.pending + charge > budget:
        return "over_budget", (
            f"This month {usd(month.spent)} spent + {usd(month.in_flight + month.pending)} "
            f"pending of {usd(budget)}: {usd(charge)} more would be over the budget."
        )
    return None


def approval_refusal(policy: Policy, charge: Decimal | None, committed: Decimal) -> str | None:
    """Checked again as the last approval lands (two requests can race for the same room):
    what is charged or being bought this month, plus this one, must fit the budget."""
    budget = policy.monthly_budget_usd
    if budget is None:
        return None
    if charge is None:
        return "numbot does not know what this costs, so it cannot keep the monthly budget."
    if committed + charge > budget:
        return (
            f"This month {usd(committed)} is spent or being bought of {usd(budget)}: "
            f"{usd(charge)} more would be over the budget, so nothing was bought."
        )
    return None


def holds_refusal(policy: Policy, held: list[str]) -> str | None:
    """Whether someone holding these numbers (+E.164) may hold one more."""
    limit = policy.max_open_holds
    if limit is None or len(held) < limit:
        return None
    return (
        f"You already hold {len(held)} number{'s' if len(held) != 1 else ''} "
        f"({', '.join(held)}), the most one person may hold at once. Request or cancel one "
        "first (`/numbers holds`)."
    )


def budget_line(policy: Policy, month: MonthSpend) -> str | None:
    """'this month: $X of $Y' for cards and Home, when there is a budget."""
    if policy.monthly_budget_usd is None:
        return None
    return f"This month: {usd(month.committed)} of {usd(policy.monthly_budget_usd)}"

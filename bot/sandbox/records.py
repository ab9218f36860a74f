"""What one sandbox organization holds: its holds, numbers, agents and their published
versions, wallet and top-ups, each with the JSON Flowyte answers for it. Mutable, so tests
can inspect and poke them (the inventory's AvailableNumber lives in inventory.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

from bot.sandbox.wire import iso, money

ORGANIZATION_ID: Final = "org_sandbox"


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
            "expiresAt": iso(self.expires_at),
            "createdAt": iso(self.created_at),
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
            "createdAt": iso(self.created_at),
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
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
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
            "publishedAt": iso(self.published_at),
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
            "balanceUsd": money(self.balance_usd),
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


USAGE_CHANNELS: Final = ("voice", "chat", "transfer_minute", "number")


@dataclass
class UsageItem:
    """One charge drawn from the wallet [docs: concepts/billing; api-reference list-itemized
    usage charges]: `credits` debited (1 credit = $0.01) for `quantity` units of `channel`."""

    time: datetime
    channel: str
    quantity: Decimal
    credits: Decimal
    type: str = "charge"
    description: str = ""
    agent_id: str | None = None
    seq: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "time": iso(self.time),
            "type": self.type,
            "channel": self.channel,
            "quantity": self.quantity,
            "credits": self.credits,
            "description": self.description,
            "agentId": self.agent_id,
        }

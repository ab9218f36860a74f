"""One sandbox organization's state, the conveniences tests and the demo use to inspect and
poke it, and the lookups its endpoints share (endpoints.py says what each call does).

- Any key that starts with `flowyte_sk_` is accepted. Its scopes are what `key_scopes` /
  `set_key_scopes()` gave that exact key; otherwise a key containing `readonly` has only the
  read scopes (`numbers:read`, `billing:read`, `agents:read`) and any other key all six.
- Released numbers do not return to the inventory. A top-up only records a pending payment
  (`topups`); `settle_topups()` credits them, as the dashboard would.
- Three agents exist from the start: two published (`agt_support`, `agt_sales`) and one
  never published (`agt_draft`).
- State changes happen under one re-entrant lock (`_lock`), which the HTTP wiring (app.py)
  holds around each call's work.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from bot.sandbox.idempotency import IdempotencyKeys, Replay
from bot.sandbox.inventory import NANP, AvailableNumber, generate_inventory
from bot.sandbox.problems import ApiError
from bot.sandbox.records import (
    Agent,
    AgentVersion,
    OwnedNumber,
    Reservation,
    TopUp,
    UsageItem,
    Wallet,
)
from bot.sandbox.variants import Variants
from bot.sandbox.wire import utcnow

READ_SCOPES: Final = frozenset({"numbers:read", "billing:read", "agents:read"})
ALL_SCOPES: Final = READ_SCOPES | {"numbers:write", "billing:write", "agents:write"}


class Organization:
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
        self._clock = clock or utcnow
        self.seed = seed
        self.require_published_agent = require_published_agent
        self._lock = threading.RLock()
        self.variants = variants or Variants()
        self.key_scopes: dict[str, frozenset[str]] = {}
        for key, scopes in (key_scopes or {}).items():
            self.set_key_scopes(key, scopes)
        self._window: tuple[datetime, int] | None = None  # rate limit: (start, calls)
        self._idempotency = IdempotencyKeys()
        self.wallet = Wallet(balance_usd=balance)
        self.reservations: dict[str, Reservation] = {}
        self.numbers: dict[str, OwnedNumber] = {}
        self.agents: dict[str, Agent] = {}
        self.versions: dict[str, AgentVersion] = {}
        self.topups: list[TopUp] = []
        self.usage: list[UsageItem] = []  # charges drawn from the wallet, oldest first
        self.inventory: dict[str, AvailableNumber] = {}
        self.unavailable: set[str] = set()
        self._generated: set[str] = set()
        self._ids = random.Random(seed)  # noqa: S311 - ids in a sandbox, not secrets
        self._seq = 0
        self._seed_agents()

    @property
    def _replays(self) -> dict[str, Replay]:
        """The stored successes of Idempotency-Keys, by key."""
        return self._idempotency.replays

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
            return self._idempotency.running(key)

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
        match = NANP.match(e164)
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

    def seed_owned(self, count: int, *, prefix: str = "+1646", agent_every: int = 0) -> list[str]:
        """Make the organization own `count` more numbers at once (no charge, no calls):
        `prefix` and then seven digits counting up from the first free one; every
        `agent_every`-th rings agt_support (0: none does). For tests of many owned numbers.
        Returns their e164s in creation (list) order."""
        with self._lock:
            owned = self._owned_e164s()
            now = self.now()
            made: list[str] = []
            i = 0
            while len(made) < count:
                e164 = f"{prefix}{i:07d}"
                i += 1
                if e164 in owned:
                    continue
                seq = self._next_seq()
                agent = "agt_support" if agent_every and seq % agent_every == 0 else None
                number = OwnedNumber(
                    id=f"num_seed{seq:012d}",
                    e164=e164,
                    provider="seeded",
                    monthly_cost=Decimal("1.00"),
                    created_at=now,
                    seq=seq,
                    default_agent_id=agent,
                )
                self.numbers[number.id] = number
                made.append(e164)
            return made

    def charge(
        self,
        channel: str,
        quantity: Decimal,
        credits: Decimal,
        description: str = "",
        at: datetime | None = None,
        *,
        type_: str = "charge",
        agent_id: str | None = None,
    ) -> UsageItem:
        """Record a usage item (the wallet is not debited: tests seed history with this)."""
        with self._lock:
            item = UsageItem(
                at or self.now(),
                channel,
                quantity,
                credits,
                type_,
                description,
                agent_id,
                seq=self._next_seq(),
            )
            self.usage.append(item)
            return item

    def release_elsewhere(self, e164: str) -> None:
        """The number is released outside numbot (in Flowyte's dashboard)."""
        with self._lock:
            for number_id, number in list(self.numbers.items()):
                if number.e164 == e164:
                    del self.numbers[number_id]
                    self.unavailable.add(e164)

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

"""What each sandbox endpoint does: synchronous handlers, `(Call) -> Result`, that the HTTP
wiring (app.py) calls under the organization's lock. Where shared/flowyte-api.md is silent
the sandbox chooses, and says so here:

- Numbers that are held by an active reservation, owned, released or taken elsewhere are left
  out of search results, so every result has `reservable: true`.
  `GET /numbers/available/{e164}` answers 404 for owned, released and unknown numbers and
  shows a held number with `reservable: false` (it can still be bought with its reservation).
- A hold lasts HOLD_DURATION (30 minutes).
- Reserving or buying a well-formed E.164 number that is not in the inventory is
  409 `number_unavailable` (not 404): for the caller it is one more number that cannot be held.
- Without `reservationId`, a purchase of a number held by any active reservation is 409
  `number_unavailable`. A cancelled reservation is 404 `reservation_not_found`; an expired
  one is 409 `reservation_expired`; a consumed one is 409 `number_unavailable`.
- A purchase the wallet cannot cover is 402 `insufficient_balance`, with `balanceUsd`,
  `requiredUsd` and `shortfallUsd` ([inferred] extension members) unless the variants say no.
- Creating calls answer 201 (reserve, purchase, import, publish, top-up); the rest 200.
- Imported numbers cost nothing (`monthlyCost: 0.00`, `provider: "imported"`).
- Assigning an agent that was never published succeeds (the guide: callers reach nothing),
  unless `require_published_agent` is set, which makes it 409 `no_published_version`.
- A purchase adds one usage item of channel `number` for its setup and first month, in
  credits. `GET /billing/usage/items` takes `from` and `to` (ISO 8601 date-times; `from`
  included, `to` not) and pages as the other lists do, newest first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from bot.kernel.money import usd
from bot.sandbox.calls import Call, Result, optional_str, require_e164, time_param
from bot.sandbox.inventory import AvailableNumber
from bot.sandbox.organization import Organization
from bot.sandbox.paging import page_of
from bot.sandbox.problems import ApiError, invalid, unavailable
from bot.sandbox.records import AgentVersion, OwnedNumber, Reservation, TopUp, UsageItem
from bot.sandbox.search import SearchQuery, area_codes, find, parse_search
from bot.sandbox.wire import money

CREDIT: Final = Decimal("0.01")  # USD a credit [docs: concepts/billing]
LAST_SEQ: Final = 10**15  # lists page in ascending order: newest first is this minus seq

HOLD_DURATION: Final = timedelta(minutes=30)


class Endpoints(Organization):
    """The organization's API: one handler per endpoint (app.py routes them)."""

    def _search(self, call: Call) -> Result:
        q = parse_search(call.query)
        found, widened = find(self._search_universe(q, call.now), q)
        flag = widened if self.variants.best_effort_flag else None
        return Result([n.to_json(best_effort=flag) for n in found])

    def _search_universe(self, q: SearchQuery, now: datetime) -> list[AvailableNumber]:
        """The numbers a search may find, in order: every number of its area codes that is
        not held, owned, released or taken elsewhere."""
        codes = area_codes(q)
        for code in codes:
            self._generate(code)
        order = {code: i for i, code in enumerate(codes)}
        gone = self._owned_e164s() | self._held_e164s(now) | self.unavailable
        pool = [n for n in self.inventory.values() if n.area_code in order and n.e164 not in gone]
        return sorted(pool, key=lambda n: (order[n.area_code], n.e164))

    def _available(self, call: Call) -> Result:
        e164 = require_e164(call.params)
        number = self.lookup(e164)
        if number is None or self._gone(e164):
            raise ApiError(404, "not_found", f"{e164} is not available.")
        held = e164 in self._held_e164s(call.now)
        return Result(number.to_json(reservable=not held))

    def _reserve(self, call: Call) -> Result:
        e164 = require_e164(call.body)
        number = self.lookup(e164)
        if number is None or self._gone(e164) or e164 in self._held_e164s(call.now):
            raise unavailable(e164)
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
            return Result({"id": reservation.id}, status=201)
        return Result(reservation.to_json(call.now), status=201)

    def _cancel_reservation(self, call: Call) -> Result:
        reservation = self.reservations.get(call.params["id"])
        if reservation is None:
            raise ApiError(404, "reservation_not_found", "No such reservation.")
        if reservation.state == "consumed":
            raise ApiError(
                409, "reservation_consumed", "The reservation was used to buy its number."
            )
        if reservation.holds(call.now):
            reservation.state = "cancelled"
        return Result(reservation.to_json(call.now))

    def _purchase(self, call: Call) -> Result:
        e164 = require_e164(call.body)
        reservation_id = optional_str(call.body, "reservationId")
        reservation = None
        if reservation_id is not None:
            reservation = self._usable_reservation(reservation_id, e164, call.now)
            setup, monthly = reservation.setup_cost, reservation.monthly_cost
            if self._gone(e164):
                raise unavailable(e164)
        else:
            number = self.lookup(e164)
            if number is None or self._gone(e164) or e164 in self._held_e164s(call.now):
                raise unavailable(e164)
            setup, monthly = number.setup_cost, number.monthly_cost
        self._debit(setup + monthly)
        self.charge(
            "number",
            Decimal(1),
            (setup + monthly) / CREDIT,
            f"{e164}: setup and first month",
            call.now,
            type_="number_purchase",
        )
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
        return Result(owned.to_json(), status=201)

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
            raise unavailable(e164)
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
                    "balanceUsd": money(balance),
                    "requiredUsd": money(cost),
                    "shortfallUsd": money(cost - balance),
                },
            )
        self.wallet.balance_usd = balance - cost

    def _import(self, call: Call) -> Result:
        e164 = require_e164(call.body)
        agent_id = optional_str(call.body, "agentId")
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
        return Result(owned.to_json(), status=201)

    def _list_numbers(self, call: Call) -> Result:
        numbers = ((n.seq, n) for n in self.numbers.values())
        return page_of(numbers, call.query, self.variants, render=OwnedNumber.to_json)

    def _get_number(self, call: Call) -> Result:
        return Result(self._number(call.params["id"]).to_json())

    def _assign(self, call: Call) -> Result:
        number = self._number(call.params["id"])
        agent_id = call.body.get("agentId")
        if not isinstance(agent_id, str) or not agent_id:
            raise invalid([("agentId", "is required")])
        number.default_agent_id = self._routable_agent(agent_id).id
        return Result(number.to_json())

    def _unassign(self, call: Call) -> Result:
        number = self._number(call.params["id"])
        number.default_agent_id = None
        return Result(number.to_json())

    def _release(self, call: Call) -> Result:
        number = self.numbers.pop(self._number(call.params["id"]).id)
        self.unavailable.add(number.e164)
        return Result({**number.to_json(), "status": "released"})

    def _list_agents(self, call: Call) -> Result:
        return page_of(
            ((a.seq, a.to_json()) for a in self.agents.values()), call.query, self.variants
        )

    def _get_agent(self, call: Call) -> Result:
        return Result(self._agent(call.params["id"]).to_json())

    def _publish(self, call: Call) -> Result:
        agent = self._agent(call.params["id"])
        note = optional_str(call.body, "note", max_length=500)
        number = 1 + max(
            (v.version for v in self.versions.values() if v.agent_id == agent.id), default=0
        )
        version = AgentVersion(self._new_id("ver"), agent.id, number, note, call.now, "api_key")
        self.versions[version.id] = version
        agent.version = max(agent.version, number)
        agent.published_version_id = version.id
        agent.updated_at = call.now
        return Result(version.to_json(), status=201)

    def _usage_items(self, call: Call) -> Result:
        start, end = time_param(call.query, "from"), time_param(call.query, "to")
        items = [
            (LAST_SEQ - item.seq, item)  # newest first, as Flowyte lists them
            for item in self.usage
            if (start is None or item.time >= start) and (end is None or item.time < end)
        ]
        return page_of(items, call.query, self.variants, render=UsageItem.to_json)

    def _get_wallet(self, call: Call) -> Result:
        return Result(self.wallet.to_json())

    def _topup(self, call: Call) -> Result:
        amount = call.body.get("amountUsd")
        if (
            isinstance(amount, bool)
            or not isinstance(amount, Decimal | int)
            or not 0 < amount <= 10000
            or Decimal(amount) != money(Decimal(amount))
        ):
            raise invalid([("amountUsd", "must be a number of dollars and cents, up to 10000")])
        topup_id = self._new_id("pi")
        topup = TopUp(
            topup_id,
            money(Decimal(amount)),
            f"{topup_id}_secret_{self._ids.getrandbits(48):012x}",
            call.now,
        )
        self.topups.append(topup)
        return Result({"clientSecret": topup.client_secret, "amountUsd": topup.amount_usd}, 201)

"""Settling an unknown outcome: what Flowyte's answers prove, as a pure decision.

A purchase whose answer was lost (a timeout, a dropped connection, a 408 or 5xx, an answer
numbot could not read) may or may not have happened. numbot asks three ways, in order:

1. replay the purchase with the same body and Idempotency-Key, Flowyte's documented way to
   learn the outcome without paying twice: a success proves it was bought (now or before);
   a definite refusal (402, 404, 409 other than "still running", 422) says that call did not buy;
2. the owned numbers, every page: the number listed proves it was bought; absent, from a
   list read to its end, says it is not ours;
3. `GET /numbers/available/{e164}`: still for sale means nobody owns it.

"Bought" needs one proof. "Not bought" needs the complete list to lack the number, plus a
definite refusal or the number still for sale, and only once the first call can no longer
be running anywhere (`settled`): Flowyte may still be finishing a call numbot gave up on.
Anything less leaves the request `checking`, and numbot asks again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class Verdict(Enum):
    DONE = "done"  # bought / released
    NOT_DONE = "not_done"  # definitely did not happen
    UNSURE = "unsure"  # ask again later


Replay = Literal["bought", "refused", "unknown", "not_asked"]
Owned = Literal["listed", "absent", "unknown", "not_asked"]
Inventory = Literal["for_sale", "gone", "unknown", "not_asked"]


@dataclass(frozen=True)
class PurchaseEvidence:
    replay: Replay = "not_asked"
    owned: Owned = "not_asked"
    inventory: Inventory = "not_asked"


def purchase_verdict(evidence: PurchaseEvidence, *, settled: bool) -> Verdict:
    if evidence.replay == "bought" or evidence.owned == "listed":
        return Verdict.DONE
    if (
        settled
        and evidence.owned == "absent"
        and (evidence.replay == "refused" or evidence.inventory == "for_sale")
    ):
        return Verdict.NOT_DONE
    return Verdict.UNSURE


def release_verdict(owned: Owned, *, settled: bool) -> Verdict:
    """A release is done when a complete list lacks the number; not done when, once the
    call is over, the complete list still has it."""
    if owned == "absent":
        return Verdict.DONE
    if owned == "listed" and settled:
        return Verdict.NOT_DONE
    return Verdict.UNSURE


def next_check_delay(attempts: int, *, quiet: float, cap: float) -> float:
    """Seconds before the next look, after `attempts` looks: one quiet window, then doubling."""
    return float(min(cap, quiet * 2 ** max(0, attempts - 1)))

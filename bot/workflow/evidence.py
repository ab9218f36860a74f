"""Settling an unknown outcome: what Flowyte's answers prove, as a pure decision.

A purchase whose answer was lost (a timeout, a dropped connection, a 408 or 5xx, an answer
numbot could not read) may or may not have happened. numbot asks three ways, in order:

1. replay the purchase with the same body and Idempotency-Key, Flowyte's documented way to
   learn the outcome without paying twice: a success proves it was bought (now or before);
   a definite refusal (402, 404, 409 other than "still running", 422) says that call did not buy;
2. the owned numbers, every page: the number listed proves it was bought; absent, from a
   list read to its end, says it is not ours;
3. `GET /numbers/available/{e164}`: still for sale means nobody owns it.

"Bought" needs one proof. "Not bought" needs the complete list to lack the number, and
every purchase call numbot sent to be over (`settled`: the last one was sent longer ago than
any call can run; Flowyte may still be finishing a call numbot gave up on), and then either
a definite refusal of this look's replay, or, on a look that sent no replay, the number
still for sale. A replay is itself a purchase call: when its answer is lost too, it may
still land, so that look cannot prove "not bought". Looks alternate (replay, then list and
inventory only), so a Flowyte whose replays keep failing can still be settled once its
calls are over. Anything less leaves the request `checking`, and numbot asks again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from bot.flowyte import errors as fe


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
    if not settled or evidence.owned != "absent":
        return Verdict.UNSURE
    if evidence.replay == "refused":
        return Verdict.NOT_DONE
    if evidence.replay == "not_asked" and evidence.inventory == "for_sale":
        return Verdict.NOT_DONE
    return Verdict.UNSURE


def replays_on(attempt: int) -> bool:
    """Whether look number `attempt` (0 = the first) replays the purchase: every other one."""
    return attempt % 2 == 0


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


# 409 codes that mean "the first call with this Idempotency-Key is still running" [inferred].
IN_PROGRESS_CODES = frozenset({"idempotency_in_progress", "request_in_progress"})

CallOutcome = Literal["nothing", "unknown", "refused"]


def outcome_of(exc: fe.FlowyteError) -> CallOutcome:
    """What a failed spending call tells about whether it happened."""
    if isinstance(exc, fe.OutcomeUnknown):
        return "unknown"  # sent, no (readable) answer
    if isinstance(exc, fe.FlowyteUnavailable | fe.RateLimited):
        return "nothing"  # never reached Flowyte, or turned away before doing anything
    if isinstance(exc, fe.FlowyteAPIError):
        if exc.status == 408 or exc.status >= 500:
            return "unknown"
        if exc.status == 409 and exc.code in IN_PROGRESS_CODES:
            return "unknown"
        if exc.status == 422 and exc.code == "idempotency_mismatch":
            return "unknown"  # numbot sends the same body; a mismatch is not an answer
        return "refused"
    return "unknown"  # an answer numbot could not read

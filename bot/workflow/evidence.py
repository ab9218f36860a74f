"""Settling an unknown outcome: what Flowyte's answers prove, as a pure decision.

A purchase whose answer was lost (a timeout, a dropped connection, a 408 or 5xx, an answer
numbot could not read) may or may not have happened, and Flowyte's docs set no limit on how
long it may go on working on it after numbot gave up. numbot learns the outcome the way the
docs give: it sends the purchase again with the same body and Idempotency-Key ("a retry
replays the original result instead of charging twice"), at every look, with backoff.

- **Bought**: the replay succeeds (Flowyte replays the first result, or buys now: once
  either way), or the number is in the organization's owned list.
- **Not bought**: only a definite refusal of that replay: 402, 404, 409 with a code that
  means the hold or the number is gone (`reservation_expired`, `number_unavailable`), or
  422 other than a key mismatch. A 409 with any other code may mean "still running" (the docs
  name no code for it), and is no answer.
- Anything else leaves the request `checking`. A number absent from the owned list, or still
  offered by `GET /numbers/available/{e164}`, proves nothing: the purchase may still be
  running (docs/flowyte-assumptions.md).

A release has no idempotency key: it is done once a complete owned list lacks the number,
and not done when, once every call is over (`settled`), the complete list still has it.
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


@dataclass(frozen=True)
class PurchaseEvidence:
    replay: Replay = "not_asked"
    owned: Owned = "not_asked"


def purchase_verdict(evidence: PurchaseEvidence) -> Verdict:
    """Bought on a replay's success or the number listed; not bought only on a replay's
    definite refusal (replay_outcome); otherwise unsure."""
    if evidence.replay == "bought" or evidence.owned == "listed":
        return Verdict.DONE
    if evidence.replay == "refused":
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


# 409 codes that mean "the first call with this Idempotency-Key is still running" [inferred].
IN_PROGRESS_CODES = frozenset({"idempotency_in_progress", "request_in_progress"})
# 409 codes of a purchase that say the hold or the number is gone: a definite "no" [inferred].
GONE_CODES = frozenset({"reservation_expired", "number_unavailable"})

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


def replay_outcome(exc: fe.FlowyteError) -> Replay:
    """What a failed replay (the same body and Idempotency-Key) proves: "refused" only for a
    definite refusal, the one proof that the purchase did not happen; else "unknown"."""
    if not isinstance(exc, fe.FlowyteAPIError) or outcome_of(exc) != "refused":
        return "unknown"
    if exc.status in (402, 404, 422):
        return "refused"
    if exc.status == 409 and exc.code in GONE_CODES:
        return "refused"
    return "unknown"  # 409 with a code the docs do not give, 400, 401, 403...

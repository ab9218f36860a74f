"""Is a request's approval real? A pure check of the request against its sealed audit trail.

The requests table says what state a request is in; anyone who can write the database file
can change that. The audit log cannot be changed without the audit key (storage/audit.py),
and every move of a request writes a sealed entry naming the new state. So before numbot
spends (a purchase, a replay of one, a release), it reads the request's transitions back
and insists that:

- the request's current status is the last state the log recorded, sealed;
- an approval was recorded since it was last put up for approval, sealed, by the person
  the row names, who is a configured approver and not the requester;
- the approval bound the same number, price and hold as the row now holds.

Anything else means the row was edited (or the log was): numbot does not execute it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.requests import Request


@dataclass(frozen=True)
class Step:
    """One sealed (or not) transition of a request, as the audit log has it."""

    seq: int
    actor: str
    state: str
    fields: dict[str, object]
    authentic: bool


def binding(request: Request) -> dict[str, str]:
    """What an approval commits to: the thing bought or released, at what price, for whom."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    return {
        "kind": request.kind,
        "e164": request.e164,
        "requester": request.requester,
        "reservation": text(request.reservation_id),
        "number": text(request.number_id),
        "setup": text(request.setup_cost),
        "monthly": text(request.monthly_cost),
    }


def approval_problem(
    request: Request, steps: Sequence[Step], approvers: frozenset[str]
) -> str | None:
    """Why the request's approval cannot be trusted to spend, or None when it can."""
    if not steps:
        return "no audit entry records this request"
    if steps[0].actor != request.requester:
        return "the requester in the database is not who filed the request"
    last = steps[-1]
    if last.state != request.status:
        return f"the database says {request.status}, the audit log says {last.state}"
    approvals = [i for i, s in enumerate(steps) if s.state == "approved"]
    reopened = [i for i, s in enumerate(steps) if s.state == "pending"]
    if not approvals or (reopened and reopened[-1] > approvals[-1]):
        return "no approval is recorded since the request was last put up for approval"
    approval = steps[approvals[-1]]
    if not all(s.authentic for s in steps[approvals[-1] :]):
        return "the approval or a later step is not sealed with the audit key"
    if approval.actor != request.decided_by:
        return f"the log has <@{approval.actor}> approving, the database <@{request.decided_by}>"
    if approval.actor not in approvers:
        return f"<@{approval.actor}> is not a configured approver"
    if approval.actor == request.requester:
        return "the requester cannot approve their own request"
    if approval.fields.get("binds") != binding(request):
        return "the number, price or hold changed after the approval"
    return None

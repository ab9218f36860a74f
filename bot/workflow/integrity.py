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
    """One sealed (or not) entry about a request, as the audit log has it: a move (`state`
    set) or an approval counted toward its quorum (`action` "approve", `state` "" until the
    last one needed, which moves it to "approved")."""

    seq: int
    actor: str
    state: str
    fields: dict[str, object]
    authentic: bool
    action: str = ""


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


def approval_problem(request: Request, steps: Sequence[Step]) -> str | None:
    """Why the request's approval cannot be trusted to spend, or None when it can.

    Who may approve is decided at click time (group membership changes); a sealed approval
    is numbot's own record that it checked, so here only what the seal proves is checked:
    the approvals of this round, distinct, none by the requester, for these very terms,
    as many as the last one recorded were needed.
    """
    if not steps:
        return "no audit entry records this request"
    if steps[0].actor != request.requester:
        return "the requester in the database is not who filed the request"
    moves = [s for s in steps if s.state]
    last = moves[-1] if moves else steps[-1]
    if last.state != request.status:
        return f"the database says {request.status}, the audit log says {last.state or 'nothing'}"
    reopened = max((i for i, s in enumerate(steps) if s.state == "pending"), default=-1)
    if reopened < 0:  # numbot files every request as pending: a sealed entry was removed
        return "the log never records the request being put up for approval"
    final = max((i for i, s in enumerate(steps) if s.state == "approved"), default=-1)
    if final < reopened:
        return "no approval is recorded since the request was last put up for approval"
    if not all(s.authentic for s in steps[reopened + 1 :]):
        return "an approval or a later step is not sealed with the audit key"
    approval = steps[final]
    if approval.actor != request.decided_by:
        return f"the log has <@{approval.actor}> approving, the database <@{request.decided_by}>"
    round_ = [s for s in steps[reopened + 1 : final + 1] if s.action == "approve"]
    if any(s.actor == request.requester for s in round_):
        return "the requester cannot approve their own request"
    terms = binding(request)
    if any(s.fields.get("binds") != terms for s in round_):
        return "the number, price or hold changed after an approval"
    needed = approval.fields.get("needed", 1)
    distinct = {s.actor for s in round_}
    if not isinstance(needed, int) or len(distinct) < needed:
        return f"{len(distinct)} distinct approval(s) are recorded where {needed} were needed"
    return None

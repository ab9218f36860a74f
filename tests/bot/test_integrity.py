"""bot/workflow/integrity.py alone: which audit trails prove that an approval may spend.

The workflow tests (test_execution.py) drive it through real requests; here each rule is
pinned on hand-made trails, including ones numbot never writes but an edited database could
present."""

from __future__ import annotations

from decimal import Decimal

from bot.workflow.integrity import Step, approval_problem, binding
from storage.rows import Request

REQUESTER, ALICE, BOB = "U_REQ", "U_ALICE", "U_BOB"


def request(status: str = "approved", decided_by: str | None = ALICE) -> Request:
    return Request(
        id="req_1",
        kind="purchase",
        status=status,
        e164="+14155550100",
        requester=REQUESTER,
        created_at="2030-01-01T00:00:00.000000Z",
        updated_at="2030-01-01T00:00:00.000000Z",
        reservation_id="res_1",
        setup_cost=Decimal("1.00"),
        monthly_cost=Decimal("1.15"),
        decided_by=decided_by,
    )


TERMS = binding(request())


def filed(seq: int = 1) -> Step:
    return Step(seq, REQUESTER, "pending", {}, True, "request_purchase")


def approve(
    seq: int, actor: str, *, final: bool = True, needed: int = 1, **changes: object
) -> Step:
    fields: dict[str, object] = {"binds": TERMS, "needed": needed}
    fields.update(changes)
    return Step(seq, actor, "approved" if final else "", fields, True, "approve")


def move(seq: int, state: str, actor: str = "numbot") -> Step:
    return Step(seq, actor, state, {}, True, state)


def test_one_sealed_approval_by_someone_else_for_these_terms_may_spend() -> None:
    assert approval_problem(request(), [filed(), approve(2, ALICE)]) is None


def test_a_quorum_of_two_distinct_approvers_may_spend() -> None:
    trail = [filed(), approve(2, ALICE, final=False, needed=2), approve(3, BOB, needed=2)]
    assert approval_problem(request(decided_by=BOB), trail) is None


def test_no_trail_or_a_trail_filed_by_someone_else() -> None:
    assert approval_problem(request(), []) == "no audit entry records this request"
    trail = [Step(1, ALICE, "pending", {}, True, "request_purchase"), approve(2, ALICE)]
    assert approval_problem(request(), trail) == (
        "the requester in the database is not who filed the request"
    )


def test_the_status_must_be_the_last_state_the_log_recorded() -> None:
    assert approval_problem(request(), [filed()]) == (
        "the database says approved, the audit log says pending"
    )
    only_counts = [Step(1, REQUESTER, "", {}, True, "approve")]
    assert approval_problem(request(), only_counts) == (
        "the database says approved, the audit log says nothing"
    )


def test_an_approval_counted_toward_a_quorum_is_not_a_state() -> None:
    """One of two approvals is in: the request is still pending, and the last *move* (not
    the last entry) is what the status is compared with."""
    trail = [filed(), approve(2, ALICE, final=False, needed=2)]
    assert approval_problem(request(status="pending", decided_by=None), trail) == (
        "no approval is recorded since the request was last put up for approval"
    )


def test_a_request_put_up_again_needs_a_new_round() -> None:
    earlier = [filed(), approve(2, ALICE, final=False, needed=2), move(3, "failed")]
    again = [Step(4, REQUESTER, "pending", {}, True, "request_purchase")]
    trail = [*earlier, *again, approve(5, BOB, needed=2)]
    assert approval_problem(request(decided_by=BOB), trail) == (
        "1 distinct approval(s) are recorded where 2 were needed"
    )


def test_a_move_past_approval_without_one_is_refused() -> None:
    trail = [filed(), move(2, "purchasing")]
    assert approval_problem(request(status="purchasing"), trail) == (
        "no approval is recorded since the request was last put up for approval"
    )


def test_every_step_from_the_round_on_must_be_sealed() -> None:
    forged = Step(2, ALICE, "approved", {"binds": TERMS, "needed": 1}, False, "approve")
    assert approval_problem(request(), [filed(), forged]) == (
        "an approval or a later step is not sealed with the audit key"
    )
    unsealed_filing = Step(1, REQUESTER, "pending", {}, False, "request_purchase")
    assert approval_problem(request(), [unsealed_filing, approve(2, ALICE)]) is None


def test_the_row_must_name_the_approver_the_log_has() -> None:
    assert approval_problem(request(decided_by=BOB), [filed(), approve(2, ALICE)]) == (
        f"the log has <@{ALICE}> approving, the database <@{BOB}>"
    )


def test_the_requester_never_counts() -> None:
    trail = [filed(), approve(2, REQUESTER)]
    assert approval_problem(request(decided_by=REQUESTER), trail) == (
        "the requester cannot approve their own request"
    )


def test_only_approvals_up_to_the_final_one_are_the_round() -> None:
    late = Step(3, REQUESTER, "", {"binds": TERMS}, True, "approve")
    assert approval_problem(request(), [filed(), approve(2, ALICE), late]) is None


def test_the_approval_binds_the_number_price_and_hold() -> None:
    for changed in ("e164", "setup", "monthly", "reservation", "requester"):
        terms = {**TERMS, changed: "something else"}
        assert approval_problem(request(), [filed(), approve(2, ALICE, binds=terms)]) == (
            "the number, price or hold changed after an approval"
        ), changed


def test_the_quorum_the_final_approval_recorded_is_the_one_checked() -> None:
    assert approval_problem(request(), [filed(), approve(2, ALICE, needed=2)]) == (
        "1 distinct approval(s) are recorded where 2 were needed"
    )
    twice = [filed(), approve(2, ALICE, final=False, needed=2), approve(3, ALICE, needed=2)]
    assert approval_problem(request(), twice) == (
        "1 distinct approval(s) are recorded where 2 were needed"
    )
    assert approval_problem(request(), [filed(), approve(2, ALICE, needed="2")]) == (
        "1 distinct approval(s) are recorded where 2 were needed"
    )
    no_count = Step(2, ALICE, "approved", {"binds": TERMS}, True, "approve")
    assert approval_problem(request(), [filed(), no_count]) is None  # before quorums: one


def test_a_trail_without_the_filing_for_approval_is_refused() -> None:
    """numbot writes every request's move to pending; a trail without one lost an entry."""
    trail = [Step(1, REQUESTER, "held", {}, True, "reserve"), approve(2, ALICE)]
    assert approval_problem(request(), trail) == (
        "the log never records the request being put up for approval"
    )


def test_only_approvals_count_toward_the_round() -> None:
    """A sealed move to approved that is not an approval (numbot writes none) counts for no one."""
    other = Step(2, ALICE, "approved", {"binds": TERMS, "needed": 1}, True, "import")
    assert approval_problem(request(), [filed(), other]) == (
        "0 distinct approval(s) are recorded where 1 were needed"
    )

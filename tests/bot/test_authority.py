"""bot/workflow/authority.py alone: what a request's sealed trail lets a spend do.

The workflow tests (test_execution.py, test_sealed_terms.py) drive it through real
requests; here each rule is pinned on hand-made trails, including ones numbot never writes
but an edited database could present."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.workflow.authority import (
    Authority,
    NotInForce,
    Step,
    Tampered,
    Terms,
    attempt_key,
    authority,
    cap_refusal,
    filed,
    held,
    needed_now,
    not_in_force,
    sealed_terms,
    terms_from_fields,
)
from bot.workflow.policy import Policy, QuorumTier
from storage.rows import Request

REQUESTER, ALICE, BOB, CAROL = "U_REQ", "U_ALICE", "U_BOB", "U_CAROL"
PURCHASE = Terms(
    kind="purchase",
    e164="+14155550100",
    requester=REQUESTER,
    reservation="res_1",
    number="",
    setup=Decimal("1.00"),
    monthly=Decimal("1.15"),
    approvals_needed=1,
    policy="p0",
)
RELEASE = Terms(
    kind="release",
    e164="+14155550200",
    requester=REQUESTER,
    reservation="",
    number="num_1",
    setup=None,
    monthly=Decimal("1.15"),
    approvals_needed=1,
    policy="p0",
)


def row(
    terms: Terms = PURCHASE, status: str = "approved", decided_by: str | None = ALICE, **changes
) -> Request:
    request = Request(
        id="req_1",
        kind=terms.kind,
        status=status,
        e164=terms.e164,
        requester=terms.requester,
        created_at="2030-01-01T00:00:00.000000Z",
        updated_at="2030-01-01T00:00:00.000000Z",
        reservation_id=terms.reservation or None,
        number_id=terms.number or None,
        setup_cost=terms.setup,
        monthly_cost=terms.monthly,
        decided_by=decided_by,
        approvals_needed=terms.approvals_needed,
    )
    return replace(request, **changes)


class Trail:
    """A request's sealed entries, written as numbot writes them."""

    def __init__(self, terms: Terms = PURCHASE, *, sealed_terms: bool = True) -> None:
        self.terms = terms
        self.steps: list[Step] = []
        if terms.kind == "purchase":
            hold = {
                "e164": terms.e164,
                "reservation": terms.reservation,
                "setup": str(terms.setup),
                "monthly": str(terms.monthly),
                "policy": terms.policy,
            }
            self.add(REQUESTER, "held", hold, "reserve")
        filing = {"approvals_needed": terms.approvals_needed, "policy": terms.policy}
        if terms.kind == "release":
            filing |= {"e164": terms.e164, "number": terms.number}
        if sealed_terms:
            filing["terms"] = terms.sealed()
        self.add(REQUESTER, "pending", filing, f"request_{terms.kind}")

    def add(self, actor, state, fields, action, authentic=True) -> Trail:
        self.steps.append(Step(len(self.steps) + 1, actor, state, fields, authentic, action))
        return self

    def approve(self, actor, *, final=True, needed=1, binds=None, authentic=True) -> Trail:
        fields = {"binds": binds or self.terms.binding(), "needed": needed}
        return self.add(actor, "approved" if final else "", fields, "approve", authentic)

    def move(self, state, actor="numbot") -> Trail:
        return self.add(actor, state, {}, state)


def allowed(
    terms: Terms, approvers: tuple[str, ...], needed: int, sent=None, attempt=0
) -> Authority:
    """The authority a trail grants, with the Idempotency-Keys of request req_1's calls."""
    base = f"numbot-{terms.kind}-req_1"
    return Authority(terms, approvers, needed, sent, attempt_key(base, attempt))


# --- terms sealed at filing -----------------------------------------------------------------


def test_the_terms_are_read_back_from_the_filing_entry() -> None:
    assert sealed_terms(Trail().steps) == PURCHASE
    assert sealed_terms(Trail(RELEASE).steps) == RELEASE
    assert filed(row(), Trail().steps) == PURCHASE


def test_a_request_filed_before_terms_were_sealed_whole_reads_them_from_hold_and_filing() -> None:
    assert sealed_terms(Trail(sealed_terms=False).steps) == PURCHASE
    assert sealed_terms(Trail(RELEASE, sealed_terms=False).steps) == replace(RELEASE, monthly=None)


@pytest.mark.parametrize(
    "change,named",
    [
        ({"e164": "+14155559999"}, "number (+E.164)"),
        ({"requester": ALICE}, "requester"),
        ({"reservation_id": "res_other"}, "hold"),
        ({"setup_cost": Decimal("0.01")}, "setup price"),
        ({"monthly_cost": Decimal("0.01")}, "monthly price"),
        ({"approvals_needed": 1, "kind": "release"}, "kind"),
    ],
)
def test_a_row_that_disagrees_with_its_sealed_terms_is_tampering(change, named) -> None:
    found = filed(row(**change), Trail().steps)
    assert isinstance(found, Tampered) and named in found.why


def test_a_quorum_edited_away_in_the_row_is_tampering() -> None:
    three = replace(PURCHASE, approvals_needed=3)
    found = filed(row(three, approvals_needed=1), Trail(three).steps)
    assert found == Tampered(
        "the database's approvals needed differ from what was sealed when it was filed"
    )


def test_a_release_re_pointed_at_another_number_is_tampering() -> None:
    found = filed(row(RELEASE, number_id="num_2"), Trail(RELEASE).steps)
    assert isinstance(found, Tampered) and "number id" in found.why
    # A release's price is shown, never charged: the row's is not compared.
    assert filed(row(RELEASE, monthly_cost=Decimal(9)), Trail(RELEASE).steps) == RELEASE


def test_a_filing_that_is_missing_doubled_or_unsealed_is_tampering() -> None:
    trail = Trail()
    assert "0 filings" in sealed_terms(trail.steps[:1]).why
    doubled = Trail().add(REQUESTER, "pending", trail.steps[1].fields, "request_purchase")
    assert "2 filings" in sealed_terms(doubled.steps).why
    unsealed = [trail.steps[0], replace(trail.steps[1], authentic=False)]
    assert "not sealed" in sealed_terms(unsealed).why


def test_a_purchase_needs_its_sealed_hold_and_a_release_has_none() -> None:
    trail = Trail()
    assert "no sealed hold" in sealed_terms(trail.steps[1:]).why
    unsealed = [replace(trail.steps[0], authentic=False), trail.steps[1]]
    assert "no sealed hold" in sealed_terms(unsealed).why
    with_hold = [Trail().steps[0], *Trail(RELEASE).steps]
    assert "hold for a release" in sealed_terms(with_hold).why


def test_terms_that_do_not_match_the_hold_or_the_filer_are_tampering() -> None:
    trail = Trail()
    cheaper = replace(PURCHASE, setup=Decimal("0.01"))
    forged = replace(trail.steps[1], fields={**trail.steps[1].fields, "terms": cheaper.sealed()})
    assert "not the price Flowyte quoted" in sealed_terms([trail.steps[0], forged]).why
    other = replace(PURCHASE, reservation="res_2")
    forged = replace(trail.steps[1], fields={**trail.steps[1].fields, "terms": other.sealed()})
    assert "not those of the hold" in sealed_terms([trail.steps[0], forged]).why
    by_alice = replace(trail.steps[1], actor=ALICE)
    assert "who filed what" in sealed_terms([trail.steps[0], by_alice]).why
    released = replace(trail.steps[1], fields={"terms": RELEASE.sealed()})
    assert "who filed what" in sealed_terms([trail.steps[0], released]).why


def test_a_price_quoted_at_filing_is_sealed_when_the_hold_had_none() -> None:
    trail = Trail()
    priceless = replace(
        trail.steps[0], fields={**trail.steps[0].fields, "setup": None, "monthly": None}
    )
    assert sealed_terms([priceless, trail.steps[1]]) == PURCHASE


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"approvals_needed": 0},
        {"approvals_needed": True},
        {"approvals_needed": 1, "kind": "gift"},
        {"approvals_needed": 1, "kind": "purchase", "e164": 5},
        {"approvals_needed": 1, "kind": "purchase", "e164": "+1", "setup": "NaN"},
        {"approvals_needed": 1, "kind": "purchase", "e164": "+1", "monthly": "lots"},
        {"approvals_needed": 1, "kind": "purchase"},
    ],
)
def test_terms_that_are_not_whole_are_refused(fields) -> None:
    with pytest.raises(ValueError):
        terms_from_fields(fields)
    trail = Trail()
    broken = replace(trail.steps[1], fields={"terms": fields})
    assert "cannot be read" in sealed_terms([trail.steps[0], broken]).why
    not_a_record = replace(trail.steps[1], fields={"terms": "x"})
    assert "cannot be read" in sealed_terms([trail.steps[0], not_a_record]).why


def test_a_held_purchase_is_read_from_its_hold() -> None:
    hold = Trail().steps[:1]
    assert held(row(status="held"), hold) == replace(PURCHASE, policy="p0")
    edited = held(row(status="held", setup_cost=Decimal("0.01")), hold)
    assert isinstance(edited, Tampered) and "setup price" in edited.why
    assert "no sealed hold" in held(row(status="held"), []).why
    assert "no sealed hold" in held(row(status="held"), [replace(hold[0], authentic=False)]).why
    bad = replace(hold[0], fields={**hold[0].fields, "setup": "one dollar"})
    assert "cannot be read" in held(row(status="held"), [bad]).why


@pytest.mark.parametrize("needed", [0, -1])
def test_terms_needing_fewer_than_one_approval_are_not_whole(needed) -> None:
    with pytest.raises(ValueError, match="no number of approvals needed"):
        terms_from_fields({**PURCHASE.sealed(), "approvals_needed": needed})


@pytest.mark.parametrize(
    "terms,why",
    [
        ({**PURCHASE.sealed(), "setup": "Infinity"}, "'Infinity' is not an amount"),
        ({**PURCHASE.sealed(), "e164": 5}, "e164 is not text"),
        (["not a record"], "its terms are not a record"),
    ],
)
def test_the_alarm_names_what_in_the_sealed_terms_cannot_be_read(terms, why) -> None:
    trail = Trail()
    filing = replace(trail.steps[1], fields={"terms": terms})
    found = sealed_terms([trail.steps[0], filing])
    assert found == Tampered(f"the sealed terms cannot be read ({why})")


# --- the approvals sealed since ---------------------------------------------------------------


def test_one_sealed_approval_by_someone_else_for_these_terms_may_spend() -> None:
    assert authority(row(), Trail().approve(ALICE).steps) == allowed(PURCHASE, (ALICE,), 1)
    release = Trail(RELEASE).approve(ALICE).steps
    assert authority(row(RELEASE), release) == allowed(RELEASE, (ALICE,), 1)


def test_a_quorum_of_distinct_approvers_may_spend() -> None:
    two = replace(PURCHASE, approvals_needed=2)
    trail = Trail(two).approve(ALICE, final=False, needed=2).approve(BOB, needed=2)
    assert authority(row(two, decided_by=BOB), trail.steps) == allowed(two, (ALICE, BOB), 2)


def test_no_trail_is_no_authority() -> None:
    assert authority(row(), []) == Tampered("no audit entry records this request")


def test_the_status_must_be_the_last_state_the_log_recorded() -> None:
    assert authority(row(), Trail().steps) == Tampered(
        "the database says approved, the audit log says pending"
    )


def test_an_approval_must_follow_the_last_time_it_was_put_up() -> None:
    trail = Trail().approve(ALICE).move("pending")
    found = authority(row(status="pending"), trail.steps)
    assert "since the request was last put up" in found.why
    again = trail.approve(BOB)
    assert authority(row(decided_by=BOB), again.steps) == allowed(PURCHASE, (BOB,), 1)


def test_every_step_of_the_round_must_be_sealed() -> None:
    found = authority(row(), Trail().approve(ALICE, authentic=False).steps)
    assert "not sealed with the audit key" in found.why
    reopened = Trail().approve(ALICE).move("pending")
    reopened.steps[-1] = replace(reopened.steps[-1], authentic=False)
    found = authority(row(decided_by=BOB), reopened.approve(BOB).steps)
    assert "not sealed with the audit key" in found.why


def test_an_earlier_round_need_not_be_sealed() -> None:
    """Only the approvals since the request was last put up count, so only they and what
    follows must be sealed (an earlier round may predate the key)."""
    trail = Trail().approve(ALICE).move("pending").approve(BOB)
    trail.steps[2] = replace(trail.steps[2], authentic=False)
    assert authority(row(decided_by=BOB), trail.steps) == allowed(PURCHASE, (BOB,), 1)


def test_the_row_must_name_the_final_approver() -> None:
    found = authority(row(decided_by=BOB), Trail().approve(ALICE).steps)
    assert found == Tampered("the log has <@U_ALICE> approving, the database <@U_BOB>")


def test_the_requester_cannot_approve() -> None:
    found = authority(row(decided_by=REQUESTER), Trail().approve(REQUESTER).steps)
    assert found == Tampered("the requester cannot approve their own request")
    two = replace(PURCHASE, approvals_needed=2)
    trail = Trail(two).approve(REQUESTER, final=False, needed=2).approve(ALICE, needed=2)
    assert "own request" in authority(row(two), trail.steps).why


@pytest.mark.parametrize(
    "binds",
    [
        {**PURCHASE.binding(), "setup": "0.01"},
        {**PURCHASE.binding(), "monthly": "0.01"},
        {**PURCHASE.binding(), "reservation": "res_2"},
        {**PURCHASE.binding(), "e164": "+14155559999"},
        {**PURCHASE.binding(), "requester": ALICE},
        {**PURCHASE.binding(), "kind": "release"},
        "not a record",
    ],
)
def test_an_approval_bound_to_other_terms_does_not_count(binds) -> None:
    found = authority(row(), Trail().approve(ALICE, binds=binds).steps)
    assert found == Tampered("an approval is bound to other terms than the request was filed with")


def test_a_release_approval_binds_the_number_not_a_price() -> None:
    legacy = {**RELEASE.binding(), "monthly": "9.99", "setup": ""}  # as older numbot sealed it
    assert isinstance(
        authority(row(RELEASE), Trail(RELEASE).approve(ALICE, binds=legacy).steps), Authority
    )
    other = {**RELEASE.binding(), "number": "num_2"}
    assert isinstance(
        authority(row(RELEASE), Trail(RELEASE).approve(ALICE, binds=other).steps), Tampered
    )


@pytest.mark.parametrize("needed", [0, None, "3", True])
def test_the_final_approval_cannot_need_fewer_than_the_terms(needed) -> None:
    three = replace(PURCHASE, approvals_needed=3)
    trail = Trail(three)
    trail.add(ALICE, "approved", {"binds": three.binding(), "needed": needed}, "approve")
    found = authority(row(three), trail.steps)
    assert isinstance(found, Tampered) and "where the request was filed needing 3" in found.why


def test_a_quorum_edited_down_in_the_final_approval_is_not_enough() -> None:
    """The row and the last approval both say 1, but the request was filed needing 3."""
    three = replace(PURCHASE, approvals_needed=3)
    trail = Trail(three).approve(ALICE, needed=1)
    assert "filed needing 3" in authority(row(three), trail.steps).why


def test_distinct_approvals_must_reach_what_was_needed() -> None:
    two = replace(PURCHASE, approvals_needed=2)
    alone = Trail(two).approve(ALICE, needed=2)
    assert authority(row(two), alone.steps) == Tampered(
        "1 distinct approval(s) are recorded where 2 were needed"
    )
    twice = Trail(two).approve(ALICE, final=False, needed=2).approve(ALICE, needed=2)
    assert "1 distinct approval(s)" in authority(row(two), twice.steps).why
    raised = Trail(PURCHASE).approve(ALICE, final=False, needed=2).approve(BOB, needed=3)
    assert (
        "2 distinct approval(s) are recorded where 3"
        in authority(row(decided_by=BOB), raised.steps).why
    )


def test_a_request_never_approved_may_not_spend() -> None:
    never = Tampered("no approval is recorded since the request was last put up for approval")
    assert authority(row(status="pending", decided_by=None), Trail().steps) == never
    release = Trail(RELEASE).steps
    assert authority(row(RELEASE, status="pending", decided_by=None), release) == never


# --- the policy in force now ------------------------------------------------------------------


TIERS = Policy(quorum=(QuorumTier(above_usd=Decimal("1.00"), approvals=3),))


def test_the_quorum_is_the_strictest_of_filed_and_now() -> None:
    assert needed_now(PURCHASE, Policy()) == 1
    assert needed_now(PURCHASE, TIERS) == 3
    assert needed_now(replace(PURCHASE, approvals_needed=4), TIERS) == 4
    assert needed_now(replace(PURCHASE, setup=None), TIERS) == 3  # an unknown charge: the most
    assert needed_now(RELEASE, Policy(release_approvals=2)) == 2


def test_a_cap_lowered_since_filing_refuses_with_the_figures() -> None:
    assert cap_refusal(PURCHASE, Policy()) is None
    assert cap_refusal(PURCHASE, Policy(max_purchase_usd=Decimal("2.15"))) is None
    assert cap_refusal(PURCHASE, Policy(max_purchase_usd=Decimal("1.00"))) == NotInForce(
        "over_cap", "the cap is now $1.00; this costs $2.15"
    )
    assert cap_refusal(RELEASE, Policy(max_purchase_usd=Decimal("0"))) is None
    unknown = cap_refusal(replace(PURCHASE, monthly=None), Policy(max_purchase_usd=Decimal(5)))
    assert unknown is not None and "price is unknown" in unknown.why


def test_approvers_who_may_no_longer_approve_do_not_count_now() -> None:
    auth = Authority(PURCHASE, (ALICE, BOB), 2)
    assert not_in_force(auth, Policy(), frozenset({ALICE, BOB})) is None
    assert not_in_force(auth, Policy(), frozenset({ALICE, BOB, CAROL})) is None
    assert not_in_force(auth, Policy(), frozenset({BOB})) == NotInForce(
        "quorum",
        "the policy in force now needs 2 approvals from current approvers, and 1 is recorded; "
        "<@U_ALICE> may no longer approve",
    )


def test_a_quorum_raised_since_the_last_click_refuses() -> None:
    auth = Authority(PURCHASE, (ALICE,), 1)
    assert not_in_force(auth, TIERS, frozenset({ALICE})) == NotInForce(
        "quorum",
        "the policy in force now needs 3 approvals from current approvers, and 1 is recorded",
    )
    two = Authority(PURCHASE, (ALICE, BOB), 2)
    refused = not_in_force(two, TIERS, frozenset())
    assert refused is not None and "and 0 are recorded; <@U_ALICE>, <@U_BOB> may" in refused.why
    assert not_in_force(Authority(PURCHASE, (ALICE,), 1), Policy(), frozenset({ALICE})) is None


def test_the_cap_is_checked_before_the_quorum() -> None:
    auth = Authority(PURCHASE, (), 1)
    found = not_in_force(auth, Policy(max_purchase_usd=Decimal(1)), frozenset())
    assert found is not None and found.code == "over_cap"


def test_a_refusal_names_who_may_still_approve() -> None:
    from bot.workflow.sentences import who_may_approve

    assert who_may_approve(["U_A", "U_B"]) == " <@U_A>, <@U_B> may approve it."
    assert who_may_approve([]) == " Nobody else may approve it under the policy in force now."
    many = who_may_approve([f"U_{i:02d}" for i in range(13)])
    assert many.endswith("<@U_09> and 3 more may approve it.") and "<@U_10>" not in many


def test_a_cap_over_an_unknown_price_refuses_as_over_cap() -> None:
    unknown = cap_refusal(replace(PURCHASE, setup=None), Policy(max_purchase_usd=Decimal(5)))
    assert unknown == NotInForce(
        "over_cap", "the cap is now $5.00; this request's price is unknown"
    )


def test_one_approval_needed_is_said_in_the_singular() -> None:
    assert not_in_force(Authority(PURCHASE, (ALICE,), 1), Policy(), frozenset()) == NotInForce(
        "quorum",
        "the policy in force now needs 1 approval from current approvers, and 0 are recorded; "
        "<@U_ALICE> may no longer approve",
    )


# --- the Idempotency-Keys, as sealed ----------------------------------------------------------


def test_a_replay_uses_the_key_sealed_with_the_call_and_a_new_attempt_a_new_key() -> None:
    trail = Trail().approve(ALICE)
    trail.add(
        "numbot", "purchasing", {"idempotency_key": "numbot-purchase-req_1"}, "purchase_started"
    )
    sent = authority(row(status="purchasing"), trail.steps)
    assert sent == allowed(PURCHASE, (ALICE,), 1, "numbot-purchase-req_1", attempt=1)
    assert sent.next_key == "numbot-purchase-req_1-2"
    trail.add("numbot", "unfunded", {"status": 402}, "purchase")
    trail.add(BOB, "purchasing", {"idempotency_key": "numbot-purchase-req_1-2"}, "purchase_started")
    again = authority(row(status="purchasing"), trail.steps)
    assert (again.sent_key, again.next_key) == (
        "numbot-purchase-req_1-2",
        "numbot-purchase-req_1-3",
    )


def test_a_call_sent_without_a_sealed_key_is_tampering() -> None:
    for fields in ({}, {"idempotency_key": ""}, {"idempotency_key": 7}):
        trail = Trail().approve(ALICE).add("numbot", "purchasing", fields, "purchase_started")
        assert "no Idempotency-Key" in authority(row(status="purchasing"), trail.steps).why


def test_calls_of_an_earlier_round_do_not_count_as_sent() -> None:
    trail = Trail().approve(ALICE)
    trail.add(
        "numbot", "purchasing", {"idempotency_key": "numbot-purchase-req_1"}, "purchase_started"
    )
    trail.move("pending").approve(BOB)
    assert authority(row(decided_by=BOB), trail.steps) == allowed(PURCHASE, (BOB,), 1)


def test_a_request_filed_before_quorums_needed_one_approval() -> None:
    """Filings sealed before numbot had quorums name no approvals needed and no policy."""
    trail = Trail(RELEASE, sealed_terms=False)
    trail.steps[0] = replace(
        trail.steps[0], fields={"e164": RELEASE.e164, "number": RELEASE.number}
    )
    assert sealed_terms(trail.steps) == replace(RELEASE, monthly=None, policy="")

"""May this spend happen, and on what terms? Derived from the sealed audit trail alone. Pure.

The requests table is a cache: anyone who can write the database file can change a row.
The audit log cannot be changed without the audit key (storage/audit.py), so what a spend
may do is read from a request's sealed entries, never from its row:

- **the terms**, sealed when the request was filed (`terms` in the `request_purchase` or
  `request_release` entry): kind, number and ids, setup and monthly price as Flowyte quoted
  them, the approvals needed and the policy's hash, the requester. A purchase's terms must
  also agree with the hold they were filed from (the sealed `reserve` entry);
- **the approvals**: the sealed `approve` entries since the request was last put up for
  approval, distinct, none by the requester, each bound to exactly these terms, at least as
  many as the last one recorded as needed (itself never fewer than the terms ask).

`authority()` answers with the terms a spend must use (`Authority`), or `Tampered` when the
row or the trail disagrees with what was sealed: then nothing is spent and the integrity
alarm is raised. `not_in_force()` then applies the policy in force now and who may approve
now (the strictest of what was filed and what holds now); its refusals are not tampering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.kernel.money import usd
from bot.workflow.policy import Policy, approvals_needed
from storage.requests import Request

_PURCHASE_BINDS = ("kind", "e164", "requester", "reservation", "setup", "monthly")
_RELEASE_BINDS = ("kind", "e164", "requester", "number")
FILING_ACTIONS = frozenset({"request_purchase", "request_release"})
HOLD_ACTION = "reserve"


@dataclass(frozen=True)
class Step:
    """One entry about a request, as the audit log has it, and whether its seal is good: a
    move (`state` set) or an approval counted toward its quorum (`action` "approve", `state`
    "" until the last one needed, which moves it to "approved")."""

    seq: int
    actor: str
    state: str
    fields: Mapping[str, object]
    authentic: bool
    action: str = ""


@dataclass(frozen=True)
class Terms:
    """What a request asks for, as sealed when it was filed."""

    kind: str
    e164: str
    requester: str
    reservation: str  # the hold a purchase buys ("" for a release)
    number: str  # the number a release gives back ("" for a purchase)
    setup: Decimal | None
    monthly: Decimal | None
    approvals_needed: int
    policy: str  # the hash of the policy in force when it was filed

    @property
    def charge(self) -> Decimal | None:
        """What a purchase charges now: setup plus the first month."""
        if self.setup is None or self.monthly is None:
            return None
        return self.setup + self.monthly

    def sealed(self) -> dict[str, object]:
        """As the filing entry records them (amounts as strings, exactly)."""
        return {
            "kind": self.kind,
            "e164": self.e164,
            "requester": self.requester,
            "reservation": self.reservation,
            "number": self.number,
            "setup": _text(self.setup),
            "monthly": _text(self.monthly),
            "approvals_needed": self.approvals_needed,
            "policy": self.policy,
        }

    def binding(self) -> dict[str, str]:
        """What an approval commits to: the thing bought or released, at what price, for whom."""
        return {
            "kind": self.kind,
            "e164": self.e164,
            "requester": self.requester,
            "reservation": self.reservation,
            "number": self.number,
            "setup": _text(self.setup),
            "monthly": _text(self.monthly),
        }

    def bound_by(self, binds: object) -> bool:
        """Whether an approval's sealed `binds` commits to these terms: the number, the hold
        and the price of a purchase; the number of a release (which charges nothing)."""
        if not isinstance(binds, Mapping):
            return False
        keys = _PURCHASE_BINDS if self.kind == "purchase" else _RELEASE_BINDS
        mine = self.binding()
        return all(binds.get(k) == mine[k] for k in keys)


@dataclass(frozen=True)
class Authority:
    """A spend the sealed record allows: on these terms, approved by these people, and the
    Idempotency-Keys of its calls, as sealed."""

    terms: Terms
    approvers: tuple[str, ...]  # distinct, in the order they approved
    needed: int  # as the final approval recorded it
    sent_key: str | None = None  # the key of the last call sent since the approval: replays
    next_key: str = ""  # the key a new attempt uses (after a definite refusal, e.g. a 402)


def attempt_key(base: str, attempt: int) -> str:
    """The Idempotency-Key of attempt number `attempt` (0 = the first) of one approval: the
    first is the request's own key; each later one, made after a definite refusal, is new."""
    return base if attempt == 0 else f"{base}-{attempt + 1}"


@dataclass(frozen=True)
class Tampered:
    """The row or the trail disagrees with what was sealed: someone edited the database."""

    why: str


@dataclass(frozen=True)
class NotInForce:
    """The policy in force now, or who may approve now, does not allow the spend."""

    code: str
    why: str


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _amount(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    return amount


def terms_from_fields(fields: Mapping[str, object]) -> Terms:
    """Terms from a filing entry's sealed `terms`; ValueError when they are not whole."""
    needed = fields.get("approvals_needed")
    if not isinstance(needed, int) or isinstance(needed, bool) or needed < 1:
        raise ValueError("no number of approvals needed")
    texts = {}
    for name in ("kind", "e164", "requester", "reservation", "number", "policy"):
        value = fields.get(name, "")
        if not isinstance(value, str):
            raise ValueError(f"{name} is not text")
        texts[name] = value
    if texts["kind"] not in ("purchase", "release") or not texts["e164"]:
        raise ValueError("no kind or number")
    return Terms(
        setup=_amount(fields.get("setup")),
        monthly=_amount(fields.get("monthly")),
        approvals_needed=needed,
        **texts,
    )


def _legacy_terms(filing: Step, hold: Step | None) -> Terms:
    """Terms of a request filed before numbot sealed them whole: a purchase's from its hold
    (number, reservation, price) and its filing (approvals, policy); a release's from its
    filing alone (it names the number; nothing is charged)."""
    kind = "purchase" if filing.action == "request_purchase" else "release"
    source = hold.fields if hold is not None else filing.fields
    return terms_from_fields(
        {
            "kind": kind,
            "e164": source.get("e164", ""),
            "requester": filing.actor,
            "reservation": source.get("reservation", "") if kind == "purchase" else "",
            "number": filing.fields.get("number", "") if kind == "release" else "",
            "setup": source.get("setup") if kind == "purchase" else None,
            "monthly": source.get("monthly"),
            # Before quorums, every request needed one approval and no policy had a hash.
            "approvals_needed": filing.fields.get("approvals_needed", 1),
            "policy": filing.fields.get("policy", ""),
        }
    )


def hold_terms(hold: Step) -> tuple[str, str, Decimal | None, Decimal | None]:
    """(e164, reservation, setup, monthly) as the sealed `reserve` entry has them."""
    return (
        _text(hold.fields.get("e164")),
        _text(hold.fields.get("reservation")),
        _amount(hold.fields.get("setup")),
        _amount(hold.fields.get("monthly")),
    )


def held(request: Request, steps: Sequence[Step]) -> Terms | Tampered:
    """A held purchase's terms so far, from its sealed `reserve` entry (Flowyte's quote
    then), provided the row still agrees with them; the approvals needed and the policy are
    settled when it is filed. Before a request is filed, nothing else is sealed."""
    holds = [s for s in steps if s.action == HOLD_ACTION and s.state == "held"]
    if len(holds) != 1 or not holds[0].authentic:
        return Tampered("the log has no sealed hold for this request")
    try:
        e164, reservation, setup, monthly = hold_terms(holds[0])
    except ValueError as exc:
        return Tampered(f"the sealed hold cannot be read ({exc})")
    terms = Terms(
        kind="purchase",
        e164=e164,
        requester=holds[0].actor,
        reservation=reservation,
        number="",
        setup=setup,
        monthly=monthly,
        approvals_needed=request.approvals_needed,
        policy=str(holds[0].fields.get("policy", "")),
    )
    problem = row_problem(request, terms)
    return Tampered(problem) if problem else terms


def sealed_terms(steps: Sequence[Step]) -> Terms | Tampered:
    """The terms the request was filed with, from its sealed entries alone."""
    filings = [s for s in steps if s.action in FILING_ACTIONS and s.state == "pending"]
    if len(filings) != 1:
        return Tampered(f"the log records {len(filings)} filings of this request, not one")
    filing = filings[0]
    if not filing.authentic:
        return Tampered("the entry that filed the request is not sealed with the audit key")
    holds = [s for s in steps if s.action == HOLD_ACTION and s.state == "held"]
    kind = "purchase" if filing.action == "request_purchase" else "release"
    hold = holds[0] if len(holds) == 1 else None
    if kind == "purchase" and (hold is None or not hold.authentic):
        return Tampered("the log has no sealed hold for this purchase")
    if kind == "release" and holds:
        return Tampered("the log records a hold for a release")
    try:
        sealed = filing.fields.get("terms")
        if isinstance(sealed, Mapping):
            terms = terms_from_fields(sealed)
        elif sealed is None:
            terms = _legacy_terms(filing, hold)
        else:
            raise ValueError("its terms are not a record")
    except ValueError as exc:
        return Tampered(f"the sealed terms cannot be read ({exc})")
    if terms.kind != kind or terms.requester != filing.actor:
        return Tampered("the sealed terms do not match who filed what")
    if hold is not None:
        e164, reservation, setup, monthly = hold_terms(hold)
        if hold.actor != terms.requester or (e164, reservation) != (terms.e164, terms.reservation):
            return Tampered("the request's terms are not those of the hold it was filed from")
        if None not in (setup, monthly) and (setup, monthly) != (terms.setup, terms.monthly):
            return Tampered("the request's price is not the price Flowyte quoted for the hold")
    return terms


def row_problem(request: Request, terms: Terms) -> str | None:
    """Why the row disagrees with the sealed terms (someone edited it), or None."""
    seen = {
        "kind": request.kind,
        "number (+E.164)": request.e164,
        "requester": request.requester,
        "hold": _text(request.reservation_id) if terms.kind == "purchase" else "",
        "number id": _text(request.number_id) if terms.kind == "release" else "",
        "setup price": request.setup_cost if terms.kind == "purchase" else terms.setup,
        "monthly price": request.monthly_cost if terms.kind == "purchase" else terms.monthly,
        "approvals needed": request.approvals_needed,
    }
    sealed = {
        "kind": terms.kind,
        "number (+E.164)": terms.e164,
        "requester": terms.requester,
        "hold": terms.reservation,
        "number id": terms.number,
        "setup price": terms.setup,
        "monthly price": terms.monthly,
        "approvals needed": terms.approvals_needed,
    }
    changed = [name for name in sealed if seen[name] != sealed[name]]
    if changed:
        return f"the database's {', '.join(changed)} differ from what was sealed when it was filed"
    return None


def filed(request: Request, steps: Sequence[Step]) -> Terms | Tampered:
    """The sealed terms, provided the row still agrees with them."""
    terms = sealed_terms(steps)
    if isinstance(terms, Tampered):
        return terms
    problem = row_problem(request, terms)
    return Tampered(problem) if problem else terms


def authority(request: Request, steps: Sequence[Step]) -> Authority | Tampered:
    """Whether the sealed record lets the approved request spend, and on which terms.

    Checks that the row agrees with the sealed terms, that its status is the last state the
    log sealed, and that since the request was last put up for approval enough distinct
    people other than the requester approved exactly these terms, each entry sealed.
    """
    if not steps:
        return Tampered("no audit entry records this request")
    terms = filed(request, steps)
    if isinstance(terms, Tampered):
        return terms
    moves = [s for s in steps if s.state]
    if not moves or moves[-1].state != request.status:
        last = moves[-1].state if moves else "nothing"
        return Tampered(f"the database says {request.status}, the audit log says {last}")
    reopened = max(i for i, s in enumerate(steps) if s.state == "pending")  # filing is one
    final = max((i for i, s in enumerate(steps) if s.state == "approved"), default=-1)
    if final < reopened:
        return Tampered("no approval is recorded since the request was last put up for approval")
    if not all(s.authentic for s in steps[reopened:]):
        return Tampered("an approval or a later step is not sealed with the audit key")
    approval = steps[final]
    if approval.actor != request.decided_by:
        return Tampered(
            f"the log has <@{approval.actor}> approving, the database <@{request.decided_by}>"
        )
    round_ = [s for s in steps[reopened + 1 : final + 1] if s.action == "approve"]
    if any(s.actor == terms.requester for s in round_):
        return Tampered("the requester cannot approve their own request")
    if not all(terms.bound_by(s.fields.get("binds")) for s in round_):
        return Tampered("an approval is bound to other terms than the request was filed with")
    needed = approval.fields.get("needed")
    if not isinstance(needed, int) or isinstance(needed, bool) or needed < terms.approvals_needed:
        return Tampered(
            f"the final approval records {needed!r} needed where the request was filed "
            f"needing {terms.approvals_needed}"
        )
    approvers = tuple(dict.fromkeys(s.actor for s in round_))
    if len(approvers) < needed:
        return Tampered(
            f"{len(approvers)} distinct approval(s) are recorded where {needed} were needed"
        )
    started = [s for s in steps[final + 1 :] if s.action == f"{terms.kind}_started"]
    sent = started[-1].fields.get("idempotency_key") if started else None
    key = sent if isinstance(sent, str) and sent else None
    if started and key is None:
        return Tampered("the last call sent records no Idempotency-Key")
    base = f"numbot-{terms.kind}-{request.id}"
    return Authority(terms, approvers, needed, key, attempt_key(base, len(started)))


def needed_now(terms: Terms, policy: Policy) -> int:
    """The strictest of the approvals the request was filed needing and what the policy in
    force now asks for the same terms."""
    return max(terms.approvals_needed, approvals_needed(policy, terms.kind, terms.charge))


def cap_refusal(terms: Terms, policy: Policy) -> NotInForce | None:
    """A purchase over the cap in force now (it may have been lowered since filing)."""
    cap = policy.max_purchase_usd
    if terms.kind != "purchase" or cap is None:
        return None
    charge = terms.charge
    if charge is None:
        return NotInForce("over_cap", f"the cap is now {usd(cap)}; this request's price is unknown")
    if charge > cap:
        return NotInForce("over_cap", f"the cap is now {usd(cap)}; this costs {usd(charge)}")
    return None


def not_in_force(auth: Authority, policy: Policy, may_approve: frozenset[str]) -> NotInForce | None:
    """Whether the policy in force now, and who may approve now (`may_approve`: those of
    `auth.approvers` who still may), still allow a spend the sealed record allows."""
    over = cap_refusal(auth.terms, policy)
    if over is not None:
        return over
    needed = max(auth.needed, needed_now(auth.terms, policy))
    counted = [a for a in auth.approvers if a in may_approve]
    if len(counted) >= needed:
        return None
    gone = [a for a in auth.approvers if a not in may_approve]
    lost = f"; {', '.join(f'<@{a}>' for a in gone)} may no longer approve" if gone else ""
    return NotInForce(
        "quorum",
        f"the policy in force now needs {needed} approval{'s' if needed != 1 else ''} "
        f"from current approvers, and {len(counted)} {'is' if len(counted) == 1 else 'are'} "
        f"recorded{lost}",
    )

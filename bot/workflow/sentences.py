"""What the workflow says, and the shapes it accepts: pure, no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from storage.requests import IN_FLIGHT_STATUSES, Request

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
NUMBER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
AGENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REQUEST_ID = re.compile(r"^req_[0-9a-f]{12}$")

NOT_E164 = "That is not a phone number in +E.164 form."
NOT_AGENT = "That is not an agent id."
UNKNOWN_REQUEST = "That request does not exist (the message may be from an old install)."
UNKNOWN_NOT_CHECKED = (
    "Flowyte did not answer in time, so numbot cannot tell whether that happened. "
    "Check with `/numbers list` (or search again) before you retry."
)
CHECKING_PURCHASE = (
    "Flowyte has not confirmed the purchase of {e164} yet, so numbot does not know whether "
    "it went through. numbot is still confirming with Flowyte: it asks again with the same "
    "request, so nothing is charged twice{next}. It will report here; do not retry by hand."
)
CHECKING_RELEASE = (
    "Flowyte has not confirmed the release of {e164} yet, so numbot does not know whether it "
    "went through. numbot is still confirming with Flowyte's list of numbers{next}. It will "
    "report here; do not retry by hand."
)
PRICE_UNCHECKED = (
    "numbot could not re-check the price with Flowyte just now ({why}), so nothing was "
    "bought. The request is waiting for approval again: approve it again in a minute."
)
NOT_PURCHASED = (
    "Flowyte refused the purchase when numbot asked again with the same request, so it did "
    "not happen and nothing was charged. Reserve the number and request it again."
)
NOT_RELEASED = (
    "Flowyte still lists this number as ours: it was not released. Request the release again."
)
NOT_IN_FORCE = (
    "Nothing was spent: {why}. The request is waiting for approval again, under the policy "
    "in force now."
)
UNAUTHENTIC = (
    "numbot will not carry out request {id}: its approval is not backed by a sealed audit "
    "entry from an approver ({why}). The database may have been edited. Nothing was spent; "
    "check `numbot audit verify` and the request before anything else."
)


def slack_time(moment: datetime) -> str:
    """A moment each reader sees in their own zone (Slack's date token), UTC as fallback."""
    fallback = moment.astimezone(UTC).strftime("%H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{time}}|{fallback}>"


TRY_AGAIN = "press Try again on the card before the hold lapses"


def membership_unknown(groups: tuple[str, ...]) -> str:
    """Slack could not say whether someone is in an approvers' group (never "not one")."""
    named = ", ".join(f"<!subteam^{g}>" for g in groups)
    return (
        f"numbot could not check your membership of {named} with Slack just now, so it "
        "cannot count you as an approver yet. Nothing changed; try again in a minute."
    )


NAMED_AT_MOST = 10  # approvers named in one sentence; the rest are counted


def who_may_approve(people: list[str]) -> str:
    """' <@A>, <@B> may approve it.' for a refusal that needs more approvals."""
    if not people:
        return " Nobody else may approve it under the policy in force now."
    named = ", ".join(f"<@{p}>" for p in people[:NAMED_AT_MOST])
    more = len(people) - NAMED_AT_MOST
    rest = f" and {more} more" if more > 0 else ""
    return f" {named}{rest} may approve it."


def refusal_code(request: Request) -> str:
    if request.status in IN_FLIGHT_STATUSES:
        return "in_flight"
    if request.status == "expired":
        return "expired"
    return "already_decided"


def status_sentence(request: Request) -> str:
    who = f" by <@{request.decided_by}>" if request.decided_by else ""
    return {
        "held": "That number is held but its purchase has not been requested yet.",
        "pending": "Already requested: it is waiting for an approver.",
        "unfunded": f"Already approved{who}, but the wallet was short: top it up, then an approver tries again.",
        "approved": f"Already approved{who}; the purchase is under way.",
        "purchasing": f"Already approved{who}; the purchase is under way.",
        "releasing": f"Already approved{who}; the release is under way.",
        "checking": f"Already approved{who}; numbot is still confirming with Flowyte whether it went through.",
        "purchased": f"Already approved{who} and bought. Nothing more to do.",
        "released": f"Already approved{who} and released.",
        "failed": f"This request already failed: {request.detail}",
        "rejected": f"Already rejected{who}.",
        "cancelled": "The requester cancelled this request.",
        "expired": "The hold lapsed, so this request can no longer be approved. Reserve the number again.",
    }.get(request.status, f"This request is {request.status}.")

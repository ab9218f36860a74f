"""Approve and Reject on a card: the clicker gets the service's answer privately, the card
itself is left for numbot to redraw (a reply must never replace the approval card), and
Reject only opens its modal (at once, before anything that may wait), then fills it in or
says why not: nothing is rejected before the approver submits it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.kernel.outcomes import Decided, Refused
from handlers import ids
from handlers.actions.decide import approve, reject
from storage.requests import Request

APPROVER = "U0BOB"
REQUESTER = "U0ALICE"
REQUEST = Request(
    id="req_0123456789ab",
    kind="purchase",
    status="pending",
    e164="+14155550100",
    requester=REQUESTER,
    created_at="2026-03-01T12:00:00.000000Z",
    updated_at="2026-03-01T12:00:00.000000Z",
)


class Service:
    """Answers with a fixed outcome and records who asked about what."""

    def __init__(self, outcome: Any, *, sandbox: bool) -> None:
        self.outcome = outcome
        self.sandbox = sandbox
        self.asked: list[tuple[str, str, str]] = []

    async def approve(self, actor: str, request_id: str) -> Decided | Refused:
        self.asked.append(("approve", actor, request_id))
        return self.outcome

    async def rejectable(self, actor: str, request_id: str) -> Request | Refused:
        self.asked.append(("rejectable", actor, request_id))
        return self.outcome


class Client:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.opened: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []

    async def chat_postMessage(self, **kwargs: Any) -> None:
        self.posted.append(kwargs)

    async def views_open(self, **kwargs: Any) -> dict[str, Any]:
        self.opened.append(kwargs)
        return {"ok": True, "view": {"id": "V0001"}}

    async def views_update(self, **kwargs: Any) -> None:
        self.updated.append(kwargs)


async def click(
    listener: Any, service: Service, *, actor: str = APPROVER, on_message: bool = True
) -> tuple[list[dict[str, Any]], Client]:
    acked: list[bool] = []
    replies: list[dict[str, Any]] = []

    async def ack() -> None:
        acked.append(True)

    async def respond(**reply: Any) -> None:
        replies.append(reply)

    body: dict[str, Any] = {"user": {"id": actor}, "trigger_id": "trig.1"}
    if on_message:
        body["response_url"] = "https://hooks.slack.invalid/r/1"
    action = {"action_id": ids.APPROVE, "value": REQUEST.id}
    client = Client()
    await listener(
        ack=ack, body=body, action=action, respond=respond, client=client, service=service
    )
    assert acked == [True]
    return replies, client


APPROVALS = [
    (Decided(REQUEST, "Bought +14155550100."), ":white_check_mark: Bought +14155550100."),
    (Refused("self_approval", "Someone else must approve it."), None),
]


@pytest.mark.parametrize("sandbox", [True, False])
@pytest.mark.parametrize(("outcome", "expected"), APPROVALS)
async def test_approve_answers_the_clicker_alone_and_the_card_stays(outcome, expected, sandbox):
    service = Service(outcome, sandbox=sandbox)
    [reply], client = await click(approve, service)
    assert service.asked == [("approve", APPROVER, REQUEST.id)]
    expected = expected or ":no_entry_sign: " + outcome.message
    assert reply["response_type"] == "ephemeral"
    assert reply["replace_original"] is False  # the approval card is not replaced by a reply
    assert reply["text"] == expected + (" [SANDBOX]" if sandbox else "")
    assert any(expected in str(block) for block in reply["blocks"])
    assert client.posted == [] and client.opened == []


async def test_approve_from_home_answers_in_the_clickers_dm():
    service = Service(Decided(REQUEST, "Approved."), sandbox=False)
    replies, client = await click(approve, service, on_message=False)
    assert replies == []
    [dm] = client.posted
    assert dm["channel"] == APPROVER
    assert dm["text"] == ":white_check_mark: Approved."


async def test_a_refused_reject_says_why_in_the_modal_it_opened_first():
    service = Service(Refused("not_approver", "Only an approver can reject."), sandbox=False)
    replies, client = await click(reject, service)
    assert service.asked == [("rejectable", APPROVER, REQUEST.id)]
    assert replies == []
    [opened] = client.opened  # at once: the trigger_id lives 3 seconds
    assert opened["trigger_id"] == "trig.1" and opened["view"]["private_metadata"] == REQUEST.id
    [updated] = client.updated
    assert updated["view_id"] == "V0001" and "submit" not in updated["view"]
    assert "Only an approver can reject." in str(updated["view"]["blocks"])


@pytest.mark.parametrize(("actor", "title"), [(APPROVER, "Reject"), (REQUESTER, "Cancel")])
async def test_reject_only_opens_the_modal_cancel_for_the_requester(actor, title):
    service = Service(REQUEST, sandbox=False)
    replies, client = await click(reject, service, actor=actor)
    assert service.asked == [("rejectable", actor, REQUEST.id)]  # nothing rejected yet
    assert replies == []
    [opened] = client.opened
    assert opened["trigger_id"] == "trig.1"
    assert opened["view"]["callback_id"] == ids.REJECT_VIEW
    [updated] = client.updated
    view = updated["view"]
    assert view["callback_id"] == ids.REJECT_VIEW
    assert view["private_metadata"] == REQUEST.id
    assert view["title"]["text"].startswith(title)

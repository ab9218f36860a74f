"""What approvers see outside the card, and the card's own promises: copies, reminders, the
thread's story, who is called on, what notifications say."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from handlers import ids
from handlers.blocks.approvers import (
    build_approver_copy,
    build_story_line,
    build_thread_reminder,
    mentions,
)
from handlers.blocks.modals import build_reject_modal
from handlers.blocks.requests import build_approval_card, decision_actions, fallback
from tests.handlers.test_blocks import make_request

APPROVERS = ("U0ALICE", "U0BOB", "U0CAROL")


def actions(message):
    return [b for b in message["blocks"] if b["type"] == "actions"]


def mrkdwn(message):
    out = []
    for block in message["blocks"]:
        if block.get("text", {}).get("type") == "mrkdwn":
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                out.append(element["text"])
    return "\n".join(out)


def test_the_card_calls_on_every_approver_but_the_requester_while_it_waits():
    pending = build_approval_card(make_request(), balance=None, sandbox=False, approvers=APPROVERS)
    assert "<@U0BOB> <@U0CAROL>" in mrkdwn(pending) and "Approvers:* <@U0ALICE" not in mrkdwn(
        pending
    )
    decided = build_approval_card(
        make_request(status="purchased", decided_by="U0BOB"),
        balance=None,
        sandbox=False,
        approvers=APPROVERS,
    )
    assert "*Approvers:*" not in mrkdwn(decided)
    assert mentions(APPROVERS, "U0ALICE") == "<@U0BOB> <@U0CAROL>"


def test_notifications_name_who_what_and_how_much_and_the_sandbox_comes_last():
    request = make_request()
    assert fallback(request) == "<@U0ALICE> asks to buy +14155550100 for $2.15 (then $1.15/month)"
    card = build_approval_card(request, balance=None, sandbox=True)
    assert card["text"].startswith("<@U0ALICE> asks to buy") and card["text"].endswith("[SANDBOX]")
    release = make_request(kind="release", reservation_id=None, setup_cost=None)
    assert fallback(release) == "<@U0ALICE> asks to release +14155550100 (saves $1.15/month)"


def test_release_approve_is_the_dangerous_one_and_reject_never_is():
    release = decision_actions(make_request(kind="release"), block_id="b")
    approve, reject = release["elements"]
    assert approve["style"] == "danger" and approve["confirm"]["style"] == "danger"
    assert "cannot be undone" in approve["confirm"]["text"]["text"]
    assert "style" not in reject and reject["action_id"] == ids.REJECT
    purchase = decision_actions(make_request(), block_id="b")
    assert purchase["elements"][0]["style"] == "primary" and "style" not in purchase["elements"][1]


def test_an_approver_copy_decides_like_the_card_then_shows_the_outcome():
    request = make_request(card_channel="C0APPROVALS", card_ts="1.2")
    copy = build_approver_copy(request, balance=None, sandbox=False)
    [row] = actions(copy)
    assert [e["action_id"] for e in row["elements"]] == [ids.APPROVE, ids.REJECT]
    assert {e["value"] for e in row["elements"]} == {request.id}
    assert "<#C0APPROVALS>" in mrkdwn(copy)
    done = build_approver_copy(
        make_request(status="rejected", decided_by="U0BOB", detail="*no*"),
        balance=None,
        sandbox=False,
    )
    assert not actions(done) and "Rejected by <@U0BOB>" in mrkdwn(done)
    assert "*no*" not in mrkdwn(done)  # the reason is plain text, not mrkdwn
    assert "*no*" in json.dumps(done)


def test_a_reminder_is_a_reply_that_says_so_and_by_when_with_no_second_set_of_buttons():
    request = make_request()
    thread = build_thread_reminder(request, APPROVERS)
    assert "Reminder" in mrkdwn(thread) and "<!date^" in mrkdwn(thread)
    assert "<@U0BOB> <@U0CAROL>" in mrkdwn(thread) and "<@U0ALICE>" not in mrkdwn(thread)
    assert not actions(thread)
    lapses = request.hold_expires_at.astimezone(UTC)
    assert thread["text"] == f"Reminder: decide on {request.e164} before {lapses:%H:%M} UTC"
    under_a_copy = build_thread_reminder(request, (), ())
    assert "<@" not in mrkdwn(under_a_copy) and "Reminder" in under_a_copy["text"]


@pytest.mark.parametrize(
    "status,words",
    [
        ("approved", "Approved by <@U0BOB>; buying now."),
        ("checking", "confirming with Flowyte"),
        ("purchased", "Bought for $2.15."),
        ("failed", "Failed"),
        ("rejected", "Rejected by <@U0BOB>"),
        ("cancelled", "Cancelled by the requester"),
        ("expired", "lapsed"),
        ("pending", "waits for approval again"),
    ],
)
def test_the_thread_tells_each_move_in_one_line(status, words):
    line = build_story_line(make_request(status=status, decided_by="U0BOB", detail="*why*"))
    assert line is not None and words in mrkdwn(line)
    assert "*why*" not in mrkdwn(line)  # Flowyte's or a person's words stay plain text
    assert len(line["blocks"]) == 1


def test_nothing_to_tell_for_a_status_without_news():
    assert build_story_line(make_request(status="held")) is None
    assert build_story_line(make_request(status="purchasing")) is None


def test_the_reject_modal_asks_an_optional_reason_and_names_what_is_rejected():
    modal = build_reject_modal(make_request(), cancelling=False)
    assert (
        modal["callback_id"] == ids.REJECT_VIEW and modal["private_metadata"] == "req_0123456789ab"
    )
    [field] = [b for b in modal["blocks"] if b["type"] == "input"]
    assert field["optional"] is True and field["element"]["max_length"] == 300
    assert "$2.15" in json.dumps(modal) and "<@U0ALICE>" in json.dumps(modal)
    cancel = build_reject_modal(make_request(), cancelling=True)
    assert cancel["title"]["text"] == "Cancel request"
    for view in (modal, cancel):
        assert len(view["title"]["text"]) <= 24 and len(view["submit"]["text"]) <= 24


def test_an_approver_s_own_copy_says_they_approved_and_offers_nothing_more():
    request = make_request(approvals_needed=2, approved_by="U0BOB")
    theirs = build_approver_copy(request, balance=None, sandbox=False, viewer="U0BOB")
    assert not actions(theirs)
    assert "You approved · waiting for 1 more approver" in json.dumps(theirs, ensure_ascii=False)
    others = build_approver_copy(request, balance=None, sandbox=False, viewer="U0CAROL")
    assert actions(others)  # Carol still decides from hers


@pytest.mark.parametrize(
    ("needed", "approvers", "note"),
    [
        (2, ("U0BOB", "U0CAROL"), "waiting for <@U0CAROL>"),
        (2, ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"), "waiting for <@U0CAROL> or <@U0DAVE>"),
        (3, ("U0BOB", "U0CAROL", "U0DAVE"), "waiting for <@U0CAROL> and <@U0DAVE>"),
        (
            3,
            ("U0BOB", "U0CAROL", "U0DAVE", "U0ERIN"),
            "waiting for 2 of <@U0CAROL>, <@U0DAVE> and <@U0ERIN>",
        ),
        # More than three who may still approve, or who they are is not known: the count.
        (2, ("U0BOB", "U0CAROL", "U0DAVE", "U0ERIN", "U0FRANK"), "waiting for 1 more approver"),
        (3, None, "waiting for 2 more approvers"),
        # Fewer people left than approvals needed: naming them would promise too much.
        (3, ("U0BOB", "U0CAROL"), "waiting for 2 more approvers"),
    ],
)
def test_an_approver_s_copy_names_who_may_still_approve_when_they_are_few(needed, approvers, note):
    request = make_request(approvals_needed=needed, approved_by="U0BOB")
    copy = build_approver_copy(
        request, balance=None, sandbox=False, viewer="U0BOB", approvers=approvers
    )
    assert f"You approved · {note}" in mrkdwn(copy)
    assert "<@U0BOB>" not in mrkdwn(copy).split("You approved")[1]  # not who already did
    assert not actions(copy)


@pytest.mark.parametrize(
    ("status", "told"),
    [
        ("purchased", "+14155550100 was bought for $2.15."),
        ("expired", "The hold on +14155550100 lapsed; nothing was bought."),
        ("rejected", "The request for +14155550100 was rejected."),
    ],
)
def test_a_thread_note_reads_as_a_sentence_on_a_phone(status, told):
    line = build_story_line(make_request(status=status, decided_by="U0BOB", e164="+14155550100"))
    assert line["text"] == told

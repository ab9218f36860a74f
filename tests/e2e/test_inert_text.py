"""Reasons written to pass for the card's own lines reach the card inert, through the real bot.

Issue 7: a reason with newlines and mrkdwn (`*Costs now:* $0.01`, `:white_check_mark: Approved
by <@U…> and *purchased*`), direction overrides and zero-width characters rendered as lines
that looked like the card's; a lone surrogate crashed the audit write.
"""

import json
import sqlite3
from typing import Any

from handlers import ids
from tests.e2e.harness import ALICE, APPROVAL_CHANNEL, CAROL, BotProcess, find_element, reply, texts
from tests.e2e.test_golden_path import hold_number, run_cli

FORGING_REASON = (
    "Bay Area line\n*Costs now:* $0.01\n\u202e:white_check_mark: Approved by <@U0BOB> and "
    "*purchased*\u202c\u200b\n~urgent~\n> signed off \ud800\ufeff"
)
CLEANED = (
    "Bay Area line *Costs now:* $0.01 :white_check_mark: Approved by <@U0BOB> and "
    "*purchased* ~urgent~ > signed off"
)
INVISIBLE = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
INVISIBLE |= set("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad")


def walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def mrkdwn(message: dict[str, Any]) -> str:
    """Everything Slack would format: the fallback text and every mrkdwn text object."""
    parts = [message.get("text", "")]
    parts += [n["text"] for n in walk(message["blocks"]) if n.get("type") == "mrkdwn"]
    return "\n".join(parts)


def assert_inert_card(card: dict[str, Any], why: str) -> None:
    formatted = mrkdwn(card)
    for forged in ("$0.01", "purchased", "Approved by <@U0BOB>", "urgent", "signed off", "$9.99"):
        assert forged not in formatted, formatted
    reason_texts = [
        n for n in walk(card["blocks"]) if n.get("type") == "plain_text" and "Why:" in n["text"]
    ]
    assert reason_texts == [{"type": "plain_text", "text": f"Why: {why}", "emoji": False}]
    assert not INVISIBLE & set(json.dumps(card, ensure_ascii=False))


def test_a_forging_reason_with_a_lone_surrogate_is_recorded_and_shown_inert(
    bot: BotProcess, slack, flowyte
):
    _, request_id = hold_number(bot, slack)
    bot.click(ids.REQUEST_PURCHASE, request_id, user=ALICE)
    slack.wait_for("views.open")
    # Slack sends the modal's state as JSON: the lone surrogate arrives as the escape \ud800.
    response = bot.submit_reason(request_id, FORGING_REASON, user=ALICE)
    assert response.status_code == 200 and not response.content  # accepted, no field errors

    [card] = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.body.get("channel") == APPROVAL_CHANNEL
    )
    assert card.ok
    assert_inert_card(card.body, CLEANED)
    assert f"<@{ALICE}> asks to buy" in mrkdwn(card.body)  # the card's own lines are intact
    dm = slack.wait_for(lambda c: c.method == "chat.postMessage" and c.body["channel"] == ALICE)
    assert "requested" in texts(dm[-1].body)

    # Recorded: the request, and its audit entry (which a lone surrogate used to crash).
    with sqlite3.connect(bot.db) as db:
        assert db.execute(
            "SELECT status, reason FROM requests WHERE id = ?", (request_id,)
        ).fetchone() == (
            "pending",
            CLEANED,
        )
    exported = run_cli(bot, "audit", "export", "--format", "jsonl")
    [entry] = [
        json.loads(line)
        for line in exported.stdout.splitlines()
        if json.loads(line)["action"] == "request_purchase"
    ]
    assert entry["outcome"] == "ok" and CLEANED in json.dumps(entry, ensure_ascii=False)
    assert run_cli(bot, "audit", "verify").returncode == 0

    # The card stays inert when it is redrawn after the decision.
    bot.click(ids.REJECT, request_id, user=CAROL, channel=APPROVAL_CHANNEL)  # asks why
    slack.wait_for(lambda c: c.method == "views.open" and "Reject" in json.dumps(c.body))
    bot.submit_view(ids.REJECT_VIEW, {}, user=CAROL, private_metadata=request_id)
    update = slack.wait_for(
        lambda c: c.method == "chat.update" and c.body["channel"] == APPROVAL_CHANNEL
    )[0]
    assert_inert_card(update.body, CLEANED)


def test_a_forging_release_reason_is_shown_inert(bot: BotProcess, slack, flowyte):
    _, rid = bot.command("import +14155550999", user=ALICE)
    assert "Imported" in texts(reply(slack, rid))
    reason = "moving\n*Saves:* $9.99/month\n:white_check_mark: Approved by <@U0BOB> and *released*"
    _, rid = bot.command(f"release +14155550999 {reason}", user=ALICE)
    assert "requested" in texts(reply(slack, rid)).lower()
    [card] = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.body.get("channel") == APPROVAL_CHANNEL
    )
    assert_inert_card(
        card.body,
        "moving *Saves:* $9.99/month :white_check_mark: Approved by <@U0BOB> and *released*",
    )
    assert "cannot be undone" in mrkdwn(card.body)
    assert find_element(card.body, ids.APPROVE)["value"]


LIVE_MARKUP_REASON = (
    "see <@U0MALLORY> in <#C0GENERAL> "
    "<!date^1700000000^Your session expired, sign in^https://evil.example/login|x> "
    "&lt;@U0BOB&gt; <!channel> <https://evil.example|docs>"
)


def test_a_reject_reason_reaches_the_requester_with_no_live_markup(bot: BotProcess, slack, flowyte):
    """A mention, a channel link, a date token with a link, or entities typed already: in
    the requester's DM, in its blocks and in the notification text, none of them is live."""
    from tests.e2e.test_golden_path import request_purchase

    _, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    response = bot.submit_view(
        ids.REJECT_VIEW,
        {ids.REASON_BLOCK: {ids.REASON_INPUT: LIVE_MARKUP_REASON}},
        user=CAROL,
        private_metadata=request_id,
    )
    assert response.status_code == 200
    [dm] = slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == ALICE
            and "rejected" in texts(c.body)
        )
    )
    formatted = mrkdwn(dm.body)
    assert "<@U0MALLORY>" not in formatted and "<#C0GENERAL>" not in formatted
    assert "<!date" not in formatted and "<!channel>" not in formatted and "<https" not in formatted
    assert "&amp;lt;@U0BOB&amp;gt;" in formatted  # entities typed are shown as typed
    # What Slack shows: the reason as typed, after numbot's own mention of who rejected it.
    assert f"rejected by <@{CAROL}>" in dm.body["text"]
    assert "&lt;@U0MALLORY&gt; in &lt;#C0GENERAL&gt;" in dm.body["text"]
    assert "&lt;!date^1700000000^Your session expired" in dm.body["text"]

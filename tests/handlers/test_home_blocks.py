"""The App Home builder, on its structure: Slack's limits, inert text, who sees what."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.flowyte.models import Agent, OwnedNumber
from bot.kernel.home import Capped, Home, MonthSpend
from handlers import ids
from handlers.blocks.home import MAX_BLOCKS, MAX_NUMBERS, UNREACHABLE, build_home
from handlers.blocks.requests import approve_confirm
from storage.requests import Request

NOW = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)
ME, OTHER = "U0ME", "U0OTHER"
NASTY = "*Costs now:* $0.01 <!channel> <@U0BOSS> <https://evil.example|click> :fire: _x_\n> Approved by me"


def request(n: int = 0, **changes: Any) -> Request:
    values: dict[str, Any] = {
        "id": f"req_{n:012x}",
        "kind": "purchase",
        "status": "pending",
        "e164": f"+1415555{n:04d}",
        "requester": OTHER,
        "created_at": "2030-03-15T11:00:00.000000Z",
        "updated_at": "2030-03-15T11:30:00.000000Z",
        "setup_cost": Decimal("1.00"),
        "monthly_cost": Decimal("1.15"),
        "reason": "Bay Area support line",
        "hold_expires_at": NOW + timedelta(minutes=20),
    }
    return Request(**{**values, **changes})


def home(**changes: Any) -> Home:
    values: dict[str, Any] = {
        "user": ME,
        "approver": True,
        "now": NOW,
        "holds": Capped([], 0),
        "requests": [],
        "waiting": Capped([], 0),
        "spend": MonthSpend(datetime(2030, 3, 1, tzinfo=UTC), Decimal("4.30"), 2),
        "wallet": Decimal("25.00"),
        "numbers": [],
        "agents": {},
    }
    return Home(**{**values, **changes})


def number(n: int, agent: str | None = None, e164: str | None = None) -> OwnedNumber:
    return OwnedNumber.model_validate(
        {"id": f"num_{n}", "e164": e164 or f"+1628555{n:04d}", "defaultAgentId": agent}
    )


def elements(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in view["blocks"] for e in b.get("elements", []) if "action_id" in e]


def mrkdwn_texts(view: dict[str, Any]) -> list[str]:
    found = []
    for block in view["blocks"]:
        for obj in [block.get("text"), *block.get("elements", [])]:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                found.append(obj["text"])
    return found


def headers(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]


def everything() -> Home:
    """As much as Home can hold, and more: every list past its cap, hostile words everywhere."""
    holds = [request(i, status="held", requester=ME, reason="") for i in range(40)]
    waiting = [
        request(100 + i, reason=NASTY * 4, kind="release" if i % 3 == 0 else "purchase")
        for i in range(40)
    ]
    mine = [
        request(200 + i, requester=ME, status=s, decided_by=OTHER, reason=NASTY)
        for i, s in enumerate(["pending", "approved", "checking", "purchased", "failed"] * 3)
    ]
    agents = {"agt_x": Agent.model_validate({"id": "agt_x", "name": NASTY * 3})}
    numbers = [number(i, agent="agt_x" if i % 2 else None, e164=f"+1{NASTY}") for i in range(900)]
    return home(
        holds=Capped(holds[:10], 40),
        waiting=Capped(waiting[:10], 40),
        requests=mine,
        numbers=numbers,
        agents=agents,
    )


@pytest.mark.parametrize("sandbox", [False, True])
def test_a_full_home_stays_inside_slack_s_limits(sandbox: bool) -> None:
    view = build_home(everything(), sandbox=sandbox)
    assert view["type"] == "home"
    assert len(view["blocks"]) <= MAX_BLOCKS
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        for element in block.get("elements", []):
            if element.get("type") in ("mrkdwn", "plain_text"):
                assert len(element["text"]) <= 3000
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
    block_ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))  # Slack refuses a view with duplicates
    text = json.dumps(view, ensure_ascii=False)
    assert "…and 30 more holds" in text and "…and 30 more in the approval channel" in text
    assert f"…and {900 - MAX_NUMBERS} more: `/numbers list`" in text


def test_what_people_wrote_is_inert() -> None:
    view = build_home(everything(), sandbox=False)
    for text in mrkdwn_texts(view):
        # No mention, broadcast or link numbot did not write; no line break from outside.
        assert "<!channel>" not in text and "<@U0BOSS>" not in text and "<https" not in text
        assert "> Approved" not in text
    reasons = [
        e
        for b in view["blocks"]
        if b["type"] == "context"
        for e in b["elements"]
        if e["type"] == "plain_text"
    ]
    assert len(reasons) == 10  # one per request waiting, as plain_text without emoji
    assert all(r["emoji"] is False and r["text"].startswith("Why: *Costs now:*") for r in reasons)
    assert all("\n" not in r["text"] for r in reasons)


def test_the_approver_section_is_only_for_approvers() -> None:
    waiting = Capped([request(1)], 1)
    assert "Waiting for you" in headers(build_home(home(waiting=waiting), sandbox=False))
    view = build_home(home(approver=False), sandbox=False)
    assert "Waiting for you" not in headers(view)
    assert ids.APPROVE not in {e["action_id"] for e in elements(view)}


def test_an_approver_with_nothing_waiting_is_told_so() -> None:
    view = build_home(home(), sandbox=False)
    assert "Nothing waits for your approval." in json.dumps(view, ensure_ascii=False)


def test_waiting_requests_carry_the_card_s_buttons_and_confirm() -> None:
    purchase, release = request(1), request(2, kind="release", hold_expires_at=None)
    view = build_home(home(waiting=Capped([purchase, release], 2)), sandbox=False)
    approves = [e for e in elements(view) if e["action_id"] == ids.APPROVE]
    rejects = [e for e in elements(view) if e["action_id"] == ids.REJECT]
    assert [e["value"] for e in approves] == [purchase.id, release.id]
    assert [e["value"] for e in rejects] == [purchase.id, release.id]
    assert approves[0]["confirm"] == approve_confirm(purchase)
    assert approves[1]["confirm"] == approve_confirm(release)
    assert approves[0]["style"] == "primary" and approves[1]["style"] == "danger"  # release
    assert "style" not in rejects[1]  # on a release, Reject is the safe choice
    text = json.dumps(view, ensure_ascii=False)
    assert f"<@{OTHER}> asks to buy {purchase.e164}" in text and "$2.15 now" in text
    assert f"<@{OTHER}> asks to release {release.e164}" in text


def test_a_request_the_viewer_approved_shows_who_it_waits_for_and_no_buttons() -> None:
    undecided = request(1, approvals_needed=2)
    approved = request(2, approvals_needed=2, approved_by=ME)
    view = build_home(home(waiting=Capped([undecided, approved], 2)), sandbox=False)
    decided_on = {e["value"] for e in elements(view) if e["action_id"] in (ids.APPROVE, ids.REJECT)}
    assert decided_on == {undecided.id}  # nothing to click on the one already approved
    text = "\n".join(mrkdwn_texts(view))
    assert "You approved · waiting for 1 more approver" in text
    assert f"<@{OTHER}> asks to buy {approved.e164}" in text  # still there, with its context
    assert "Nothing waits for your approval." not in text
    named = build_home(
        home(waiting=Capped([approved], 1), approvers=frozenset({ME, OTHER, "U0CAROL"})),
        sandbox=False,
    )
    assert "You approved · waiting for <@U0CAROL>" in "\n".join(mrkdwn_texts(named))
    only_mine = build_home(home(waiting=Capped([approved], 1)), sandbox=False)
    assert "Nothing waits for your approval." in "\n".join(mrkdwn_texts(only_mine))
    assert not [e for e in elements(only_mine) if e["action_id"] == ids.APPROVE]


def test_home_s_hold_buttons_name_their_number_to_a_screen_reader() -> None:
    holds = [request(n, status="held", requester=ME) for n in (3, 4)]
    view = build_home(home(holds=Capped(holds, 2)), sandbox=False)
    spoken = [
        e["accessibility_label"]
        for e in elements(view)
        if e["action_id"] in (ids.REQUEST_PURCHASE, ids.REJECT)
    ]
    assert spoken == [
        "Request purchase of +14155550003, $2.15 now",
        "Cancel the hold on +14155550003",
        "Request purchase of +14155550004, $2.15 now",
        "Cancel the hold on +14155550004",
    ]


def test_holds_offer_request_purchase_and_cancel() -> None:
    hold = request(3, status="held", requester=ME)
    view = build_home(home(holds=Capped([hold], 1)), sandbox=False)
    by_id = {e["action_id"]: e for e in elements(view)}
    assert by_id[ids.REQUEST_PURCHASE]["value"] == hold.id
    assert by_id[ids.REJECT]["value"] == hold.id  # the holder's reject is a cancel
    assert (
        by_id[ids.REJECT]["text"]["text"] == "Cancel" and "confirm" not in by_id[ids.REJECT]
    )  # the modal asks
    assert by_id[ids.OPEN_SEARCH]["value"] == "open"  # the search modal's own button
    assert "held for you until <!date^" in json.dumps(view, ensure_ascii=False)


def test_requests_show_their_state_and_when() -> None:
    rows = [
        request(1, requester=ME),
        request(2, requester=ME, status="purchasing", decided_by=OTHER),
        request(3, requester=ME, status="purchased", decided_by=OTHER),
        request(4, requester=ME, status="rejected", decided_by=OTHER, kind="release"),
    ]
    text = "\n".join(mrkdwn_texts(build_home(home(requests=rows), sandbox=False)))
    assert "waiting for an approver · since <!date^" in text
    assert f"approved by <@{OTHER}>, buying now" in text
    assert f"bought (approved by <@{OTHER}>) · <!date^" in text
    assert f"Release of *{rows[3].e164}*: :no_entry: rejected by <@{OTHER}>" in text


def test_wallet_and_this_month_s_spend() -> None:
    text = "\n".join(mrkdwn_texts(build_home(home(), sandbox=False)))
    assert "*Wallet:* $25.00" in text
    assert "*Spent in March 2030 (UTC):* $4.30 on 2 numbers" in text


def test_flowyte_unreachable_is_a_line_not_a_broken_home() -> None:
    view = build_home(home(wallet=None, numbers=None), sandbox=False)
    text = "\n".join(mrkdwn_texts(view))
    assert text.count(UNREACHABLE) == 2  # the wallet, and the numbers
    assert "Numbers owned" in headers(view) and "Your holds" in headers(view)


def test_numbers_ringing_no_agent_are_flagged_and_listed_first() -> None:
    agents = {"agt_1": Agent.model_validate({"id": "agt_1", "name": "Front desk"})}
    numbers = [number(1, "agt_1"), number(2), number(3, "agt_gone")]
    text = "\n".join(mrkdwn_texts(build_home(home(numbers=numbers, agents=agents), sandbox=False)))
    assert "*3 numbers owned*, :warning: 1 ringing no agent" in text
    rows = [line for line in text.splitlines() if line.startswith("• *+1628")]
    assert rows[0].startswith(f"• *{numbers[1].e164}* :warning: _rings no agent_")
    assert f"• *{numbers[0].e164}* → Front desk (`agt_1`)" in rows
    assert f"• *{numbers[2].e164}* → `agt_gone`" in rows  # an agent numbot cannot name
    assert "more: `/numbers list`" not in text


def test_an_empty_home_says_what_to_do() -> None:
    view = build_home(home(approver=False), sandbox=True)
    text = json.dumps(view, ensure_ascii=False)
    assert "SANDBOX" in text
    assert "Search for a number and *Reserve* it" in text
    assert "None yet." in text and "owns no numbers yet" in text


def test_home_never_has_more_blocks_than_slack_allows_whatever_it_is_given():
    from handlers.blocks.home import MAX_BLOCKS

    held = [request(id=f"req_{i:012x}", status="held", requester=ME) for i in range(50)]
    waiting = [request(id=f"req_{i + 100:012x}") for i in range(50)]
    view = build_home(home(holds=Capped(held, 50), waiting=Capped(waiting, 50)), sandbox=False)
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert "more than Home can show" in str(view["blocks"][-1])


def test_home_says_what_the_numbers_cost_how_long_the_wallet_lasts_and_what_is_idle():
    from bot.kernel.costs import monthly_bill
    from bot.kernel.home import HomeCosts

    costs = HomeCosts(
        monthly_bill([(Decimal("1.15"), 30)]), 3, monthly_bill([(Decimal("1.15"), 3)])
    )
    text = "\n".join(
        mrkdwn_texts(build_home(home(wallet=Decimal("9.20"), costs=costs), sandbox=False))
    )
    assert "*Wallet:* $9.20 · numbers $34.50 a month · lasts about 8 days\n" in text
    assert "3 numbers reach nobody: $3.45 a month (`/numbers idle`)" in text
    plain = "\n".join(mrkdwn_texts(build_home(home(), sandbox=False)))
    assert "reach nobody" not in plain and "a month" not in plain

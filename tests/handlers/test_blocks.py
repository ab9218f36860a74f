"""Block Kit builders: structure and Slack's limits, not prose."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flowyte.models import Agent, AvailableNumber, OwnedNumber, SearchQuery, Wallet
from bot.kernel.costs import MonthlyBill
from bot.kernel.outcomes import IdleList, SpendMonth, SpendReport
from bot.kernel.text import MAX_REASON
from handlers import ids
from handlers.blocks.common import SANDBOX_NOTE, plain, refusal, slack_date
from handlers.blocks.common import message as as_message
from handlers.blocks.costs import build_idle, build_spend, build_wallet
from handlers.blocks.help import build_help, build_usage_error
from handlers.blocks.modals import build_reason_modal
from handlers.blocks.requests import build_approval_card, build_hold, build_requested
from handlers.blocks.routing import (
    build_assigned,
    build_imported,
    build_number_list,
    build_published,
    build_purchased_dm,
    build_unassigned,
)
from handlers.blocks.search import build_search_results, build_searching
from handlers.blocks.search_modal import build_search_button
from handlers.commands.parser import SUBCOMMANDS, escape_usage
from storage.owned import OwnedRow
from storage.requests import FINAL_STATUSES, IN_FLIGHT_STATUSES, OPEN_STATUSES, Request

Message = dict[str, Any]
EXPIRES = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
HOSTILE = "<!channel> & <@U0EVE> <https://evil.example|click>"

# --------------------------------------------------------------------------- fixtures


def make_request(**changes: Any) -> Request:
    values: dict[str, Any] = {
        "id": "req_0123456789ab",
        "kind": "purchase",
        "status": "pending",
        "e164": "+14155550100",
        "requester": "U0ALICE",
        "created_at": "2030-01-02T02:34:00Z",
        "updated_at": "2030-01-02T02:34:00Z",
        "reservation_id": "res_1",
        "setup_cost": Decimal("1.00"),
        "monthly_cost": Decimal("1.15"),
        "reason": "new support line for the Bay Area",
        "hold_expires_at": EXPIRES,
    }
    values.update(changes)
    return Request(**values)


def available(i: int, **extra: Any) -> AvailableNumber:
    return AvailableNumber.model_validate(
        {
            "e164": f"+1415555{i:04d}",
            "formatted": f"(415) 555-{i:04d}",
            "locality": "San Francisco",
            "region": "CA",
            "features": ["voice", "sms"],
            "monthlyCost": "1.15",
            "setupCost": "1.00",
            **extra,
        }
    )


def owned(i: int = 1, **extra: Any) -> OwnedNumber:
    return OwnedNumber.model_validate(
        {"id": f"num_{i:04d}", "e164": f"+1415555{i:04d}", "monthlyCost": "1.15", **extra}
    )


def agent(agent_id: str = "agt_support", *, published: bool = True, **extra: Any) -> Agent:
    data: dict[str, Any] = {"id": agent_id, "name": "Support line", **extra}
    if published:
        data["publishedVersionId"] = "ver_1"
    return Agent.model_validate(data)


QUERY = SearchQuery(area_code="415")

# --------------------------------------------------------------------------- walking


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def texts(message: Message) -> list[str]:
    """Every text object's text in the message's blocks."""
    return [
        n["text"]
        for n in walk(message["blocks"])
        if n.get("type") in ("mrkdwn", "plain_text") and isinstance(n.get("text"), str)
    ]


def all_text(message: Message) -> str:
    return "\n".join([message.get("text", ""), *texts(message)])


def mrkdwn_texts(message: Message) -> list[str]:
    """What Slack formats: the fallback text and every mrkdwn text object."""
    return [message.get("text", "")] + [
        n["text"] for n in walk(message["blocks"]) if n.get("type") == "mrkdwn"
    ]


def plain_texts(message: Message) -> list[dict[str, Any]]:
    """plain_text objects outside buttons, selects' placeholders and confirm dialogs."""
    return [
        n
        for block in message["blocks"]
        if block["type"] in ("section", "context")
        for n in walk({k: v for k, v in block.items() if k != "accessory"})
        if n.get("type") == "plain_text"
    ]


def action_elements(message: Message) -> list[dict[str, Any]]:
    return [n for n in walk(message["blocks"]) if "action_id" in n]


def actions_blocks(message: Message) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == "actions"]


def buttons(message: Message, action_id: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in action_elements(message)
        if e["type"] == "button" and (action_id is None or e["action_id"] == action_id)
    ]


def check_limits(message: Message) -> None:
    """Slack refuses messages that break these; a builder must never produce one."""
    assert isinstance(message["text"], str) and message["text"].strip()
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids)), block_ids
    assert all(0 < len(b) <= 255 for b in block_ids)
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        elif block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])
        elif block["type"] == "actions":
            assert 1 <= len(block["elements"]) <= 25
            ids_here = [e["action_id"] for e in block["elements"]]
            assert len(ids_here) == len(set(ids_here))
    for element in action_elements(message):
        assert 0 < len(element["action_id"]) <= 255
        if element["type"] == "button":
            assert len(element["text"]["text"]) <= 75
            assert 0 < len(element["value"]) <= 2000
            assert element.get("style") in (None, "primary", "danger")
            if "confirm" in element:
                confirm = element["confirm"]
                assert len(confirm["title"]["text"]) <= 100
                assert len(confirm["text"]["text"]) <= 300
                assert len(confirm["confirm"]["text"]) <= 30
                assert len(confirm["deny"]["text"]) <= 30
        elif element["type"] == "static_select":
            assert 1 <= len(element["options"]) <= 100
            for option in element["options"]:
                assert len(option["text"]["text"]) <= 75
                assert 0 < len(option["value"]) <= 150
        elif element["type"] == "external_select":
            assert "options" not in element  # Slack asks numbot for them
            assert len(element["placeholder"]["text"]) <= 150
            assert element["min_query_length"] >= 0
    assert message_size(message) <= 40_000


def message_size(message: Message) -> int:
    """Characters of text a message carries: its fallback and every text in its blocks."""
    return len(message["text"]) + sum(len(t) for t in texts(message))


# Every builder that returns a message, with ordinary data; `sandbox` is the only knob.
BUILDERS: dict[str, Callable[[bool], Message]] = {
    "plain": lambda s: plain("hello", sandbox=s),
    "refusal": lambda s: refusal("not an approver", sandbox=s),
    "help": lambda s: build_help(None, sandbox=s),
    "help_topic": lambda s: build_help("release", sandbox=s),
    "usage_error": lambda s: build_usage_error("wrong number of arguments.", "assign", sandbox=s),
    "search_results": lambda s: build_search_results(
        QUERY, [available(i) for i in range(3)], sandbox=s
    ),
    "search_results_50": lambda s: build_search_results(
        QUERY, [available(i) for i in range(50)], sandbox=s
    ),
    "search_results_page_2": lambda s: build_search_results(
        SearchQuery(area_code="415", limit=50), [available(i) for i in range(50)], sandbox=s, page=1
    ),
    "search_empty": lambda s: build_search_results(QUERY, [], sandbox=s),
    "search_no_exact_match": lambda s: build_search_results(
        SearchQuery(area_code="415", ends_with="CALL"), [available(i) for i in range(3)], sandbox=s
    ),
    "hold": lambda s: build_hold(make_request(status="held", reason=""), sandbox=s),
    "card_pending": lambda s: build_approval_card(
        make_request(), balance=Decimal("100.00"), sandbox=s
    ),
    "card_release": lambda s: build_approval_card(
        make_request(kind="release", number_id="num_1", setup_cost=None), balance=None, sandbox=s
    ),
    "card_unfunded": lambda s: build_approval_card(
        make_request(status="unfunded", decided_by="U0BOB", detail="The Flowyte wallet is short."),
        balance=None,
        sandbox=s,
    ),
    "card_purchased": lambda s: build_approval_card(
        make_request(status="purchased", decided_by="U0BOB"), balance=None, sandbox=s
    ),
    "requested": lambda s: build_requested(make_request(), "C0APPROVALS", posted=True, sandbox=s),
    "requested_unposted": lambda s: build_requested(make_request(), None, posted=False, sandbox=s),
    "assigned": lambda s: build_assigned(owned(), agent(published=False), "agt_support", sandbox=s),
    "imported": lambda s: build_imported(owned(), agent(published=False), "agt_support", sandbox=s),
    "unassigned": lambda s: build_unassigned(owned(), sandbox=s),
    "published": lambda s: build_published("agt_support", "ver_2", sandbox=s),
    "number_list": lambda s: build_number_list(
        [owned(1, defaultAgentId="agt_support"), owned(2)], {"agt_support": agent()}, sandbox=s
    ),
    "number_list_page_2": lambda s: build_number_list(
        [owned(i, defaultAgentId="agt_support") for i in range(60)],
        {"agt_support": agent()},
        sandbox=s,
        page=1,
    ),
    "number_list_empty": lambda s: build_number_list([], {}, sandbox=s),
    "search_button": lambda s: as_message("Search numbers", [build_search_button()], sandbox=s),
    "wallet": lambda s: build_wallet(
        Wallet.model_validate(
            {
                "balanceUsd": "42.50",
                "autoReloadEnabled": True,
                "autoReloadThresholdUsd": "10",
                "autoReloadAmountUsd": "50",
            }
        ),
        sandbox=s,
    ),
    "idle": lambda s: build_idle(
        IdleList(
            [OwnedRow(f"+1415555{i:04d}", f"num_{i}", None, Decimal("1.15")) for i in range(20)],
            60,
            MonthlyBill(Decimal("69.00"), 60, 0),
            1,  # the middle page: Previous and Next
            frozenset(),
            True,
        ),
        sandbox=s,
    ),
    "spend": lambda s: build_spend(
        SpendReport(
            [
                SpendMonth(f"2026-{m:02d}", Decimal("34.50"), "", 1, 1, Decimal(1), Decimal(1), 0)
                for m in range(7, 13)
            ],
            [(f"U0PERSON{i}", Decimal("1")) for i in range(5)],
        ),
        sandbox=s,
    ),
    "purchased_dm": lambda s: build_purchased_dm(
        "+14155550100 is yours.",
        "req_0123456789ab",
        [agent(), agent("agt_2", published=False)],
        sandbox=s,
    ),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("sandbox", [True, False])
def test_messages_respect_slack_limits_and_the_sandbox_banner(name: str, sandbox: bool) -> None:
    message = BUILDERS[name](sandbox)
    check_limits(message)
    banner = {"type": "context", "elements": [{"type": "mrkdwn", "text": SANDBOX_NOTE}]}
    if sandbox:
        assert message["text"].endswith(" [SANDBOX]")
        assert message["blocks"][0] == banner
        assert banner not in message["blocks"][1:]
    else:
        assert "SANDBOX" not in all_text(message)


def test_every_action_id_in_a_builder_is_a_known_one() -> None:
    seen = {e["action_id"] for build in BUILDERS.values() for e in action_elements(build(False))}
    assert seen == set(ids.ACTION_IDS)  # and every listener has a button that reaches it


# --------------------------------------------------------------------------- search


def test_search_results_one_section_per_number_with_reserve() -> None:
    numbers = [available(i) for i in range(3)] + [available(9, reservable=False)]
    message = build_search_results(QUERY, numbers, sandbox=False)
    rows = [b for b in message["blocks"] if b.get("block_id", "").startswith("number:")]
    assert [r["block_id"] for r in rows] == [f"number:{n.e164}" for n in numbers]
    assert all(r["type"] == "section" for r in rows)
    reserve = buttons(message, ids.RESERVE)
    assert [b["value"] for b in reserve] == [n.e164 for n in numbers[:3]]
    assert "accessory" not in rows[3]  # not reservable: no button
    assert all(r["accessory"] is b for r, b in zip(rows, reserve, strict=False))


@pytest.mark.parametrize("sandbox", [True, False])
def test_fifty_numbers_never_exceed_fifty_blocks(sandbox: bool) -> None:
    numbers = [available(i) for i in range(50)]
    message = build_search_results(QUERY, numbers, sandbox=sandbox)
    check_limits(message)
    reserve = buttons(message, ids.RESERVE)
    assert 1 <= len(reserve) < 50
    assert [b["value"] for b in reserve] == [n.e164 for n in numbers[: len(reserve)]]
    assert f"Page 1 of 3: numbers 1–{len(reserve)} of 50" in all_text(message)
    assert [b["action_id"] for b in buttons(message) if b["action_id"] != ids.RESERVE] == [
        ids.SEARCH_NEXT
    ]  # the rest are a click away, not cut


def test_search_results_escape_what_flowyte_sends() -> None:
    number = available(1, formatted=HOSTILE, locality=HOSTILE, features=[HOSTILE])
    message = build_search_results(SearchQuery(locality=HOSTILE), [number], sandbox=False)
    assert "<!channel>" not in all_text(message)
    assert "&lt;!channel&gt;" in all_text(message)


def test_empty_search_results() -> None:
    message = build_search_results(QUERY, [], sandbox=False)
    assert not action_elements(message)
    assert "No numbers in area code 415 are available" in all_text(message)


def test_searching_line_names_the_query() -> None:
    line = build_searching(SearchQuery(area_code="415", limit=5), sandbox=True)
    assert line == "[SANDBOX] Searching Flowyte for numbers in area code 415…"
    assert not build_searching(QUERY, sandbox=False).startswith("[SANDBOX]")


def test_searching_line_escapes_the_query() -> None:
    line = build_searching(SearchQuery(locality="<https://evil.example|click>"), sandbox=False)
    assert "<" not in line


# --------------------------------------------------------------------------- hold


def test_hold_has_request_purchase_and_a_slack_date() -> None:
    request = make_request(status="held", reason="")
    message = build_hold(request, sandbox=False)
    [button] = buttons(message)
    assert button["action_id"] == ids.REQUEST_PURCHASE
    assert button["value"] == request.id
    assert button["style"] == "primary"
    assert f"<!date^{int(EXPIRES.timestamp())}^" in all_text(message)
    assert "2030-01-02 03:04 UTC" in all_text(message)  # the fallback
    assert "$1.00" in all_text(message) and "$1.15" in all_text(message)


def test_hold_without_an_expiry() -> None:
    message = build_hold(make_request(status="held", hold_expires_at=None), sandbox=False)
    assert "<!date^" not in all_text(message)
    check_limits(message)


# --------------------------------------------------------------------------- approval card


def card(request: Request, balance: Decimal | None = Decimal("100.00")) -> Message:
    message = build_approval_card(request, balance=balance, sandbox=False)
    check_limits(message)
    return message


def test_pending_purchase_card() -> None:
    request = make_request()
    message = card(request)
    [actions] = actions_blocks(message)
    approve, reject = actions["elements"]
    assert (approve["action_id"], approve["value"], approve["style"]) == (
        ids.APPROVE,
        request.id,
        "primary",
    )
    # Reject asks for a reason in a modal first: one tap decides nothing, so no danger style.
    assert (reject["action_id"], reject["value"], reject.get("style")) == (
        ids.REJECT,
        request.id,
        None,
    )
    assert "$2.15" in approve["confirm"]["text"]["text"]  # setup + first month
    assert request.e164 in approve["confirm"]["text"]["text"]
    assert "confirm" not in reject
    text = all_text(message)
    assert "<@U0ALICE>" in text
    assert request.reason in text
    assert "$100.00 → $97.85" in text
    assert ":warning:" not in text
    assert request.id in text


def test_reason_is_shown_literally_never_as_mrkdwn() -> None:
    message = card(make_request(reason=HOSTILE))
    assert not any("channel" in t or "evil" in t for t in mrkdwn_texts(message))
    [why] = [t for t in plain_texts(message) if "Why:" in t["text"]]
    assert why == {"type": "plain_text", "text": f"Why: {HOSTILE}", "emoji": False}


# A reason written to pass for the card's own lines, hidden behind direction and zero-width
# characters (issue 7): on the card it must stay one literal line in its own plain_text.
FORGING_REASON = (
    "Bay Area\n*Costs now:* $0.01\n\u202e:white_check_mark: Approved by <@U0BOB> and "
    "*purchased*\u202c\u200b\n~cheap~\n> quoted\u2028\u2066<!here>\u2069\ufeff\u00ad"
)
INVISIBLE = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
INVISIBLE |= set("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad")


@pytest.mark.parametrize("kind", ["purchase", "release"])
@pytest.mark.parametrize("status", ["pending", "purchased", "failed"])
def test_a_forging_reason_adds_no_line_block_or_markup_to_the_card(kind: str, status: str) -> None:
    honest = make_request(kind=kind, status=status, decided_by="U0BOB", detail="declined")
    forged = dataclasses.replace(honest, reason=FORGING_REASON)
    honest_card, forged_card = card(honest), card(forged)
    # Everything Slack formats is identical to the honest card's: same blocks, same lines.
    assert mrkdwn_texts(forged_card) == mrkdwn_texts(honest_card)
    assert [b["type"] for b in forged_card["blocks"]] == [b["type"] for b in honest_card["blocks"]]
    # The reason is one line of plain_text that Slack shows as written, emoji off.
    [why] = [t for t in plain_texts(forged_card) if t["text"].startswith("Why:")]
    assert why["emoji"] is False and "\n" not in why["text"]
    assert why["text"] == (
        "Why: Bay Area *Costs now:* $0.01 :white_check_mark: Approved by <@U0BOB> and "
        "*purchased* ~cheap~ > quoted <!here>"
    )
    import json

    assert not INVISIBLE & set(json.dumps(forged_card, ensure_ascii=False))


def test_a_lone_surrogate_in_a_stored_reason_still_renders_as_utf8() -> None:
    import json

    message = card(make_request(reason="broken \ud800 half"))
    json.dumps(message, ensure_ascii=False).encode("utf-8")  # Slack's body is UTF-8
    assert "Why: broken half" in all_text(message)


def test_failure_detail_from_flowyte_is_plain_text_on_one_line() -> None:
    detail = "declined\n:white_check_mark: Approved by <@U0EVE> and *purchased*"
    message = card(make_request(status="failed", detail=detail))
    assert not any("U0EVE" in t or "purchased" in t for t in mrkdwn_texts(message))
    status = message["blocks"][-1]["elements"]
    assert status[0] == {"type": "mrkdwn", "text": ":x: Failed:"}
    assert status[1] == {
        "type": "plain_text",
        "text": "declined :white_check_mark: Approved by <@U0EVE> and *purchased*",
        "emoji": False,
    }


def test_balance_after_is_exact_decimal_arithmetic() -> None:
    # 0.30 - (0.10 + 0.20) is 0 in Decimal, -5.55e-17 in float: no false shortfall.
    request = make_request(setup_cost=Decimal("0.10"), monthly_cost=Decimal("0.20"))
    text = all_text(card(request, Decimal("0.30")))
    assert "$0.30 → $0.00 after" in text
    assert "short by" not in text
    one_cent_short = make_request(setup_cost=Decimal("0.11"), monthly_cost=Decimal("0.20"))
    assert "short by $0.01" in all_text(card(one_cent_short, Decimal("0.30")))


def test_shortfall_warning_when_the_balance_after_is_negative() -> None:
    text = all_text(card(make_request(), Decimal("1.00")))
    assert "$1.00 → -$1.15 after" in text
    assert "short by $1.15" in text


def test_unknown_balance() -> None:
    text = all_text(card(make_request(), None))  # the wallet could not be read
    assert "Wallet:" not in text and ":warning:" not in text


def test_release_card_cannot_be_undone() -> None:
    request = make_request(kind="release", setup_cost=None, number_id="num_1")
    message = card(request, None)
    assert "cannot be undone" in message["blocks"][0]["text"]["text"]
    [approve] = buttons(message, ids.APPROVE)
    assert "cannot be undone" in approve["confirm"]["text"]["text"]
    assert [b["value"] for b in buttons(message)] == [request.id, request.id]


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("purchased", "purchased"),
        ("released", "released"),
        ("rejected", "Rejected by <@U0BOB>"),
        ("expired", "lapsed"),
        ("cancelled", "Cancelled"),
        ("failed", "Failed:"),
        ("approved", "Approved by <@U0BOB>"),
        ("purchasing", "buying now"),
    ],
)
@pytest.mark.parametrize("kind", ["purchase", "release"])
def test_decided_cards_have_no_buttons_and_say_the_status(
    status: str, says: str, kind: str
) -> None:
    request = make_request(
        kind=kind, status=status, decided_by="U0BOB", detail="card declined <!here>"
    )
    message = card(request)
    assert not actions_blocks(message)
    assert not action_elements(message)
    assert says in message["blocks"][-1]["elements"][0]["text"]
    assert not any("<!here>" in t for t in mrkdwn_texts(message))


def test_card_update_keeps_the_sandbox_banner() -> None:
    message = build_approval_card(make_request(status="rejected"), balance=None, sandbox=True)
    assert message["text"].endswith(" [SANDBOX]")
    assert SANDBOX_NOTE in all_text(message)


def test_long_fields_stay_within_section_limits() -> None:
    request = make_request(reason="&" * 300, detail="<" * 3000, status="pending")
    check_limits(card(request))
    check_limits(card(dataclasses.replace(request, status="failed")))


# --------------------------------------------------------------------------- replies


def test_refusals_quoting_flowyte_are_one_escaped_line_keeping_numbots_mentions() -> None:
    message = refusal(
        "Flowyte rejected the request: city: <!channel> & <https://evil|x>\n"
        "*Approved* by <@U0BOB> in <#C0APPROVALS>\u202e\u200b",
        sandbox=False,
    )
    [section_block] = message["blocks"]
    line = section_block["text"]["text"]
    assert line == (
        ":no_entry_sign: Flowyte rejected the request: city: &lt;!channel&gt; &amp; "
        "&lt;https://evil|x&gt; *Approved* by <@U0BOB> in <#C0APPROVALS>"
    )
    assert message["text"] == line  # the notification text too


def test_plain_replies_keep_slack_dates() -> None:
    stamp = slack_date(EXPIRES)
    assert stamp in plain(f"Expires {stamp}.", sandbox=False)["blocks"][0]["text"]["text"]


def test_purchased_dm_is_one_line_and_agent_names_are_shown_as_written() -> None:
    hostile = agent("agt_x", published=False, name=":tada: *Sales*\n\u202eline" + "N" * 80)
    message = build_purchased_dm("Yours.\n<!channel>", "req_1", [hostile], sandbox=False)
    assert message["blocks"][0]["text"]["text"] == "Yours. &lt;!channel&gt;"
    [option] = action_elements(message)[0]["options"]
    assert option["text"]["emoji"] is False and len(option["text"]["text"]) <= 75
    assert option["text"]["text"].startswith(":tada: *Sales* line")
    assert option["text"]["text"].endswith(" (unpublished)")  # never cut off


def test_requested_says_what_is_true_when_the_card_could_not_be_posted() -> None:
    text = all_text(build_requested(make_request(), None, posted=False, sandbox=False))
    assert "restart" not in text
    assert "retrying" in text and "keeps trying" in text and "numbot admin" in text
    release = make_request(kind="release", number_id="num_1")
    assert "Release of +14155550100" in all_text(
        build_requested(release, "C0APPROVALS", posted=True, sandbox=False)
    )


# --------------------------------------------------------------------------- routing


def test_purchased_dm_offers_every_agent_up_to_a_hundred() -> None:
    agents = [agent(f"agt_{i}", published=i % 2 == 0, name="N" * 200) for i in range(100)]
    message = build_purchased_dm("Yours.", "req_0123456789ab", agents, sandbox=False)
    check_limits(message)
    [actions] = actions_blocks(message)
    assert actions["block_id"] == "assign:req_0123456789ab"
    [select] = actions["elements"]
    assert select["type"] == "static_select"
    assert select["action_id"] == ids.ASSIGN_AGENT
    assert [o["value"] for o in select["options"]] == [a.id for a in agents]


def test_past_a_hundred_agents_the_menu_searches() -> None:
    agents = [agent(f"agt_{i}") for i in range(150)]
    message = build_purchased_dm("Yours.", "req_0123456789ab", agents, sandbox=False)
    check_limits(message)
    [actions] = actions_blocks(message)
    assert actions["block_id"] == "assign:req_0123456789ab"  # the same listener reads it
    [select] = actions["elements"]
    assert select["type"] == "external_select" and select["action_id"] == ids.ASSIGN_AGENT
    assert select["min_query_length"] == 0  # the first options load as it opens
    assert "150" in select["placeholder"]["text"]


def test_purchased_dm_marks_unpublished_agents() -> None:
    message = build_purchased_dm(
        "Yours.", "req_1", [agent("agt_a"), agent("agt_b", published=False)], sandbox=False
    )
    labels = [o["text"]["text"] for o in action_elements(message)[0]["options"]]
    assert "unpublished" not in labels[0] and "unpublished" in labels[1]


def test_purchased_dm_without_agents_says_how_to_route() -> None:
    message = build_purchased_dm("Yours.", "req_1", [], sandbox=False)
    assert not action_elements(message)
    assert "/numbers assign" in all_text(message)


def test_assigned_to_an_unpublished_agent_offers_publish() -> None:
    message = build_assigned(owned(), agent("agt_x", published=False), "agt_x", sandbox=False)
    check_limits(message)
    [button] = buttons(message)
    assert (button["action_id"], button["value"]) == (ids.PUBLISH, "agt_x")
    assert ":rotating_light:" in all_text(message)


def test_assigned_to_a_published_agent_has_no_warning() -> None:
    message = build_assigned(owned(), agent("agt_x"), "agt_x", sandbox=False)
    assert not action_elements(message)
    assert ":rotating_light:" not in all_text(message)


def test_assigned_to_an_unchecked_agent_says_so() -> None:
    message = build_assigned(owned(), None, "agt_x", sandbox=False)
    assert not action_elements(message)
    assert "could not check" in all_text(message)


def test_imported_with_an_unpublished_agent_offers_publish() -> None:
    message = build_imported(owned(), agent("agt_x", published=False), "agt_x", sandbox=False)
    assert [b["value"] for b in buttons(message, ids.PUBLISH)] == ["agt_x"]
    assert not action_elements(build_imported(owned(), None, None, sandbox=False))


def test_agent_names_are_escaped() -> None:
    hostile = agent("agt_x", published=False, name=HOSTILE)
    for message in (
        build_assigned(owned(), hostile, "agt_x", sandbox=False),
        build_number_list([owned(defaultAgentId="agt_x")], {"agt_x": hostile}, sandbox=False),
    ):
        assert "<!channel>" not in all_text(message)


def test_number_list_caps_rows() -> None:
    numbers = [owned(i, defaultAgentId="agt_support") for i in range(60)]
    message = build_number_list(numbers, {"agt_support": agent()}, sandbox=True)
    check_limits(message)
    assert "60 numbers owned" in message["text"]


def test_number_list_shows_every_row_it_claims() -> None:
    numbers = [owned(i, defaultAgentId="agt_support") for i in range(60)]
    message = build_number_list(numbers, {"agt_support": agent()}, sandbox=False)
    shown = re.search(r"numbers (\d+)–(\d+) of 60", all_text(message))
    assert shown is not None
    first, last = int(shown.group(1)), int(shown.group(2))
    assert all(f"`num_{i:04d}`" in all_text(message) for i in range(first - 1, last))


def test_number_list_flags_unpublished_and_unrouted() -> None:
    message = build_number_list(
        [owned(1, defaultAgentId="agt_x"), owned(2)],
        {"agt_x": agent("agt_x", published=False)},
        sandbox=False,
    )
    text = all_text(message)
    assert "never published" in text and "_not routed_" in text


def test_wallet_amounts() -> None:
    message = BUILDERS["wallet"](False)
    text = all_text(message)
    assert "$42.50" in text and "$50.00" in text and "$10.00" in text


# --------------------------------------------------------------------------- modal


def test_reason_modal() -> None:
    modal = build_reason_modal("req_0123456789ab", "+14155550100")
    assert modal["type"] == "modal"
    assert modal["callback_id"] == ids.PURCHASE_REASON_VIEW
    assert modal["callback_id"] in ids.VIEW_CALLBACK_IDS
    assert modal["private_metadata"] == "req_0123456789ab"
    for key in ("title", "submit", "close"):
        assert len(modal[key]["text"]) <= 24
    inputs = [b for b in modal["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == [ids.REASON_BLOCK]
    element = inputs[0]["element"]
    assert element["type"] == "plain_text_input"
    assert element["action_id"] == ids.REASON_INPUT
    assert element["max_length"] == MAX_REASON  # what the submission handler enforces
    assert len(modal["blocks"]) <= 100


# --------------------------------------------------------------------------- help


def test_help_lists_every_subcommand() -> None:
    text = all_text(build_help(None, sandbox=False))
    for name, sub in SUBCOMMANDS.items():
        assert f"`/numbers {escape_usage(sub.usage)}`" in text, name


@pytest.mark.parametrize("topic", sorted(SUBCOMMANDS))
def test_help_on_a_topic(topic: str) -> None:
    message = build_help(topic, sandbox=False)
    check_limits(message)
    assert escape_usage(SUBCOMMANDS[topic].usage) in all_text(message)
    assert SUBCOMMANDS[topic].help in all_text(message)


def test_usage_error_points_at_help() -> None:
    assert "`/numbers help assign`" in all_text(build_usage_error("x", "assign", sandbox=False))
    assert "`/numbers help`" in all_text(build_usage_error("x", None, sandbox=False))


# --------------------------------------------------------------------------- properties

# Markup the builders write themselves; anything else starting with `<` came from data.
OWN_MARKUP = re.compile(r"<!date\^\d+\^[^|>]*\|[^>]*>|<@U0(?:ALICE|BOB)>|<#C0APPROVALS>")


def assert_no_raw_markup(message: Message) -> None:
    """In what Slack formats; plain_text shows `<` as written, and must not format."""
    for text in mrkdwn_texts(message):
        rest = OWN_MARKUP.sub("", text)
        assert "<" not in rest and ">" not in rest, text
    assert all(t["emoji"] is False for t in plain_texts(message))


_hostile_text = st.lists(
    st.text(st.characters(codec="utf-8"), max_size=20)
    | st.sampled_from(["<!channel>", "<@U0EVE>", "<https://evil|x>", "&", "<", ">", "{by}"]),
    max_size=30,
).map(lambda parts: "".join(parts)[:300])


@settings(max_examples=60, deadline=None)
@given(
    reason=_hostile_text,
    detail=_hostile_text,
    kind=st.sampled_from(["purchase", "release"]),
    status=st.sampled_from((*OPEN_STATUSES, *IN_FLIGHT_STATUSES, *FINAL_STATUSES)),
    balance=st.none() | st.decimals(min_value=-(10**6), max_value=10**6, places=2),
    sandbox=st.booleans(),
)
def test_approval_card_for_any_request(
    reason: str, detail: str, kind: str, status: str, balance: Decimal | None, sandbox: bool
) -> None:
    request = make_request(
        kind=kind, status=status, reason=reason, detail=detail, decided_by="U0BOB"
    )
    message = build_approval_card(request, balance=balance, sandbox=sandbox)
    check_limits(message)
    assert_no_raw_markup(message)
    # Neither the requester's words nor Flowyte's change a single character Slack formats.
    tame = dataclasses.replace(request, reason="r", detail="d")
    tame_card = build_approval_card(tame, balance=balance, sandbox=sandbox)
    assert mrkdwn_texts(message) == mrkdwn_texts(tame_card)
    assert message["text"].endswith(" [SANDBOX]") is sandbox
    if status == "pending":
        [actions] = actions_blocks(message)
        assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
            (ids.APPROVE, request.id),
            (ids.REJECT, request.id),
        ]
    else:
        assert not action_elements(message)


@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(st.integers(0, 80), max_size=120),
    sandbox=st.booleans(),
    reservable=st.booleans(),
)
def test_search_results_for_any_list_of_numbers(
    picks: list[int], sandbox: bool, reservable: bool
) -> None:
    numbers = [available(i, reservable=reservable or i % 2 == 0) for i in picks]  # repeats too
    message = build_search_results(QUERY, numbers, sandbox=sandbox)
    check_limits(message)
    reserve = [b["value"] for b in buttons(message, ids.RESERVE)]
    offered = {n.e164 for n in numbers if n.reservable}
    assert set(reserve) <= offered and len(reserve) == len(set(reserve))
    rows = [b for b in message["blocks"] if b.get("block_id", "").startswith("number:")]
    unique = list(dict.fromkeys(n.e164 for n in numbers))
    assert [r["block_id"] for r in rows] == [f"number:{e}" for e in unique[: len(rows)]]
    if len(rows) < len(unique):  # some not shown: a Next button leads to them
        assert [b["action_id"] for b in buttons(message, ids.SEARCH_NEXT)] == [ids.SEARCH_NEXT]
        assert f"numbers 1–{len(rows)} of {len(unique)}" in all_text(message)


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(0, 130),
    published=st.booleans(),
    name=st.text(st.characters(codec="utf-8"), max_size=80),
)
def test_purchased_dm_for_any_agents(count: int, published: bool, name: str) -> None:
    agents = [agent(f"agt_{i}", published=published, name=name or None) for i in range(count)]
    message = build_purchased_dm("Yours.", "req_0123456789ab", agents, sandbox=False)
    check_limits(message)
    selects = [e for e in action_elements(message) if e["type"].endswith("_select")]
    if count > 100:
        [select] = selects
        assert select["type"] == "external_select" and select["action_id"] == ids.ASSIGN_AGENT
    elif count:
        [select] = selects
        assert select["type"] == "static_select" and select["action_id"] == ids.ASSIGN_AGENT
        assert [o["value"] for o in select["options"]] == [a.id for a in agents]
    else:
        assert not selects


# --------------------------------------------------------------------------- more structure


def test_every_builder_output_is_json_and_uses_only_known_ids() -> None:
    import json

    for name, build in BUILDERS.items():
        for sandbox in (True, False):
            message = json.loads(json.dumps(build(sandbox)))  # no Decimal or datetime leaks
            for element in action_elements(message):
                assert element["action_id"] in ids.ACTION_IDS, (name, element)


def test_hold_message_shape() -> None:
    request = make_request(status="held", reason="")
    message = build_hold(request, sandbox=True)
    check_limits(message)
    assert message["text"] == f"{request.e164} is held for you. [SANDBOX]"
    [actions] = actions_blocks(message)
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        (ids.REQUEST_PURCHASE, request.id)
    ]
    assert any(b.get("block_id") == f"hold:{request.id}" for b in message["blocks"])


def test_pending_card_without_costs_says_unknown_and_keeps_its_buttons() -> None:
    request = make_request(setup_cost=None, monthly_cost=None)
    message = card(request, Decimal("5.00"))
    assert "unknown" in all_text(message)
    assert "short by" not in all_text(message)
    assert [b["action_id"] for b in buttons(message)] == [ids.APPROVE, ids.REJECT]


def test_card_redrawn_without_a_balance_never_says_unknown_arrows() -> None:
    for status in ("pending", "purchased", "rejected"):
        text = all_text(card(make_request(status=status, decided_by="U0BOB"), None))
        assert "unknown → unknown" not in text


def test_slack_date_fallback_for_utc() -> None:
    assert slack_date(EXPIRES) == (
        f"<!date^{int(EXPIRES.timestamp())}^{{date_short_pretty}} at {{time}}|2030-01-02 03:04 UTC>"
    )


# --------------------------------------------------------------------------- found bugs


def test_number_list_keeps_every_row_whole_with_long_agent_names() -> None:
    numbers = [owned(i, defaultAgentId="agt_x") for i in range(45)]
    long_name = agent("agt_x", published=False, name="Support & Sales " * 8)  # 128 chars
    message = build_number_list(numbers, {"agt_x": long_name}, sandbox=False)
    check_limits(message)
    text = all_text(message)
    shown = re.search(r"numbers 1–(\d+) of 45", text)
    assert shown is not None
    assert text.count("$1.15/month") == int(shown.group(1))  # every row shown ends whole


def test_slack_date_fallback_is_utc_whatever_the_zone() -> None:
    from datetime import timedelta, timezone

    moment = EXPIRES.astimezone(timezone(timedelta(hours=2)))
    assert slack_date(moment).endswith("|2030-01-02 03:04 UTC>")


# --- someone's words inside numbot's sentences ----------------------------------------------


def test_words_made_inert_stay_inert_and_are_not_escaped_twice() -> None:
    from bot.kernel.text import inert
    from handlers.blocks.common import sentence

    typed = "<@U0EVE> <#C0ALL> <!date^1^{date}|x> a&b &lt;kept&gt;"
    line = sentence(f"Rejected by <@U0BOB>. Their reason: {inert(typed)}")
    assert line.startswith("Rejected by <@U0BOB>. Their reason: ")
    assert "<@U0EVE>" not in line and "<#C0ALL>" not in line and "<!date" not in line
    assert (
        "&lt;@U0EVE&gt; &lt;#C0ALL&gt; &lt;!date^1^{date}|x&gt; a&amp;b &amp;lt;kept&amp;gt;"
        in line
    )


def test_only_numbot_s_own_date_token_survives_in_a_sentence() -> None:
    from handlers.blocks.common import sentence

    own = slack_date(datetime(2030, 1, 1, tzinfo=UTC))
    assert own in sentence(f"lapses {own}")
    linked = "<!date^1700000000^Your session expired^https://evil.example/login|x>"
    assert "<!date" not in sentence(f"lapses {linked}")
    assert sentence("a < b & c > d") == "a &lt; b &amp; c &gt; d"


# --- vanity and last-four searches -------------------------------------------------------------


def test_a_vanity_search_shows_exact_matches_first_and_labels_the_rest() -> None:
    query = SearchQuery(area_code="415", ends_with="CALL", best_effort=True)
    near = AvailableNumber.model_validate({"e164": "+14155550612", "reservable": True})
    exact = AvailableNumber.model_validate({"e164": "+14155552255", "reservable": True})
    message = build_search_results(query, [near, exact], sandbox=False)
    rows = [b for b in message["blocks"] if b.get("block_id", "").startswith("number:")]
    assert [r["block_id"] for r in rows] == ["number:+14155552255", "number:+14155550612"]
    assert "nearby" not in rows[0]["text"]["text"]
    assert "_(nearby: does not end in CALL (2255))_" in rows[1]["text"]["text"]


def test_no_exact_vanity_match_offers_the_nearby_numbers_instead_of_showing_them() -> None:
    query = SearchQuery(area_code="415", ends_with="CALL")
    near = [available(i) for i in range(4)]
    message = build_search_results(query, near, sandbox=False)
    assert "match exactly" in message["text"] and "4 nearby" in message["text"]
    assert not buttons(message, ids.RESERVE)
    [show] = buttons(message, ids.SEARCH_NEARBY)
    from handlers.blocks.paging import read_search_value

    wider, page = read_search_value(show["value"])
    assert wider.best_effort is True and wider.ends_with == "CALL" and page == 0


@pytest.mark.parametrize(
    ("filters", "e164", "miss"),
    [
        ({"ends_with": "CALL"}, "+14155552255", None),
        ({"ends_with": "CALL"}, "+14155550612", "does not end in CALL (2255)"),
        ({"ends_with": "0612"}, "+14155550612", None),
        ({"ends_with": "0613"}, "+14155550612", "does not end in 0613"),
        ({"starts_with": "415"}, "+14155550612", None),  # the national number
        ({"starts_with": "1415"}, "+14155550612", None),  # or the whole one
        ({"starts_with": "212"}, "+14155550612", "does not start with 212"),
        ({"contains": "FLOW"}, "+18003569000", None),
        ({"contains": "FLOW"}, "+18003560000", "does not contain FLOW (3569)"),
        ({}, "+14155550612", None),
    ],
)
def test_a_number_is_checked_against_the_pattern_on_numbot_s_side(filters, e164, miss) -> None:
    assert SearchQuery(**filters).miss(e164) == miss


def test_a_pattern_is_searched_strictly_unless_the_person_asks_for_nearby() -> None:
    assert SearchQuery(ends_with="CALL").api_params()["bestEffort"] == "false"
    assert SearchQuery(ends_with="CALL", best_effort=True).api_params()["bestEffort"] == "true"
    assert "bestEffort" not in SearchQuery(area_code="415").api_params()


def test_the_wallet_line_stays_on_every_redraw_with_when_it_was_read() -> None:
    seen = datetime(2030, 1, 2, 12, 4, tzinfo=UTC)
    request = make_request(wallet_usd=Decimal("25.00"), wallet_seen_at=seen)
    redrawn = build_approval_card(request, balance=None, sandbox=False)
    text = json.dumps(ensure_ascii=False, obj=redrawn)
    assert "*Wallet:* $25.00 (as of <!date^" in text and "→ $22.85 after" in text
    counted = dataclasses.replace(request, approved_by="U0BOB", approvals_needed=2)
    assert "*Wallet:* $25.00" in json.dumps(
        ensure_ascii=False, obj=build_approval_card(counted, balance=None, sandbox=False)
    )
    done = dataclasses.replace(request, status="purchased", decided_by="U0BOB")
    assert "Wallet" not in json.dumps(
        ensure_ascii=False, obj=build_approval_card(done, balance=None, sandbox=False)
    )


def test_costs_now_is_setup_plus_the_first_month_everywhere() -> None:
    held = make_request(status="held", reason="")
    assert "costs $2.15 now (setup $1.00 + first month), then $1.15/month" in json.dumps(
        ensure_ascii=False, obj=build_hold(held, sandbox=False)
    )
    assert "*Costs now:* $2.15" in json.dumps(
        ensure_ascii=False, obj=build_approval_card(make_request(), balance=None, sandbox=False)
    )


def test_a_routed_number_says_where_it_rings_and_asks_before_it_is_routed_elsewhere() -> None:
    from handlers.blocks.routing import build_routed

    agents = [agent(), agent(published=False)]
    routed = build_routed(
        owned(), agents[0], agents[0].id, "req_0123456789ab", agents, sandbox=False
    )
    assert "is routed to" in routed["text"]
    [menu] = [
        e
        for b in routed["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == ids.ASSIGN_AGENT
    ]
    assert menu["placeholder"]["text"] == "Change…" and "confirm" in menu
    assert "go to the agent you picked" in menu["confirm"]["text"]["text"]
    unpublished = build_routed(
        owned(), agents[1], agents[1].id, "req_0123456789ab", agents, sandbox=False
    )
    [publish] = buttons(unpublished, ids.PUBLISH)
    assert publish["confirm"]["confirm"]["text"] == "Publish"


def test_buttons_repeated_down_a_list_say_which_row_they_act_on() -> None:
    message = build_search_results(QUERY, [available(i) for i in range(3)], sandbox=False)
    spoken = [b["accessibility_label"] for b in buttons(message, ids.RESERVE)]
    assert len(set(spoken)) == 3 and all(
        s.startswith("Reserve ") and s.endswith(" now") for s in spoken
    )
    assert all(len(s) <= 75 for s in spoken)
    card = build_approval_card(make_request(), balance=None, sandbox=False)
    [approve] = buttons(card, ids.APPROVE)
    assert approve["accessibility_label"] == "Approve buying +14155550100 for $2.15"
    [reject] = buttons(card, ids.REJECT)
    assert reject["accessibility_label"] == "Reject buying +14155550100 for $2.15"


def test_try_again_and_reject_on_a_short_wallet_say_which_number() -> None:
    card = build_approval_card(
        make_request(status="unfunded", decided_by="U0BOB", detail="short"),
        balance=None,
        sandbox=False,
    )
    [retry] = buttons(card, ids.RETRY_PURCHASE)
    [reject] = buttons(card, ids.REJECT)
    assert retry["accessibility_label"] == "Try buying +14155550100 for $2.15 again"
    assert reject["accessibility_label"] == "Reject buying +14155550100 for $2.15"


def test_a_section_is_never_cut_inside_markup() -> None:
    from handlers.blocks.common import MAX_TEXT, cut, section

    date = slack_date(datetime(2030, 1, 1, tzinfo=UTC))
    long = ("<@U0BOB> " * 400) + date  # a reminder to many approvers, ending in a date
    for text in (long, "x" * (MAX_TEXT - 10) + date, "y" * (MAX_TEXT - 3) + "&amp;" + "z" * 50):
        shown = section(text)["text"]["text"]
        assert len(shown) <= MAX_TEXT and shown.endswith("…")
        assert shown.count("<") == shown.count(">")  # no token left open
        assert not shown.rstrip("…").endswith(("&", "&a", "&am", "&amp"))
    assert cut("short") == "short"


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"area_code": "415", "features": ("voice",)}, "numbers in area code 415 with voice"),
        (
            {"number_type": "toll_free", "ends_with": "CALL"},
            "toll-free numbers ending in CALL (2255)",
        ),
        (
            {"locality": "San Francisco", "administrative_area": "CA"},
            "numbers in San Francisco, CA",
        ),
        (
            {"starts_with": "415", "contains": "77", "best_effort": True},
            "numbers starting with 415 containing 77 or nearby",
        ),
        ({}, "numbers"),
    ],
)
def test_a_search_is_described_in_words(filters, words) -> None:
    from handlers.blocks.search import _describe

    assert _describe(SearchQuery(**filters)) == words


def test_a_number_reads_as_e164_everywhere_the_form_commands_take() -> None:
    """One format of one number: Flowyte's `formatted` "(415) 555-0003" is not shown; the
    +E.164 is, as on cards, lists and DMs, and as `/numbers release` takes it."""
    message = build_search_results(QUERY, [available(3)], sandbox=False)
    assert "*+14155550003*" in all_text(message) and "(415) 555-0003" not in all_text(message)
    [reserve] = buttons(message, ids.RESERVE)
    assert reserve["accessibility_label"] == "Reserve +14155550003, $2.15 now"

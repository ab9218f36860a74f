"""`/numbers holds` and the reply to Reserve on a number you already hold: structure,
Slack's limits, and what each line offers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.kernel.outcomes import Holds
from handlers import ids
from handlers.blocks.common import SANDBOX_NOTE
from handlers.blocks.holds import MAX_SHOWN, build_already_held, build_holds
from tests.handlers.test_blocks import (
    EXPIRES,
    all_text,
    buttons,
    check_limits,
    make_request,
    mrkdwn_texts,
)

APPROVERS = ("U0BOB", "U0CAROL")
OWN_MARKUP = re.compile(r"<(?:@U[A-Z0-9]+|#C[A-Z0-9]+|!date\^[0-9]+\^[^<>|]*\|[^<>]*)>")


def held(i: int = 0, **changes):
    return make_request(id=f"req_{i:012x}", e164=f"+1415555{i:04d}", status="held", **changes)


def pending(i: int = 0, **changes):
    values = {"card_channel": "C0APPROVALS", "card_ts": "1.0001", **changes}
    return make_request(id=f"req_{i:012x}", e164=f"+1415555{i:04d}", status="pending", **values)


BUILDERS = {
    "holds_empty": lambda s: build_holds(Holds([], APPROVERS), sandbox=s),
    "holds": lambda s: build_holds(Holds([held(1), pending(2)], APPROVERS), sandbox=s),
    "holds_many": lambda s: build_holds(
        Holds([held(i) for i in range(60)], tuple(f"U0A{i:03d}" for i in range(30))), sandbox=s
    ),
    "already_held": lambda s: build_already_held(held(1), sandbox=s),
    "already_pending": lambda s: build_already_held(pending(1), sandbox=s),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("sandbox", [True, False])
def test_within_slack_limits_with_a_meaningful_fallback(name, sandbox):
    message = BUILDERS[name](sandbox)
    check_limits(message)
    if sandbox:
        assert message["text"].endswith(" [SANDBOX]")
        assert message["blocks"][0]["elements"][0]["text"] == SANDBOX_NOTE
    else:
        assert "SANDBOX" not in all_text(message)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_no_markup_but_numbot_s_own_mentions_and_dates(name):
    for text in mrkdwn_texts(BUILDERS[name](False)):
        rest = OWN_MARKUP.sub("", text)
        assert "<" not in rest and ">" not in rest, text


# --------------------------------------------------------------------------- /numbers holds


def test_a_held_number_offers_request_purchase_and_cancel():
    request = held(1)
    message = build_holds(Holds([request], APPROVERS), sandbox=False)
    (purchase,) = buttons(message, ids.REQUEST_PURCHASE)
    (cancel,) = buttons(message, ids.REJECT)
    assert purchase["value"] == cancel["value"] == request.id
    assert purchase.get("style") == "primary" and "style" not in cancel
    assert "confirm" not in cancel  # Cancel opens the reject modal, which asks first
    text = all_text(message)
    assert request.e164 in text and f"<!date^{int(EXPIRES.timestamp())}^" in text
    assert "$2.15" in text and "$1.15/month" in text


def test_each_row_s_buttons_name_its_number_to_a_screen_reader():
    message = build_holds(Holds([held(1), held(2), pending(3)], APPROVERS), sandbox=False)
    purchases = [b["accessibility_label"] for b in buttons(message, ids.REQUEST_PURCHASE)]
    cancels = [b["accessibility_label"] for b in buttons(message, ids.REJECT)]
    assert purchases == [
        "Request purchase of +14155550001, $2.15 now",
        "Request purchase of +14155550002, $2.15 now",
    ]
    assert cancels == [
        "Cancel the hold on +14155550001",
        "Cancel the hold on +14155550002",
        "Cancel your request for +14155550003",
    ]
    [again] = buttons(build_already_held(held(4), sandbox=False), ids.REQUEST_PURCHASE)
    assert again["accessibility_label"] == "Request purchase of +14155550004, $2.15 now"


def test_a_waiting_request_says_where_its_card_is_and_who_may_approve():
    message = build_holds(Holds([pending(2)], APPROVERS), sandbox=False)
    text = all_text(message)
    assert "<#C0APPROVALS>" in text and "<@U0BOB> or <@U0CAROL>" in text
    assert "<!date^" in text  # when the hold lapses
    assert buttons(message, ids.REQUEST_PURCHASE) == []
    (cancel,) = buttons(message, ids.REJECT)
    assert cancel["value"] == pending(2).id


def test_a_waiting_release_has_no_hold_to_lapse():
    release = pending(3, kind="release", setup_cost=None, hold_expires_at=None)
    text = all_text(build_holds(Holds([release], APPROVERS), sandbox=False))
    assert "release" in text and "<!date^" not in text and "lapses" not in text


def test_held_numbers_come_before_waiting_requests():
    message = build_holds(Holds([pending(2), held(1)], APPROVERS), sandbox=False)
    rows = [b["block_id"] for b in message["blocks"] if b.get("block_id", "").startswith("holds:")]
    assert rows == [f"holds:{held(1).id}", f"holds:{pending(2).id}"]


def test_nothing_open_says_how_to_start():
    message = build_holds(Holds([], APPROVERS), sandbox=False)
    assert "/numbers search" in all_text(message) and buttons(message) == []


def test_more_than_fit_are_counted_not_silently_cut():
    message = build_holds(Holds([held(i) for i in range(MAX_SHOWN + 7)], APPROVERS), sandbox=False)
    assert len(buttons(message, ids.REQUEST_PURCHASE)) == MAX_SHOWN
    assert "7 more not shown" in all_text(message)


def test_many_approvers_are_counted_past_ten():
    approvers = tuple(f"U0A{i:03d}" for i in range(13))
    text = all_text(build_holds(Holds([pending(1)], approvers), sandbox=False))
    assert text.count("<@U0A") == 10 and "or 3 other approvers" in text


# --------------------------------------------------------------------------- reserve, again


def test_reserving_your_own_held_number_offers_request_purchase():
    request = held(1)
    message = build_already_held(request, sandbox=False)
    (purchase,) = buttons(message)
    assert purchase["action_id"] == ids.REQUEST_PURCHASE and purchase["value"] == request.id
    assert "already hold" in message["text"] and "already hold" in all_text(message)


def test_reserving_your_own_pending_number_points_to_the_card():
    message = build_already_held(pending(1), sandbox=False)
    assert buttons(message) == []
    assert "<#C0APPROVALS>" in all_text(message) and "/numbers holds" in all_text(message)


def test_dates_in_holds_are_slack_dates_not_server_time():
    soon = datetime(2030, 1, 2, 3, 4, tzinfo=UTC) + timedelta(minutes=1)
    text = all_text(build_holds(Holds([held(1, hold_expires_at=soon)], APPROVERS), sandbox=False))
    assert f"<!date^{int(soon.timestamp())}^" in text and "2030-01-02 03:05 UTC" in text

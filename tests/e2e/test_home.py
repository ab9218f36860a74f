"""App Home through the real bot process: opened over HTTP and Socket Mode, acted on, redrawn."""

from __future__ import annotations

from typing import Any

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    CAROL,
    MALLORY,
    BotProcess,
    find_element,
    reply,
    texts,
)
from tests.e2e.test_golden_path import hold_number, request_purchase
from tests.e2e.test_socket_mode import APP_TOKEN
from tests.fakes.slack_requests import (
    app_home_opened_event,
    event_callback_payload,
    socket_envelope,
)


def home_of(slack, user: str, *, contains: str = "", lacks: str | None = None, timeout=10.0):
    """The first Home numbot published for `user` that shows `contains` (and not `lacks`)."""

    def match(call) -> bool:
        if call.method != "views.publish" or call.body.get("user_id") != user or not call.ok:
            return False
        shown = texts(call.body["view"])
        return contains in shown and (lacks is None or lacks not in shown)

    return slack.wait_for(match, timeout=timeout)[0].body["view"]


def buttons(view: dict[str, Any], action_id: str) -> list[str]:
    return [
        e["value"]
        for b in view["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == action_id
    ]


def dm_to(slack, user: str, contains: str) -> dict[str, Any]:
    def match(call) -> bool:
        return (
            call.method == "chat.postMessage"
            and call.body.get("channel") == user
            and contains in texts(call.body)
        )

    return slack.wait_for(match, timeout=10)[-1].body


def test_opening_home_over_http_publishes_it(bot: BotProcess, slack, flowyte):
    e164, request_id = hold_number(bot, slack)
    assert slack.homes() == []  # nobody opened Home yet: a hold draws none
    assert bot.open_home(ALICE).status_code == 200
    view = home_of(slack, ALICE, contains=e164)
    shown = texts(view)
    for section in ("Your holds", "Waiting for you", "Your requests", "Numbers owned"):
        assert section in shown
    assert "*Wallet:* $25.00" in shown and "(UTC):* $0.00 on 0 numbers" in shown
    assert buttons(view, ids.REQUEST_PURCHASE) == [request_id]
    assert buttons(view, ids.REJECT) == [request_id]  # Cancel, the holder's reject
    assert buttons(view, ids.OPEN_SEARCH) == ["open"]

    # Someone who is not an approver sees no approvals; the Messages tab draws nothing.
    assert bot.open_home(MALLORY, tab="messages").status_code == 200
    assert bot.open_home(MALLORY).status_code == 200
    mallory = home_of(slack, MALLORY, contains="Your holds")
    assert "Waiting for you" not in texts(mallory) and buttons(mallory, ids.APPROVE) == []
    assert len(slack.homes(MALLORY)) == 1

    # Cancel on Home gives the hold back, says so by DM, and the hold leaves Home.
    assert bot.click_on_home(ids.REJECT, request_id, user=ALICE).status_code == 200
    slack.wait_for(  # the reject modal asks first ("Cancel request")
        lambda c: c.method == "views.open" and c.body["view"]["callback_id"] == ids.REJECT_VIEW
    )
    bot.submit_view(ids.REJECT_VIEW, {}, user=ALICE, private_metadata=request_id)
    assert "cancelled" in texts(dm_to(slack, ALICE, "cancelled"))
    home_of(slack, ALICE, contains="None. Search for a number")
    assert len(flowyte.calls("DELETE", path_regex=r"/numbers/reserve/rsv_")) == 1


def test_opening_home_over_socket_mode_publishes_it(slack, flowyte, tmp_path):
    bot = BotProcess(slack, flowyte.url, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    bot.env.pop("SLACK_SIGNING_SECRET")  # Socket Mode needs no signing secret
    slack.app_token = APP_TOKEN
    bot.start(ready="socket")
    try:
        payload = event_callback_payload(app_home_opened_event(BOB))
        envelope_id = slack.socket_send(socket_envelope("events_api", payload))
        slack.wait_for_socket_ack(envelope_id, timeout=10)
        view = home_of(slack, BOB, contains="Waiting for you")
        assert "Nothing waits for your approval." in texts(view)
        assert "*Wallet:* $25.00" in texts(view)
    finally:
        bot.stop()


def test_approve_on_home_buys_once_and_redraws_both_homes(bot: BotProcess, slack, flowyte):
    bot.open_home(ALICE)
    bot.open_home(BOB)
    home_of(slack, BOB, contains="Nothing waits")
    e164, request_id = hold_number(bot, slack)
    home_of(slack, ALICE, contains=e164)  # her new hold, without opening Home again
    card = request_purchase(bot, slack, request_id)

    waiting = home_of(slack, BOB, contains=f"asks to buy {e164}")
    assert buttons(waiting, ids.APPROVE) == [request_id] == buttons(waiting, ids.REJECT)
    on_card = find_element(card.body, ids.APPROVE)
    on_home = find_element(waiting, ids.APPROVE)
    assert on_home["confirm"] == on_card["confirm"]  # the same question, the same amount
    assert "Bay Area support line" in texts(waiting)
    assert CAROL not in {c.body["user_id"] for c in slack.homes()}  # never opened Home

    assert bot.click_on_home(ids.APPROVE, request_id, user=BOB).status_code == 200
    assert bot.click_on_home(ids.APPROVE, request_id, user=BOB).status_code == 200  # twice
    assert f"Bought {e164}" in texts(dm_to(slack, BOB, "Bought"))
    slack.wait_for(lambda c: c.method == "chat.update" and "purchased" in texts(c.body))
    assert len(flowyte.calls("POST", "/numbers/purchase")) == 1

    bob = home_of(slack, BOB, contains="$2.15 on 1 number", lacks=f"asks to buy {e164}")
    assert buttons(bob, ids.APPROVE) == [] and "*Wallet:* $22.85" in texts(bob)
    alice = home_of(slack, ALICE, contains="bought (approved by")
    assert f"<@{BOB}>" in texts(alice) and buttons(alice, ids.REQUEST_PURCHASE) == []
    assert len(flowyte.calls("POST", "/numbers/purchase")) == 1


def test_the_requester_s_home_follows_a_decision_on_the_card(bot: BotProcess, slack, flowyte):
    bot.open_home(ALICE)
    home_of(slack, ALICE, contains="Your requests")
    e164, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    home_of(slack, ALICE, contains="waiting for an approver")
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Bought" in texts(reply(slack, rid))
    alice = home_of(slack, ALICE, contains="bought (approved by")
    assert e164 in texts(alice) and "waiting for an approver" not in texts(alice)
    assert "$2.15 on 1 number" in texts(alice)

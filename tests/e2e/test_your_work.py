"""Your work, found again, through the real bot process: `/numbers holds` and Reserve on a
number you already hold."""

import json

from handlers import ids
from tests.e2e.harness import ALICE, APPROVAL_CHANNEL, BOB, find_element, reply, texts
from tests.e2e.test_golden_path import hold_number, request_purchase, run_cli


def reserves(flowyte, e164):
    """Holds numbot asked Flowyte for (its scope probe at start sends no number)."""
    return len([c for c in flowyte.calls("POST", "/numbers/reserve") if c.json == {"e164": e164}])


def holds(bot, slack, user=ALICE):
    response, rid = bot.command("holds", user=user)
    assert response.status_code == 200
    return reply(slack, rid)


def test_holds_brings_back_request_purchase_and_reserving_again_says_you_hold_it(
    bot, slack, flowyte
):
    e164, request_id = hold_number(bot, slack)

    listed = holds(bot, slack)  # the ephemeral hold reply is gone (a reload, another device)
    assert e164 in texts(listed) and "<!date^" in texts(listed)
    assert find_element(listed, ids.REQUEST_PURCHASE)["value"] == request_id
    assert find_element(listed, ids.REJECT)["value"] == request_id  # Cancel
    assert e164 not in texts(holds(bot, slack, user=BOB))  # nobody else's

    bot.click(ids.REQUEST_PURCHASE, request_id, user=ALICE)  # from the list: the reason modal
    view = slack.wait_for(lambda c: c.method == "views.open")[-1].body["view"]
    assert view["callback_id"] == ids.PURCHASE_REASON_VIEW
    assert view["private_metadata"] == request_id

    _, rid = bot.click(ids.RESERVE, e164, user=ALICE)  # from the old search results
    again = reply(slack, rid)
    assert "You already hold" in texts(again) and "someone else" not in texts(again)
    assert find_element(again, ids.REQUEST_PURCHASE)["value"] == request_id
    assert reserves(flowyte, e164) == 1  # Flowyte was not asked again

    entries = [json.loads(line) for line in run_cli(bot, "audit", "export").stdout.splitlines()]
    refused = [e for e in entries if e["action"] == "reserve" and e["outcome"] == "refused"]
    assert [(e["actor"], e["subject"], json.loads(e["detail"])["code"]) for e in refused] == [
        (ALICE, request_id, "already_held")
    ]


def test_a_waiting_request_shows_its_card_and_approvers_and_can_be_cancelled(bot, slack, flowyte):
    e164, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)

    listed = holds(bot, slack)
    shown = texts(listed)
    assert e164 in shown and f"<#{APPROVAL_CHANNEL}>" in shown and "waiting for approval" in shown
    assert f"<@{BOB}>" in shown and f"<@{ALICE}>" not in shown  # never her own approver
    cancel = find_element(listed, ids.REJECT)
    assert cancel["value"] == request_id

    _, rid = bot.click(ids.RESERVE, e164, user=ALICE)
    again = reply(slack, rid)
    assert "waiting for approval" in texts(again) and f"<#{APPROVAL_CHANNEL}>" in texts(again)
    assert reserves(flowyte, e164) == 1

    bot.click(ids.REJECT, request_id, user=ALICE)  # Cancel, from the list: asks first
    slack.wait_for(
        lambda c: c.method == "views.open" and c.body["view"]["callback_id"] == ids.REJECT_VIEW
    )
    bot.submit_view(ids.REJECT_VIEW, {}, user=ALICE, private_metadata=request_id)
    slack.wait_for(lambda c: c.method == "chat.update" and "Cancelled" in texts(c.body))
    assert len(flowyte.calls("DELETE", path_regex=r"/numbers/reserve/rsv_")) == 1  # hold freed

    empty = holds(bot, slack)
    assert "no numbers" in texts(empty) and "/numbers search" in texts(empty)

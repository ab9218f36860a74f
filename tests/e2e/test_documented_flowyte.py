"""numbot against Flowyte as its docs describe it, where the docs are silent answering the
unkind way they allow (docs/flowyte-assumptions.md), through the real process.

The fake Flowyte's defaults are the documented shapes: problems with their code only in
`type`, the documented envelope, no per-result bestEffort flag, replays that wait for the
first call. Here purchases also outlast numbot's own deadline.
"""

from __future__ import annotations

import json

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    BotProcess,
    both_engines,
    reply,
    texts,
    wait_until,
)
from tests.e2e.test_golden_path import hold_number, request_purchase
from tests.e2e.test_money_guards import QUICK_RECOVERY


@both_engines
def test_a_purchase_that_outlasts_numbot_is_confirmed_and_never_called_not_bought(
    slack, flowyte, tmp_path
):
    """The purchase runs 6 s at Flowyte; numbot gives up on its call after 1 s. Its replays
    wait for the first call (and time out too), the number is absent from the owned list and
    `available/{e164}` still answers 200 meanwhile: none of that is proof. numbot tells
    people it is still confirming, and settles it when a replay returns the result."""
    bot = BotProcess(slack, flowyte.url, tmp_path, **QUICK_RECOVERY).start()
    try:
        bot.wait_for_scope_check()
        e164, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        flowyte.sandbox.configure(processing_delay=6)
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        answer = texts(reply(slack, rid, timeout=20))
        assert "still confirming with Flowyte" in answer and "nothing is charged twice" in answer
        slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == ALICE
                and "is yours" in texts(c.body)
            ),
            timeout=40,
        )
        assert bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "purchased"
        assert str(flowyte.sandbox.balance) == "22.85"  # charged once
        assert [n.e164 for n in flowyte.sandbox.numbers.values()] == [e164]
        keys = {c.idempotency_key for c in flowyte.calls("POST", "/numbers/purchase")}
        assert len(keys) == 1 and len(flowyte.calls("POST", "/numbers/purchase")) >= 2
        said = json.dumps([c.body for c in slack.calls()])
        assert "nothing was charged" not in said and "did not happen" not in said
        evidence = bot.sql(
            "SELECT detail FROM audit WHERE subject = ? AND state = 'purchased'", [request_id]
        )
        assert json.loads(evidence[0][0])["evidence"] in ("replay", "owned_list")
    finally:
        bot.stop()


def test_a_replay_refused_while_the_purchase_runs_is_no_answer(slack, flowyte, tmp_path):
    """A Flowyte that answers a replay of a running purchase with a 409 whose code its docs
    do not give: numbot keeps confirming until the replay returns the result."""
    bot = BotProcess(slack, flowyte.url, tmp_path, **QUICK_RECOVERY).start()
    try:
        bot.wait_for_scope_check()
        _, request_id = hold_number(bot, slack)
        request_purchase(bot, slack, request_id)
        flowyte.sandbox.configure(processing_delay=4, replays="conflict")
        bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        wait_until(
            lambda: (
                bot.value("SELECT status FROM requests WHERE id = ?", [request_id]) == "purchased"
            ),
            timeout=40,
        )
        assert str(flowyte.sandbox.balance) == "22.85"
        said = json.dumps([c.body for c in slack.calls()])
        assert "nothing was charged" not in said
    finally:
        bot.stop()


def test_a_vanity_search_shows_no_nearby_number_as_a_match(bot, slack, flowyte):
    """`/numbers search 415 endsWith=CALL`: numbot asks Flowyte strictly (bestEffort=false),
    and checks what comes back itself. A Flowyte that widens anyway, with no mark on the
    results, gets its numbers labelled as nearby, never offered as matches."""
    _, rid = bot.command("search 415 endsWith=CALL", user=ALICE)
    strict = flowyte.calls("GET", "/numbers/search")[-1]
    assert strict.query.get("endsWith") == "2255" and strict.query.get("bestEffort") == "false"
    answer = reply(slack, rid)
    assert "match exactly" in texts(answer)
    [show] = [
        e
        for b in answer["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == ids.SEARCH_NEARBY
    ]
    _, rid = bot.click(ids.SEARCH_NEARBY, show["value"], user=ALICE)
    nearby = reply(slack, rid)
    assert flowyte.calls("GET", "/numbers/search")[-1].query.get("bestEffort") == "true"
    rows = [b for b in nearby["blocks"] if b.get("block_id", "").startswith("number:")]
    assert rows and all("nearby: does not end in CALL (2255)" in r["text"]["text"] for r in rows)
    # A Flowyte that ignores bestEffort=false: what it sends is still checked.
    widened = [
        {"e164": f"+1415555061{i}", "setupCost": 1, "monthlyCost": 1.15, "reservable": True}
        for i in range(4)
    ]
    flowyte.add_fault(
        "GET", r"/numbers/search$", status=200, body={"success": True, "data": widened}
    )
    _, rid = bot.command("search 415 endsWith=CALL", user=ALICE)
    answer = reply(slack, rid)
    assert "match exactly" in texts(answer) and "4 nearby" in texts(answer)
    assert not [
        e
        for b in answer["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == ids.RESERVE
    ]

"""Faults from Flowyte and odd deliveries from Slack, through the real bot process.

Each case checks what the person was told, what Flowyte received, the request's final
state and the audit trail.
"""

import json
import sqlite3
import time

import pytest

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    CAROL,
    FLOWYTE_KEY,
    both_engines,
    find_element,
    reply,
    texts,
)
from tests.e2e.test_golden_path import hold_number, request_purchase
from tests.e2e.test_money_guards import QUICK_RECOVERY
from tests.fakes.slack_requests import block_action_body, signed_headers


def status_of(bot, request_id):
    return bot.value("SELECT status FROM requests WHERE id = ?", [request_id])


def audit_rows(bot, action):
    return bot.sql(
        "SELECT actor, outcome, detail FROM audit WHERE action = ? ORDER BY seq", [action]
    )


def pending_request(bot, slack):
    e164, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    return e164, request_id


def test_a_short_wallet_keeps_the_hold_and_an_approver_tries_again_after_a_top_up(
    bot, slack, flowyte
):
    """The guide: "A 402 means insufficient balance: top up, then retry." The hold and the
    approval are kept, the card says by how much and offers Try again; after the top-up, an
    approver's Try again buys it with a new Idempotency-Key."""
    _, request_id = pending_request(bot, slack)
    flowyte.set_balance("1.00")
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    answer = texts(reply(slack, rid))
    assert "short by $1.15" in answer and "dashboard" in answer and "Try again" in answer
    assert len(flowyte.calls("POST", "/numbers/purchase")) == 1
    assert status_of(bot, request_id) == "unfunded"
    [card] = slack.wait_for(
        lambda c: (
            c.method == "chat.update"
            and c.body["channel"] == APPROVAL_CHANNEL
            and "short by $1.15" in texts(c.body)
        )
    )
    assert find_element(card.body, ids.RETRY_PURCHASE)["value"] == request_id
    assert not flowyte.calls("DELETE", path_regex=r"/numbers/reserve/")  # the hold is kept
    assert str(flowyte.sandbox.balance) == "1.00"
    flowyte.set_balance("10.00")  # topped up in the dashboard
    _, rid = bot.click(ids.RETRY_PURCHASE, request_id, user=CAROL, channel=APPROVAL_CHANNEL)
    assert "Bought" in texts(reply(slack, rid))
    keys = [c.idempotency_key for c in flowyte.calls("POST", "/numbers/purchase")]
    assert len(keys) == 2 and len(set(keys)) == 2  # a definite "no", then a new attempt
    assert str(flowyte.sandbox.balance) == "7.85"
    assert [r[1] for r in audit_rows(bot, "purchase")] == ["failed", "ok"]
    assert [r[0] for r in audit_rows(bot, "purchase_started")] == ["numbot", CAROL]


def purchase_keys(flowyte):
    return [c.idempotency_key for c in flowyte.calls("POST", "/numbers/purchase")]


@both_engines
def test_purchase_answer_lost_but_flowyte_bought_is_settled_by_replay(bot, slack, flowyte):
    _e164, request_id = pending_request(bot, slack)
    flowyte.add_fault("POST", r"/numbers/purchase$", times=1, drop=True, after_delay_apply=True)
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Bought" in texts(reply(slack, rid, timeout=15))
    # Asked again the documented way: the same body and Idempotency-Key replay the first result.
    keys = purchase_keys(flowyte)
    assert len(keys) == 2 and len(set(keys)) == 1
    assert str(flowyte.sandbox.balance) == "22.85"  # charged once
    assert status_of(bot, request_id) == "purchased"
    assert [r[1] for r in audit_rows(bot, "purchase")] == ["unknown", "ok"]


@pytest.mark.parametrize("status", [408, 504])
def test_an_error_status_after_the_purchase_was_applied_is_unknown_not_failed(
    bot, slack, flowyte, status
):
    _e164, request_id = pending_request(bot, slack)
    flowyte.add_fault("POST", r"/numbers/purchase$", times=1, status=status, after_delay_apply=True)
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Bought" in texts(reply(slack, rid, timeout=15))
    assert status_of(bot, request_id) == "purchased"
    assert str(flowyte.sandbox.balance) == "22.85"


def test_a_purchase_that_never_landed_fails_only_on_proof_and_says_so(slack, flowyte, tmp_path):
    from tests.e2e.harness import BotProcess

    bot = BotProcess(slack, flowyte.url, tmp_path, **QUICK_RECOVERY).start()
    try:
        _, request_id = pending_request(bot, slack)
        flowyte.add_fault("POST", r"/numbers/purchase$", times=1, drop=True)  # never reached
        refusal = {"status": 409, "code": "reservation_expired", "title": "Reservation expired"}
        flowyte.add_fault("POST", r"/numbers/purchase$", status=409, body=refusal)  # every replay
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        # The click waits for the first look: it may already be the replay's refusal.
        answer = texts(reply(slack, rid, timeout=15))
        assert (
            "still confirming with Flowyte" in answer
            or "Flowyte refused the purchase when numbot asked again" in answer
        )
        slack.wait_for(lambda c: c.method == "chat.update" and "confirming" in texts(c.body))
        told = slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == ALICE
                and "nothing was charged" in texts(c.body)
            ),
            timeout=20,
        )
        assert told and "asked again with the same request" in texts(told[0].body)
        assert status_of(bot, request_id) == "expired"  # the replay said the hold is gone
        assert len(set(purchase_keys(flowyte))) == 1
        assert str(flowyte.sandbox.balance) == "25.00"
    finally:
        bot.stop()


def test_an_unreadable_owned_list_never_turns_a_charge_into_nothing_was_charged(
    slack, flowyte, tmp_path
):
    """The purchase went through, its answer was lost, the replay fails and the owned list
    answers a 200 numbot cannot read: numbot keeps checking instead of saying "failed"."""
    from tests.e2e.harness import BotProcess

    bot = BotProcess(slack, flowyte.url, tmp_path, **QUICK_RECOVERY).start()
    try:
        _, request_id = pending_request(bot, slack)
        flowyte.add_fault(
            "POST", r"/numbers/purchase$", times=1, status=504, after_delay_apply=True
        )
        flowyte.add_fault("POST", r"/numbers/purchase$", status=503)  # replays fail too
        maintenance = "<html><body>Down for maintenance</body></html>"
        flowyte.add_fault("GET", r"/numbers$", status=200, body=maintenance)
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "still confirming with Flowyte" in texts(reply(slack, rid, timeout=15))
        slack.wait_for(
            lambda c: c.method == "chat.update" and "confirming" in texts(c.body), timeout=10
        )
        time.sleep(6)  # several quiet windows and sweeps pass
        assert status_of(bot, request_id) == "checking"
        everything = json.dumps([c.body for c in slack.calls()])
        assert "nothing was charged" not in everything
        flowyte.clear_faults()  # Flowyte recovers: the next look settles it
        slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == ALICE
                and "is yours" in texts(c.body)
            ),
            timeout=30,
        )
        assert status_of(bot, request_id) == "purchased"
        assert str(flowyte.sandbox.balance) == "22.85"
    finally:
        bot.stop()


def test_flowyte_unreachable_on_purchase_returns_the_request_to_pending(slack, flowyte, tmp_path):
    from tests.e2e.harness import BotProcess

    bot = BotProcess(slack, flowyte.url, tmp_path).start()
    try:
        _, request_id = pending_request(bot, slack)
        bot.stop()
        dead = BotProcess(slack, "http://127.0.0.1:9", tmp_path).start()  # nothing listens there
        try:
            _, rid = dead.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
            answer = texts(reply(slack, rid, timeout=15))
            assert "could not re-check the price" in answer and "approve it again" in answer
            assert status_of(dead, request_id) == "pending"  # nothing happened; approve again later
        finally:
            dead.stop()
    finally:
        bot.stop()


def test_search_is_retried_through_429_and_503(bot, slack, flowyte):
    flowyte.add_fault("GET", r"/numbers/search$", times=1, status=429, headers={"Retry-After": "1"})
    flowyte.add_fault("GET", r"/numbers/search$", times=1, status=503)
    _, rid = bot.command("search 415", user=ALICE)
    assert "Reserve" in texts(reply(slack, rid, timeout=15))
    assert [c.status for c in flowyte.calls("GET", "/numbers/search")][-1] == 200
    assert len(flowyte.calls("GET", "/numbers/search")) == 3


def test_flowyte_errors_are_explained_in_words(bot, slack, flowyte):
    flowyte.add_fault("GET", r"/billing/wallet$", status=401)
    _, rid = bot.command("wallet", user=ALICE)
    assert "numbot admin" in texts(reply(slack, rid)) and "not your fault" in texts(
        reply(slack, rid)
    )
    flowyte.clear_faults()
    flowyte.add_fault("GET", r"/numbers/search$", status=500, body="<html>oops</html>")
    _, rid = bot.command("search 415", user=ALICE)
    assert "internal error" in texts(reply(slack, rid, timeout=15))
    assert [r[1] for r in audit_rows(bot, "search")] == ["failed"]


def test_a_taken_number_says_search_again(bot, slack, flowyte):
    _response, rid = bot.command("search 415", user=ALICE)
    e164 = next(b for b in reply(slack, rid)["blocks"] if b.get("accessory"))["accessory"]["value"]
    flowyte.sandbox.take_elsewhere(e164)
    _, rid = bot.click(ids.RESERVE, e164, user=ALICE)
    assert "gone" in texts(reply(slack, rid)) and "Search again" in texts(reply(slack, rid))


def test_slow_flowyte_does_not_delay_the_ack(bot, slack, flowyte):
    flowyte.add_fault("GET", r"/numbers/search$", times=1, delay_s=4)
    started = time.monotonic()
    response, rid = bot.command("search 415", user=ALICE)
    assert response.status_code == 200 and time.monotonic() - started < 1.0
    assert "Reserve" in texts(reply(slack, rid, timeout=15))


def test_hold_expired_before_approval_explains_and_buys_nothing(slack, flowyte, tmp_path):
    from tests.e2e.harness import BotProcess

    flowyte.advance(-1797)  # holds Flowyte grants now lapse 3 seconds from now
    bot = BotProcess(slack, flowyte.url, tmp_path).start()
    try:
        _, request_id = pending_request(bot, slack)
        time.sleep(3.5)
        _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
        assert "lapsed" in texts(reply(slack, rid))
        assert flowyte.calls("POST", "/numbers/purchase") == []
        assert status_of(bot, request_id) == "expired"
        slack.wait_for(lambda c: c.method == "chat.update" and "lapsed" in texts(c.body))
        slack.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.body.get("channel") == ALICE
                and "lapsed" in texts(c.body)
            )
        )
    finally:
        bot.stop()


def test_slack_retries_and_stale_buttons_change_nothing(bot, slack, flowyte):
    _, request_id = pending_request(bot, slack)
    body = block_action_body(
        ids.APPROVE,
        request_id,
        BOB,
        response_url=slack.response_url("retry"),
        channel_id=APPROVAL_CHANNEL,
    )
    first = bot.post(body)
    retry_headers = {
        **signed_headers(body, bot.env["SLACK_SIGNING_SECRET"]),
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    again = bot.post(body, headers=retry_headers)
    assert first.status_code == again.status_code == 200
    slack.wait_for(lambda c: c.response_id == "retry", count=2, timeout=10)
    assert len(flowyte.calls("POST", "/numbers/purchase")) == 1
    _, rid = bot.click(ids.APPROVE, "req_000000000000", user=BOB, channel=APPROVAL_CHANNEL)
    assert "does not exist" in texts(reply(slack, rid))
    _, rid = bot.click(
        ids.APPROVE, "'; DROP TABLE requests; --", user=BOB, channel=APPROVAL_CHANNEL
    )
    assert "does not exist" in texts(reply(slack, rid))
    assert status_of(bot, request_id) == "purchased"


def test_flowyte_echoing_the_key_leaks_it_nowhere(bot, slack, flowyte):
    echo = {
        "type": "about:blank",
        "title": "Bad",
        "status": 400,
        "code": "validation_error",
        "detail": f"Authorization: Bearer {FLOWYTE_KEY}",
        "errors": [{"field": "areaCode", "message": "bad"}],
    }
    flowyte.add_fault("GET", r"/numbers/search$", status=400, body=echo)
    _, rid = bot.command("search 415", user=ALICE)
    assert "areaCode" in texts(reply(slack, rid))
    time.sleep(0.3)
    with sqlite3.connect(bot.db) as db:
        audit = json.dumps(db.execute("SELECT * FROM audit").fetchall())
    assert FLOWYTE_KEY not in json.dumps([c.body for c in slack.calls()]) + bot.output() + audit

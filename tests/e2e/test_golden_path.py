"""The whole story through the real bot process: search, hold, request, four-eyes, buy, route."""

import json
import subprocess
import sys
import time

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    MALLORY,
    SECRETS,
    BotProcess,
    both_engines,
    calls_made,
    find_element,
    reply,
    texts,
)


def hold_number(bot: BotProcess, slack, user=ALICE, area="415") -> tuple[str, str]:
    """Search, reserve the first result; return (e164, request id)."""
    response, rid = bot.command(f"search {area}", user=user)
    assert response.status_code == 200
    assert "Searching" in response.text  # the ack itself says so, at once
    results = reply(slack, rid)
    e164 = find_element(results, ids.RESERVE)["value"]
    _, rid = bot.click(ids.RESERVE, e164, user=user)
    hold = reply(slack, rid)
    assert "held for you" in texts(hold)
    return e164, find_element(hold, ids.REQUEST_PURCHASE)["value"]


def request_purchase(
    bot: BotProcess, slack, request_id: str, user=ALICE, reason="Bay Area support line"
):
    """Click Request purchase, fill in the modal; return the approval card as posted, once
    numbot has recorded it and told the requester (their DM comes after the card's
    whereabouts are saved, so what a test reads next already knows them)."""

    def to_requester(c) -> bool:
        return c.method == "chat.postMessage" and c.body.get("channel") == user

    told_before = sum(to_requester(c) for c in slack.calls())
    bot.click(ids.REQUEST_PURCHASE, request_id, user=user)
    # This request's modal and card: an earlier request's may already be in the fake's log.
    view = slack.wait_for(
        lambda c: (
            c.method == "views.open"
            and c.body.get("view", {}).get("private_metadata") == request_id
        )
    )[-1].body["view"]
    assert view["callback_id"] == ids.PURCHASE_REASON_VIEW
    assert bot.submit_reason(request_id, reason, user=user).status_code == 200
    card = slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == APPROVAL_CHANNEL
            and request_id in json.dumps(c.body)
        )
    )[-1]
    slack.wait_for(to_requester, count=told_before + 1)
    return card


def run_cli(bot: BotProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--db", bot.database],
        capture_output=True,
        text=True,
        cwd=bot.workdir,
        env=bot.env,
        timeout=30,
    )


@both_engines
def test_search_hold_request_approve_buy_route_publish(bot, slack, flowyte):
    e164, request_id = hold_number(bot, slack)
    assert [c.json for c in calls_made(flowyte, "POST", "/numbers/reserve")] == [{"e164": e164}]

    card = request_purchase(bot, slack, request_id)
    card_text = texts(card.body)
    assert f"<@{ALICE}> asks to buy {e164}" in card_text
    assert "$2.15" in card_text and "$1.15/month" in card_text  # now, and per month
    assert "$25.00 → $22.85 after" in card_text  # the wallet, and the wallet after
    assert "Bay Area support line" in card_text and "<!date^" in card_text
    approve = find_element(card.body, ids.APPROVE)
    assert approve["value"] == request_id and "$2.15" in approve["confirm"]["text"]["text"]
    assert find_element(card.body, ids.REJECT)["value"] == request_id
    dm = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.body.get("channel") == ALICE
    )[-1]
    assert "requested" in texts(dm.body)
    assert flowyte.calls("POST", "/numbers/purchase") == []  # nothing bought yet

    # The requester cannot approve her own request, and a non-approver cannot approve at all.
    _, rid = bot.click(ids.APPROVE, request_id, user=ALICE, channel=APPROVAL_CHANNEL)
    assert "someone else must approve" in texts(reply(slack, rid))
    _, rid = bot.click(ids.APPROVE, request_id, user=MALLORY, channel=APPROVAL_CHANNEL)
    assert "Only configured approvers" in texts(reply(slack, rid))
    assert flowyte.calls("POST", "/numbers/purchase") == []

    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Bought" in texts(reply(slack, rid))
    purchases = flowyte.calls("POST", "/numbers/purchase")
    assert len(purchases) == 1
    assert purchases[0].json["e164"] == e164 and purchases[0].json["reservationId"].startswith(
        "rsv_"
    )
    assert purchases[0].idempotency_key == f"numbot-purchase-{request_id}"
    update = slack.wait_for(
        lambda c: (
            c.method == "chat.update"
            and c.body["channel"] == APPROVAL_CHANNEL
            and "purchased" in texts(c.body)
        )
    )[-1]
    assert update.body["ts"] == card.response["ts"] and f"<@{BOB}>" in texts(update.body)
    assert not any(
        e.get("action_id") == ids.APPROVE
        for b in update.body["blocks"]
        for e in b.get("elements", [])
    )
    assert (
        flowyte.state()["wallet"]["balanceUsd"] == "22.85"
        or str(flowyte.sandbox.balance) == "22.85"
    )

    # The requester hears, and gets a menu to route the number.
    news = slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == ALICE
            and "is yours" in texts(c.body)
        )
    )[-1]
    menu = find_element(news.body, ids.ASSIGN_AGENT)
    assert {o["value"] for o in menu["options"]} >= {"agt_support", "agt_draft"}
    _, rid = bot.click(
        ids.ASSIGN_AGENT, None, user=ALICE, selected="agt_draft", block_id=menu["block_id"]
    )
    routed = reply(slack, rid)
    assert "never been published" in texts(routed)
    number_id = flowyte.calls("POST", path_regex=r"/numbers/[^/]+/assign$")[0].path.split("/")[-2]
    assert flowyte.calls("POST", f"/numbers/{number_id}/assign")[0].json == {"agentId": "agt_draft"}

    _, rid = bot.click(ids.PUBLISH, find_element(routed, ids.PUBLISH)["value"], user=ALICE)
    assert "Published" in texts(reply(slack, rid))
    assert len(flowyte.calls("POST", "/agents/agt_draft/publish")) == 1

    _, rid = bot.command("list", user=ALICE)
    assert e164 in texts(reply(slack, rid))

    # The audit log tells the story, refusals included, and its chain is intact.
    exported = run_cli(bot, "audit", "export", "--format", "jsonl")
    entries = [json.loads(line) for line in exported.stdout.splitlines()]
    story = [(e["actor"], e["action"], e["outcome"]) for e in entries]
    for step in [
        (ALICE, "reserve", "ok"),
        (ALICE, "request_purchase", "ok"),
        (ALICE, "approve", "refused"),
        (MALLORY, "approve", "refused"),
        (BOB, "approve", "ok"),
        ("numbot", "purchase", "ok"),
        (ALICE, "assign", "ok"),
        (ALICE, "publish", "ok"),
    ]:
        assert step in story
    verified = run_cli(bot, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout

    # Secrets went nowhere they should not: not to Slack, not to the log, not to the audit.
    everything = json.dumps([c.body for c in slack.calls()]) + bot.output() + exported.stdout
    for secret in SECRETS:
        assert secret not in everything


def test_reject_releases_the_hold_and_tells_the_requester(bot, slack, flowyte):
    _, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    bot.click(ids.REJECT, request_id, user=BOB, channel=APPROVAL_CHANNEL)  # asks why first
    slack.wait_for(lambda c: c.method == "views.open" and "Reject" in texts(c.body["view"]))
    response = bot.submit_view(
        ids.REJECT_VIEW,
        {ids.REASON_BLOCK: {ids.REASON_INPUT: "wrong area code"}},
        user=BOB,
        private_metadata=request_id,
    )
    assert response.status_code == 200
    reservation_id = calls_made(flowyte, "POST", "/numbers/reserve")[0].json  # the hold...
    deadline = time.monotonic() + 10  # ...is given back, just after the modal closed (ack first)
    while not (released := flowyte.calls("DELETE", path_regex=r"/numbers/reserve/rsv_")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert reservation_id and len(released) == 1 and released[0].status in (200, 204)
    slack.wait_for(lambda c: c.method == "chat.update" and "Rejected" in texts(c.body))
    slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == ALICE
            and "rejected" in texts(c.body)
            and "wrong area code" in texts(c.body)
        )
    )
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Already rejected" in texts(reply(slack, rid))
    assert flowyte.calls("POST", "/numbers/purchase") == []


def test_bad_input_gets_usage_in_the_ack_and_reaches_nobody(bot, slack, flowyte):
    for text in [
        "search 12",
        "frobnicate",
        "assign +1415 agt_x",
        "search 415 type=landline",
        "<!channel> hi",
    ]:
        response, _ = bot.command(text, user=ALICE)
        assert response.status_code == 200
        body = response.json()
        assert "/numbers help" in texts(body)
        assert "<!channel>" not in json.dumps(body)
    assert calls_made(flowyte) == []


def test_forged_and_stale_requests_are_refused(bot, slack, flowyte):
    import time

    from tests.fakes.slack_requests import signed_headers, slash_command_body

    body = slash_command_body("wallet", ALICE, response_url=slack.response_url("forged"))
    assert bot.post(body, headers=signed_headers(body, "wrong-secret")).status_code == 401
    stale = signed_headers(
        body, "e2e-signing-secret-0123456789abcdef", timestamp=int(time.time()) - 600
    )
    assert bot.post(body, headers=stale).status_code == 401
    assert (
        bot.post(body, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code
        == 401
    )
    assert calls_made(flowyte) == []
    assert slack.calls("response_url") == []
    assert bot.value("SELECT count(*) FROM audit") == 0


def test_a_stale_request_purchase_button_is_replaced_once_used(bot, slack, flowyte):
    """The hold message keeps its Request purchase button after the request is filed; used
    again, it is replaced by where things stand, so it is not offered a third time."""
    _, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    _, rid = bot.click(ids.REQUEST_PURCHASE, request_id, user=ALICE)
    [replaced] = slack.wait_for(lambda c: c.method == "response_url" and c.response_id == rid)
    assert replaced.body["replace_original"] is True
    assert "already" in texts(replaced.body).lower() or "pending" in texts(replaced.body).lower()
    assert not [
        e
        for b in replaced.body.get("blocks", [])
        for e in b.get("elements", [])
        if e.get("action_id") == ids.REQUEST_PURCHASE
    ]

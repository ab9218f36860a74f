"""Past 100 agents, the "route to agent" menu searches: an external_select whose options
numbot serves as the person types (block_suggestion over HTTP and over Socket Mode)."""

import json

from bot.sandbox import Agent
from handlers import ids
from tests.e2e.harness import ALICE, APPROVAL_CHANNEL, BOB, BotProcess, find_element, reply, texts
from tests.e2e.test_golden_path import hold_number, request_purchase
from tests.e2e.test_socket_mode import APP_TOKEN
from tests.fakes.slack_requests import block_suggestion_payload, socket_envelope

EXTRA = 150  # the sandbox seeds 3 agents; with these there are 153


def add_agents(flowyte, count: int = EXTRA) -> None:
    sandbox = flowyte.sandbox
    with sandbox._lock:
        now = sandbox.now()
        for i in range(count):
            agent_id = f"agt_team_{i:03d}"
            sandbox.agents[agent_id] = Agent(
                agent_id, f"Team {i:03d} line", 1, now, now, seq=sandbox._next_seq()
            )


def buy(bot: BotProcess, slack) -> dict:
    """Hold, request and approve a number; return the requester's "is yours" DM."""
    _, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Bought" in texts(reply(slack, rid))
    return slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.body.get("channel") == ALICE
            and "is yours" in texts(c.body)
        )
    )[-1].body


def test_past_a_hundred_agents_the_menu_searches_and_routes(bot: BotProcess, slack, flowyte):
    add_agents(flowyte)
    menu = find_element(buy(bot, slack), ids.ASSIGN_AGENT)
    assert menu["type"] == "external_select" and "options" not in menu
    assert "153" in menu["placeholder"]["text"]

    # The menu opens: the first hundred, and a label saying how many there are.
    opened = bot.options(ids.ASSIGN_AGENT, "", user=ALICE, block_id=menu["block_id"])
    assert opened.status_code == 200
    [group] = opened.json()["option_groups"]
    assert group["label"]["text"] == "100 of 153 agents: type more to narrow"
    assert len(group["options"]) == 100

    # Typing narrows it, by name or by id.
    typed = bot.options(ids.ASSIGN_AGENT, "team 14", user=ALICE, block_id=menu["block_id"])
    assert [o["value"] for o in typed.json()["options"]] == [
        f"agt_team_{i}" for i in range(140, 150)
    ]
    by_id = bot.options(ids.ASSIGN_AGENT, "agt_team_149", user=ALICE, block_id=menu["block_id"])
    assert by_id.json() == {
        "options": [
            {
                "text": {
                    "type": "plain_text",
                    "text": "Team 149 line (unpublished)",
                    "emoji": False,
                },
                "value": "agt_team_149",
            }
        ]
    }
    assert bot.options(ids.ASSIGN_AGENT, "nobody", user=ALICE).json() == {"options": []}
    # Keystrokes in a burst read the agent list once (a read is two pages of 100).
    reads = [  # not the start-up scope probe (limit=1)
        c
        for c in flowyte.calls("GET", "/agents")
        if "cursor" not in c.query and c.query.get("limit") != "1"
    ]
    assert len(reads) == 1  # the "is yours" DM's list, which the menu then reuses

    # Picking one routes the number, exactly as from the static menu.
    _, rid = bot.click(
        ids.ASSIGN_AGENT, None, user=ALICE, selected="agt_team_149", block_id=menu["block_id"]
    )
    assert "Team 149 line" in texts(reply(slack, rid))
    [assigned] = flowyte.calls("POST", path_regex=r"/numbers/[^/]+/assign$")
    assert assigned.json == {"agentId": "agt_team_149"}


def test_up_to_a_hundred_agents_the_menu_holds_them_all(bot: BotProcess, slack, flowyte):
    add_agents(flowyte, 97)  # 100 in all
    menu = find_element(buy(bot, slack), ids.ASSIGN_AGENT)
    assert menu["type"] == "static_select" and len(menu["options"]) == 100


def test_menu_options_over_socket_mode(slack, flowyte, tmp_path):
    add_agents(flowyte)
    bot = BotProcess(slack, flowyte.url, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    bot.env.pop("SLACK_SIGNING_SECRET")
    slack.app_token = APP_TOKEN
    bot.start(ready="socket")
    try:
        payload = block_suggestion_payload(ids.ASSIGN_AGENT, "Team 00", ALICE, block_id="assign:x")
        envelope_id = slack.socket_send(socket_envelope("interactive", payload))
        ack = slack.wait_for_socket_ack(envelope_id, timeout=10)
        options = (ack.get("payload") or {})["options"]
        assert [o["value"] for o in options] == [f"agt_team_{i:03d}" for i in range(10)]
        assert json.dumps(ack).count("agt_team_") == 10
    finally:
        bot.stop()

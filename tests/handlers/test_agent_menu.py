"""The agent menu's options, and the agent search behind them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flowyte.models import Agent
from bot.kernel.outcomes import AgentMatches
from bot.workflow.catalogue import match_agents
from handlers.blocks.agent_menu import agent_option, build_agent_options


def agent(agent_id: str, name: str | None = None, *, published: bool = True) -> Agent:
    data: dict[str, object] = {"id": agent_id, "name": name}
    if published:
        data["publishedVersionId"] = "ver_1"
    return Agent.model_validate(data)


AGENTS = [
    agent("agt_support", "Support line"),
    agent("agt_sales", "Sales"),
    agent("agt_sales_eu", "EU sales desk", published=False),
    agent("agt_draft", "After-hours (draft)", published=False),
    agent("agt_noname"),
]


def ids_of(matches: AgentMatches) -> list[str]:
    return [a.id for a in matches.agents]


def test_typing_matches_names_and_ids_best_first() -> None:
    assert ids_of(match_agents(AGENTS, "sales")) == ["agt_sales", "agt_sales_eu"]
    assert ids_of(match_agents(AGENTS, "SALES DESK")) == ["agt_sales_eu"]
    assert ids_of(match_agents(AGENTS, "agt_noname")) == ["agt_noname"]
    assert ids_of(match_agents(AGENTS, "desk")) == ["agt_sales_eu"]
    assert match_agents(AGENTS, "nobody") == AgentMatches([], 0)


def test_nothing_typed_lists_every_agent_by_name() -> None:
    assert ids_of(match_agents(AGENTS, "")) == [
        "agt_draft",  # After-hours
        "agt_noname",
        "agt_sales_eu",  # EU sales desk
        "agt_sales",
        "agt_support",
    ]


def test_more_matches_than_a_menu_holds_are_counted() -> None:
    many = [agent(f"agt_{i:03d}", f"Agent {i:03d}") for i in range(250)]
    found = match_agents(many, "agent")
    assert found.total == 250 and len(found.agents) == 100
    answer = build_agent_options(found)
    [group] = answer["option_groups"]
    assert group["label"]["text"] == "100 of 250 agents: type more to narrow"
    assert len(group["label"]["text"]) <= 75 and len(group["options"]) == 100


def test_options_that_all_fit_are_a_plain_list() -> None:
    answer = build_agent_options(match_agents(AGENTS, "sales"))
    assert [o["value"] for o in answer["options"]] == ["agt_sales", "agt_sales_eu"]
    labels = [o["text"]["text"] for o in answer["options"]]
    assert labels == ["Sales", "EU sales desk (unpublished)"]
    assert build_agent_options(AgentMatches([], 0)) == {"options": []}


def test_an_agent_whose_id_cannot_be_a_value_is_left_out() -> None:
    assert agent_option(agent("a" * 151, "Long")) is None
    answer = build_agent_options(AgentMatches([agent("a" * 151, "Long")], 1))
    assert answer == {"options": []}


@settings(max_examples=100, deadline=None)
@given(
    names=st.lists(st.text(st.characters(codec="utf-8"), max_size=120), max_size=130),
    typed=st.text(st.characters(codec="utf-8"), max_size=200),
)
def test_any_agents_and_any_typing_give_options_slack_accepts(names: list[str], typed: str) -> None:
    agents = [agent(f"agt_{i}", name or None, published=i % 2 == 0) for i, name in enumerate(names)]
    answer = build_agent_options(match_agents(agents, typed))
    options = answer["options"] if "options" in answer else answer["option_groups"][0]["options"]
    assert len(options) <= 100
    for option in options:
        assert option["text"]["type"] == "plain_text" and option["text"]["emoji"] is False
        assert 0 < len(option["text"]["text"]) <= 75 and 0 < len(option["value"]) <= 150
        assert "\n" not in option["text"]["text"]

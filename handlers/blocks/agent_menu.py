"""The "route to agent" menu in the DM after a purchase, and the options it loads.

Up to 100 agents, the menu is a static_select holding them all: it opens at once, with no
round trip to numbot. Past 100 (what a static menu holds) it is an external_select with the
same action id: Slack asks numbot for options as the person types (handlers/options/agents.py),
and the answer says when more agents match than it shows, so none is cut silently.
"""

from __future__ import annotations

from typing import Any

from bot.flowyte.models import Agent
from bot.kernel.outcomes import AgentMatches
from bot.kernel.text import clean_user_text
from handlers import ids
from handlers.blocks.common import Block, literal

MAX_OPTIONS = 100  # a static_select, and one answer to an external_select, hold 100 options
MAX_OPTION_TEXT = 75  # each option's text 75 characters
MAX_OPTION_VALUE = 150  # and its value 150
MAX_GROUP_LABEL = 75


def agent_option(agent: Agent) -> Block | None:
    """Agent names are written by people in Flowyte's builder: shown as written, one line,
    cut so that an unpublished agent's mark always fits in an option's 75 characters. An
    agent whose id cannot be an option's value is left out (no real id is that long)."""
    if not 0 < len(agent.id) <= MAX_OPTION_VALUE:
        return None
    mark = "" if agent.published else " (unpublished)"
    name = clean_user_text(agent.label, max_length=MAX_OPTION_TEXT - len(mark)) or agent.id
    return {"text": literal(name + mark, max_length=MAX_OPTION_TEXT), "value": agent.id}


def _options(agents: list[Agent]) -> list[Block]:
    return [o for o in map(agent_option, agents) if o is not None]


def build_agent_menu(request_id: str, agents: list[Agent], *, changing: str = "") -> Block:
    """The actions block holding the menu; its block_id names the request it routes.
    `changing`: the number already rings an agent, so the menu reads Change… and asks
    before it re-routes a live number."""
    select: Block = {"action_id": ids.ASSIGN_AGENT}
    if changing:
        select["confirm"] = {
            "title": {"type": "plain_text", "text": "Route it elsewhere?"},
            "text": {
                "type": "plain_text",
                "text": f"Calls to {changing} go to the agent you picked from now on.",
            },
            "confirm": {"type": "plain_text", "text": "Route it"},
            "deny": {"type": "plain_text", "text": "Back"},
        }
    if len(agents) <= MAX_OPTIONS:
        select |= {
            "type": "static_select",
            "placeholder": {
                "type": "plain_text",
                "text": "Change…" if changing else "Route to agent…",
            },
            "options": _options(agents),
        }
    else:
        select |= {
            "type": "external_select",
            "placeholder": {
                "type": "plain_text",
                "text": f"Route to agent: type to search {len(agents)}…",
            },
            # 0: the first options load as the menu opens; typing narrows them.
            "min_query_length": 0,
        }
    return {"type": "actions", "block_id": f"assign:{request_id}", "elements": [select]}


def build_agent_options(matches: AgentMatches) -> dict[str, Any]:
    """The answer to a block_suggestion: `ack(**build_agent_options(...))`.

    When more agents match than one answer holds, the options come as one group whose label
    says how many are shown of how many, and to type more.
    """
    options = _options(matches.agents[:MAX_OPTIONS])
    if not options or matches.total <= len(options):
        return {"options": options}
    label = f"{len(options)} of {matches.total} agents: type more to narrow"
    return {
        "option_groups": [
            {
                "label": {"type": "plain_text", "text": label[:MAX_GROUP_LABEL]},
                "options": options,
            }
        ]
    }

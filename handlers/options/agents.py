"""Options for the agent menu once it searches (past 100 agents): Slack sends what was typed.

Slack waits 3 seconds for the options and nothing can follow later, so the agent list is
read through the service's short-lived shared copy, and after OPTIONS_DEADLINE the answer
is what is known (nothing, when Flowyte is slow): the menu then shows no match, and the
next keystroke finds the list the slow read brought back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.workflow import NumbersService
from bot.workflow.catalogue import match_agents
from handlers.blocks.agent_menu import build_agent_options

logger = logging.getLogger(__name__)

OPTIONS_DEADLINE = 2.5  # seconds; Slack shows no options after 3
AGENT_LIST_MAX_AGE = 20.0  # seconds a read agent list serves one person's typing


async def agent_options(ack: Any, body: dict[str, Any], service: NumbersService) -> None:
    typed = body.get("value")
    try:
        agents = await asyncio.wait_for(
            service.agents(max_age=AGENT_LIST_MAX_AGE), OPTIONS_DEADLINE
        )
    except TimeoutError:
        logger.warning(
            "the agent list took over %.1f s; the menu shows no options", OPTIONS_DEADLINE
        )
        agents = []
    await ack(**build_agent_options(match_agents(agents, typed if isinstance(typed, str) else "")))

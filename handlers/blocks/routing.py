"""Where numbers ring: owned numbers (a page at a time), assignment, publishing, the wallet."""

from __future__ import annotations

from bot.flowyte.models import Agent, OwnedNumber
from bot.kernel.money import usd
from bot.kernel.outcomes import NumberList
from bot.kernel.text import clean_user_text
from handlers import ids
from handlers.blocks.agent_menu import build_agent_menu
from handlers.blocks.common import (
    Block,
    Message,
    button,
    context,
    escape,
    flowyte_id,
    message,
    section,
    sections,
    sentence,
)
from handlers.blocks.paging import LIST_PAGE_ROWS, list_value, nav_blocks, page_of

_ID = 64  # characters of a Flowyte id or number shown in a list row
_NAME = 80  # characters of an agent's name there


def _agent_label(agent: Agent | None, agent_id: str) -> str:
    return f"{escape(agent.label)} (`{agent_id}`)" if agent else f"`{agent_id}`"


def unpublished_warning(agent: Agent) -> list[Block]:
    text = (
        f":rotating_light: *{escape(agent.label)} has never been published.* Calls to this number "
        "reach nothing until it is. Publish it now?"
    )
    confirm = {
        "title": {"type": "plain_text", "text": "Publish this agent?"},
        "text": {
            "type": "plain_text",
            "text": f"Publish {agent.id[:_ID]}? Callers to its numbers reach this version "
            "from now on.",
        },
        "confirm": {"type": "plain_text", "text": "Publish"},
        "deny": {"type": "plain_text", "text": "Back"},
    }
    return [
        section(text, block_id=f"publish:{agent.id}"),
        {
            "type": "actions",
            "elements": [
                button("Publish", ids.PUBLISH, agent.id, style="primary", confirm=confirm)
            ],
        },
    ]


def build_assigned(
    number: OwnedNumber, agent: Agent | None, agent_id: str, *, sandbox: bool
) -> Message:
    text = f":telephone_receiver: {number.e164} now rings {_agent_label(agent, agent_id)}."
    blocks: list[Block] = [section(text)]
    if agent is not None and not agent.published:
        blocks += unpublished_warning(agent)
    elif agent is None:
        blocks.append(context("numbot could not check whether that agent is published."))
    return message(text, blocks, sandbox=sandbox)


def build_imported(
    number: OwnedNumber, agent: Agent | None, agent_id: str | None, *, sandbox: bool
) -> Message:
    text = f":inbox_tray: Imported {number.e164} (`{number.id}`) at no charge."
    if agent_id:
        text += f" It rings {_agent_label(agent, agent_id)}."
    blocks: list[Block] = [section(text)]
    if agent is not None and not agent.published:
        blocks += unpublished_warning(agent)
    return message(text, blocks, sandbox=sandbox)


def build_unassigned(number: OwnedNumber, *, sandbox: bool) -> Message:
    text = (
        f"{number.e164} no longer rings any agent. You still own it and still pay "
        f"{usd(number.monthly_cost) if number.monthly_cost is not None else 'its monthly cost'}/month; "
        "`/numbers release` gives it up."
    )
    return message(text, [section(text)], sandbox=sandbox)


def build_published(agent_id: str, version: str, *, sandbox: bool) -> Message:
    text = f":rocket: Published `{agent_id}` (version `{escape(version)}`). Calls now reach it."
    return message(text, [section(text)], sandbox=sandbox)


def _number_row(number: OwnedNumber, agents: dict[str, Agent]) -> str:
    """One owned number and where it rings. Flowyte's ids and names are escaped and bounded,
    so a page of rows stays far inside a message's 40,000 characters."""
    agent_id = number.default_agent_id
    agent = agents.get(agent_id) if agent_id else None
    if agent_id is None:
        where = "_not routed_"
    else:
        label = f"`{_id(agent_id)}`"
        if agent is not None:
            label = f"{escape(clean_user_text(agent.label, max_length=_NAME))} ({label})"
        if agent is not None and not agent.published:
            label += " :warning: never published: calls reach nothing"
        where = label
    monthly = f" · {usd(number.monthly_cost)}/month" if number.monthly_cost is not None else ""
    return f"• *{_id(number.e164)}* (`{_id(number.id)}`) → {where}{monthly}"


def _id(text: str) -> str:
    return flowyte_id(text)


def build_number_list(
    numbers: list[OwnedNumber] | NumberList,
    agents: dict[str, Agent] | None = None,
    *,
    sandbox: bool,
    page: int = 0,
) -> Message:
    """Page `page` of the organization's numbers (a page past the end shows the last one),
    with Previous / Next when they take more than one page. Given a NumberList (one page of
    numbot's index), it says how fresh the list is, and never presents a list still being
    read as complete; given a plain list, that list is everything."""
    if isinstance(numbers, NumberList):
        listed = numbers
    else:
        listed = NumberList(numbers, agents or {}, page=page)
    total = listed.count
    status = _freshness(listed)
    if not total:
        text = "This organization owns no numbers yet. `/numbers search 415` to find one."
        if listed.reading is not None or (listed.total >= 0 and listed.as_of is None):
            text = status  # not read to the end yet: "none" is not known
        return message(text, [section(text)], sandbox=sandbox)
    shown = page_of(total, listed.page, LIST_PAGE_ROWS)
    rows = listed.numbers
    if listed.total < 0:
        rows = rows[shown.start : shown.end]
    title = f"{total} number{'s' if total != 1 else ''} owned"
    if listed.reading is not None:
        title = f"{total} number{'s' if total != 1 else ''} read so far"
    blocks: list[Block] = [section(f"*{title}*")]
    if status:
        blocks.append(context(status))
    # A section holds 3000 characters: a few rows each, never a row cut in half.
    blocks += sections([_number_row(n, listed.agents) for n in rows])
    blocks += nav_blocks(
        shown,
        "numbers",
        (ids.LIST_PREVIOUS, list_value(shown.index - 1)),
        (ids.LIST_NEXT, list_value(shown.index + 1)),
    )
    if shown.pages > 1:
        title += f", page {shown.index + 1} of {shown.pages}"
    return message(title, blocks, sandbox=sandbox)


def _freshness(listed: NumberList) -> str:
    """How fresh a list from the index is: as of its last complete read of Flowyte, or still
    being read (so not complete); nothing for a plain list."""
    if listed.total < 0:
        return ""
    if listed.reading is not None:
        return (
            f":hourglass_flowing_sand: numbot is still reading this organization's numbers "
            f"from Flowyte ({listed.reading} so far): this list is not complete yet."
        )
    if listed.as_of is None:
        return (
            ":warning: numbot has not yet read this organization's whole list of numbers from "
            "Flowyte: these are the ones it knows of so far, and the list may be incomplete."
        )
    stamp = int(listed.as_of.timestamp())
    fallback = listed.as_of.strftime("%Y-%m-%d %H:%M UTC")
    return f"As of <!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>, read from Flowyte."


def build_purchased_dm(
    text: str, request_id: str, agents: list[Agent], *, sandbox: bool
) -> Message:
    """Tell the requester the number is theirs, with a menu to route it."""
    text = sentence(text)
    blocks: list[Block] = [section(text)]
    if agents:
        blocks.append(build_agent_menu(request_id, agents))
    else:
        blocks.append(context("Route it with `/numbers assign <number> <agent id>`."))
    return message(text, blocks, sandbox=sandbox)


def build_routed(
    number: OwnedNumber,
    agent: Agent | None,
    agent_id: str,
    request_id: str,
    agents: list[Agent],
    *,
    sandbox: bool,
) -> Message:
    """The DM after a purchase, once its number is routed (it replaces the menu): where it
    rings now, with Change… (a menu that asks before it re-routes a live number)."""
    text = f":telephone_receiver: {number.e164} is routed to {_agent_label(agent, agent_id)}."
    blocks: list[Block] = [section(text)]
    if agents:
        blocks.append(build_agent_menu(request_id, agents, changing=number.e164))
    if agent is not None and not agent.published:
        blocks += unpublished_warning(agent)
    elif agent is None:
        blocks.append(context("numbot could not check whether that agent is published."))
    return message(text, blocks, sandbox=sandbox)

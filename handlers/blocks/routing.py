"""Where numbers ring: owned numbers, assignment, publishing, the wallet."""

from __future__ import annotations

from bot.flowyte.models import Agent, OwnedNumber, Wallet
from bot.money import usd
from bot.text import clean_user_text
from handlers import ids
from handlers.blocks.common import (
    Block,
    Message,
    button,
    context,
    escape,
    literal,
    message,
    section,
    sections,
    sentence,
)

MAX_ROWS = 45
MAX_OPTIONS = 100  # a static_select holds 100 options
MAX_OPTION_TEXT = 75  # and each option's text 75 characters


def _agent_label(agent: Agent | None, agent_id: str) -> str:
    return f"{escape(agent.label)} (`{agent_id}`)" if agent else f"`{agent_id}`"


def unpublished_warning(agent: Agent) -> list[Block]:
    text = (
        f":rotating_light: *{escape(agent.label)} has never been published.* Calls to this number "
        "reach nothing until it is. Publish it now?"
    )
    return [
        section(text, block_id=f"publish:{agent.id}"),
        {
            "type": "actions",
            "elements": [button("Publish", ids.PUBLISH, agent.id, style="primary")],
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


def build_number_list(
    numbers: list[OwnedNumber], agents: dict[str, Agent], *, sandbox: bool
) -> Message:
    if not numbers:
        text = "This organization owns no numbers yet. `/numbers search 415` to find one."
        return message(text, [section(text)], sandbox=sandbox)
    rows = []
    for number in numbers[:MAX_ROWS]:
        agent_id = number.default_agent_id
        agent = agents.get(agent_id) if agent_id else None
        if agent_id is None:
            where = "_not routed_"
        elif agent is not None and not agent.published:
            where = (
                f"{_agent_label(agent, agent_id)} :warning: never published: calls reach nothing"
            )
        else:
            where = _agent_label(agent, agent_id)
        monthly = f" · {usd(number.monthly_cost)}/month" if number.monthly_cost is not None else ""
        rows.append(f"• *{number.e164}* (`{number.id}`) → {where}{monthly}")
    title = f"{len(numbers)} number{'s' if len(numbers) != 1 else ''} owned"
    blocks: list[Block] = [section(f"*{title}*")]
    # A section holds 3000 characters: a few rows each, never a row cut in half.
    blocks += sections(rows)
    if len(numbers) > MAX_ROWS:
        blocks.append(context(f"Showing the first {MAX_ROWS}."))
    return message(title, blocks, sandbox=sandbox)


def build_wallet(wallet: Wallet, *, sandbox: bool) -> Message:
    text = f":moneybag: Wallet balance: *{usd(wallet.balance_usd)}*."
    if (
        wallet.auto_reload_enabled
        and wallet.auto_reload_threshold_usd is not None
        and wallet.auto_reload_amount_usd is not None
    ):
        text += (
            f" Auto-reload adds {usd(wallet.auto_reload_amount_usd)} below "
            f"{usd(wallet.auto_reload_threshold_usd)}."
        )
    text += "\nTop-ups happen in the Flowyte dashboard (a card payment numbot cannot make)."
    return message(text, [section(text)], sandbox=sandbox)


def _agent_option(agent: Agent) -> Block:
    """Agent names are written by people in Flowyte's builder: shown as written, one line,
    cut so that an unpublished agent's mark always fits in an option's 75 characters."""
    mark = "" if agent.published else " (unpublished)"
    name = clean_user_text(agent.label, max_length=MAX_OPTION_TEXT - len(mark)) or agent.id
    return literal(name + mark, max_length=MAX_OPTION_TEXT)


def build_purchased_dm(
    text: str, request_id: str, agents: list[Agent], *, sandbox: bool
) -> Message:
    """Tell the requester the number is theirs, with a menu to route it."""
    text = sentence(text)
    blocks: list[Block] = [section(text)]
    if agents:
        options = [{"text": _agent_option(a), "value": a.id} for a in agents[:MAX_OPTIONS]]
        blocks.append(
            {
                "type": "actions",
                "block_id": f"assign:{request_id}",
                "elements": [
                    {
                        "type": "static_select",
                        "action_id": ids.ASSIGN_AGENT,
                        "placeholder": {"type": "plain_text", "text": "Route to agent…"},
                        "options": options,
                    }
                ],
            }
        )
    else:
        blocks.append(context("Route it with `/numbers assign <number> <agent id>`."))
    return message(text, blocks, sandbox=sandbox)

"""Search results: one row per number with its Reserve button."""

from __future__ import annotations

from bot.flowyte.models import AvailableNumber, SearchQuery
from bot.money import usd
from handlers import ids
from handlers.blocks.common import Block, Message, button, context, escape, message, section

MAX_ROWS = 40  # a message holds at most 50 blocks


def _describe(query: SearchQuery) -> str:
    params = query.params()
    params.pop("limit", None)
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "any"


def number_row(number: AvailableNumber) -> Block:
    place = ", ".join(p for p in (number.locality, number.region) if p) or "—"
    features = ", ".join(number.features) or "—"
    setup = usd(number.setup_cost) if number.setup_cost is not None else "?"
    monthly = usd(number.monthly_cost) if number.monthly_cost is not None else "?"
    near = " _(nearby match)_" if number.best_effort else ""
    text = (
        f"*{escape(number.formatted or number.e164)}*{near}\n"
        f"{escape(place)} · {escape(features)}\n"
        f"{setup} setup · {monthly}/month"
    )
    row = section(text, block_id=f"number:{number.e164}")
    if number.reservable:
        row["accessory"] = button("Reserve", ids.RESERVE, number.e164)
    return row


def build_searching(query: SearchQuery, *, sandbox: bool) -> str:
    prefix = "[SANDBOX] " if sandbox else ""
    return f"{prefix}Searching Flowyte for numbers ({escape(_describe(query))})…"


def build_search_results(
    query: SearchQuery, numbers: list[AvailableNumber], *, sandbox: bool
) -> Message:
    if not numbers:
        text = f"No numbers match ({escape(_describe(query))}). Try another area code, or bestEffort=true."
        return message(text, [section(text)], sandbox=sandbox)
    numbers = list({n.e164: n for n in numbers}.values())  # a row's block_id must be unique
    shown = numbers[:MAX_ROWS]
    title = f"{len(numbers)} number{'s' if len(numbers) != 1 else ''} available ({escape(_describe(query))})"
    blocks: list[Block] = [
        section(f"*{title}*. Reserve one to hold it for 30 minutes; holding is free.")
    ]
    blocks += [number_row(n) for n in shown]
    if len(numbers) > len(shown):
        blocks.append(context(f"Showing the first {len(shown)}. Narrow the search to see others."))
    return message(title, blocks, sandbox=sandbox)

"""`/numbers <subcommand>`: parse, acknowledge at once, then do the work and respond.

Everything here is ephemeral (only the person who typed it sees it), except the approval
card a release request posts to the approval channel. `/numbers` alone opens the search
modal; help is `/numbers help`.
"""

from __future__ import annotations

from typing import Any

from bot.kernel.outcomes import Refused
from bot.workflow import NumbersService
from handlers.actions.open_search import open_search_modal
from handlers.blocks.common import Message, plain, refusal
from handlers.blocks.costs import build_idle, build_spend, build_wallet
from handlers.blocks.help import build_help, build_usage_error
from handlers.blocks.holds import build_holds
from handlers.blocks.paging import IDLE_PAGE_ROWS, LIST_PAGE_ROWS
from handlers.blocks.requests import build_request_reply
from handlers.blocks.routing import (
    build_assigned,
    build_imported,
    build_number_list,
    build_published,
    build_unassigned,
)
from handlers.blocks.search import build_search_results, build_searching
from handlers.commands import parser as p


async def _run(command: p.Command, actor: str, service: NumbersService) -> Message:
    """Carry out a parsed command; every branch ends in a message for the person."""
    sandbox = service.sandbox
    match command:
        case p.Search(query):
            found = await service.search(actor, query)
            if isinstance(found, Refused):
                return refusal(found.message, sandbox=sandbox)
            return build_search_results(found.query, found.numbers, sandbox=sandbox)
        case p.ListNumbers():
            listed = await service.list_numbers(actor, rows=LIST_PAGE_ROWS)
            if isinstance(listed, Refused):
                return refusal(listed.message, sandbox=sandbox)
            return build_number_list(listed, sandbox=sandbox)
        case p.ShowWallet():
            wallet = await service.wallet(actor)
            if isinstance(wallet, Refused):
                return refusal(wallet.message, sandbox=sandbox)
            return build_wallet(wallet, sandbox=sandbox)
        case p.ShowIdle():
            return build_idle(await service.idle(actor, rows=IDLE_PAGE_ROWS), sandbox=sandbox)
        case p.ShowSpend():
            return build_spend(await service.spend(actor), sandbox=sandbox)
        case p.ShowHolds():
            return build_holds(await service.holds(actor), sandbox=sandbox)
        case p.Assign(number, agent_id):
            assigned = await service.assign(actor, number, agent_id)
            if isinstance(assigned, Refused):
                return refusal(assigned.message, sandbox=sandbox)
            return build_assigned(assigned.number, assigned.agent, agent_id, sandbox=sandbox)
        case p.Unassign(number):
            unassigned = await service.unassign(actor, number)
            if isinstance(unassigned, Refused):
                return refusal(unassigned.message, sandbox=sandbox)
            return build_unassigned(unassigned.number, sandbox=sandbox)
        case p.Publish(agent_id):
            published = await service.publish(actor, agent_id)
            if isinstance(published, Refused):
                return refusal(published.message, sandbox=sandbox)
            return build_published(published.agent_id, published.version.id, sandbox=sandbox)
        case p.Release(number, reason):
            requested = await service.request_release(actor, number, reason)
            return build_request_reply(requested, sandbox=sandbox)
        case p.Import(e164, agent_id):
            imported = await service.import_number(actor, e164, agent_id)
            if isinstance(imported, Refused):
                return refusal(imported.message, sandbox=sandbox)
            return build_imported(imported.number, imported.agent, agent_id, sandbox=sandbox)
    return plain("numbot does not know that command.", sandbox=sandbox)  # unreachable by the parser


async def numbers_command(
    ack: Any,
    command: dict[str, Any],
    respond: Any,
    service: NumbersService,
    client: Any = None,
) -> None:
    parsed = p.parse(command.get("text"))
    sandbox = service.sandbox
    if isinstance(parsed, p.SearchForm):
        await ack()
        await open_search_modal(client, command.get("trigger_id"), respond, sandbox=sandbox)
        return
    if isinstance(parsed, p.UsageError):
        await ack(**build_usage_error(parsed.message, parsed.topic, sandbox=sandbox))
        return
    if isinstance(parsed, p.Help):
        await ack(**build_help(parsed.topic, sandbox=sandbox))
        return
    if isinstance(parsed, p.Search):
        await ack(text=build_searching(parsed.query, sandbox=sandbox))
    else:
        await ack()
    reply = await _run(parsed, command["user_id"], service)
    await respond(response_type="ephemeral", replace_original=False, **reply)

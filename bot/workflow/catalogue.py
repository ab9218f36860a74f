"""Reads: the carrier's inventory, the wallet, the numbers we own. Nothing here changes anything."""

from __future__ import annotations

import asyncio
from datetime import datetime

from bot.flowyte import errors as fe
from bot.flowyte.models import Agent, SearchQuery
from bot.kernel.outcomes import AgentMatches, NumberList, Refused, SearchResults, WalletView
from bot.kernel.text import clean_user_text
from bot.workflow.context import Context, logger
from bot.workflow.owned import OwnedBook

MAX_MATCHES = 100  # what one menu can show (Slack: 100 options)
MAX_TYPED = 100  # characters of a typed agent search that are read
AGENTS_MAX_AGE = 60.0  # seconds an agent list read for a menu, a list or a Home is reused
LIST_FRESH = 300.0  # seconds after a large organization's last read that `/numbers list` starts one
LIST_WAIT = 0.8  # seconds it waits for that read (a small organization's)
SMALL_LIST = 500  # numbers: an organization whose list is read within LIST_WAIT


def match_agents(agents: list[Agent], typed: str, *, limit: int = MAX_MATCHES) -> AgentMatches:
    """The agents whose name or id contains what was typed (case-insensitive), best first:
    an exact name or id, then those that start with it, then the rest, each by name.
    Nothing typed matches every agent. Pure."""
    needle = clean_user_text(typed, max_length=MAX_TYPED).casefold()

    def rank(agent: Agent) -> tuple[int, str, str]:
        name, ident = (agent.name or "").casefold(), agent.id.casefold()
        if not needle or needle in (name, ident):
            closeness = 0
        elif name.startswith(needle) or ident.startswith(needle):
            closeness = 1
        else:
            closeness = 2
        return closeness, agent.label.casefold(), agent.id

    found = [a for a in agents if needle in (a.name or "").casefold() or needle in a.id.casefold()]
    found.sort(key=rank)
    return AgentMatches(found[:limit], len(found))


class Catalogue:
    def __init__(self, ctx: Context, book: OwnedBook) -> None:
        self.ctx = ctx
        self.book = book
        self._agent_list: tuple[datetime, list[Agent]] | None = None
        self._agent_read: asyncio.Task[list[Agent] | None] | None = None

    async def search(self, actor: str, query: SearchQuery) -> SearchResults | Refused:
        params = query.params()
        subject = params.get("areaCode", "-")
        try:
            numbers = await self.ctx.flowyte.search(query)
        except fe.FlowyteError as exc:
            return await self.ctx.flowyte_failed(actor, "search", subject, exc)
        await self.ctx.audit(actor, "search", subject, "ok", query=params, results=len(numbers))
        return SearchResults(query, numbers)

    async def wallet(self, actor: str) -> WalletView | Refused:
        try:
            wallet = await self.ctx.flowyte.wallet()
        except fe.FlowyteError as exc:
            return await self.ctx.flowyte_failed(actor, "wallet", "wallet", exc)
        await self.ctx.audit(actor, "wallet", "wallet", "ok")
        return WalletView(wallet)

    async def list_numbers(
        self, actor: str, *, page: int = 0, rows: int = 20, fresh: bool = True
    ) -> NumberList | Refused:
        """Page `page` (`rows` a page) of the owned numbers, from the index (owned.py).

        `fresh` (the command, not a page click): a small organization's list is read again
        (waiting up to LIST_WAIT for it), as before the index; a large one is read again in
        the background when its last read ended over LIST_FRESH seconds ago, and shown as
        of its last complete read, and said to be."""
        book = self.book
        # Agent names (a shared, cached read) come while the list is being made fresh.
        agents = asyncio.ensure_future(self.agents(max_age=AGENTS_MAX_AGE))
        try:
            if fresh:
                state = await book.state()
                known = state.complete_count if state.complete_count is not None else state.seen
                if known <= SMALL_LIST:
                    await book.fresh(within=0.0, wait=LIST_WAIT)
                else:
                    await book.fresh(within=LIST_FRESH, wait=0.0)
            shown = await book.page(page, rows)
            named = await agents
        finally:
            agents.cancel()
        state = shown.state
        reading = state.seen if state.running and state.complete_at is None else None
        await self.ctx.audit(actor, "list", "numbers", "ok", count=shown.total, page=shown.index)
        return NumberList(
            shown.numbers,
            {a.id: a for a in named},
            total=shown.total,
            page=shown.index,
            as_of=state.complete_at,
            reading=reading,
        )

    async def agents(self, *, max_age: float = 0.0) -> list[Agent]:
        """Every agent, or [] when Flowyte cannot say (logged): for menus and names, where
        no agent and no answer read the same. See agents_or_none."""
        return await self.agents_or_none(max_age=max_age) or []

    async def agents_or_none(self, *, max_age: float = 0.0) -> list[Agent] | None:
        """Every agent ([] when there are none), or None when Flowyte cannot say (logged).

        With `max_age` (seconds), a list read that recently is reused, and callers arriving
        while a read is under way share it: a type-ahead menu asks on every keystroke and
        must be answered within Slack's 3 seconds. The shared read is shielded, so a caller
        that stops waiting does not cancel it, and its answer serves the next keystroke.
        A failed read is never kept.
        """
        if max_age <= 0:
            return await self._read_agents()
        if self._agent_list is not None:
            read_at, agents = self._agent_list
            if (self.ctx.clock() - read_at).total_seconds() <= max_age:
                return agents
        if self._agent_read is None or self._agent_read.done():
            self._agent_read = asyncio.create_task(self._read_agents(), name="numbot-agents")
            self._agent_read.add_done_callback(_retrieve)
        return await asyncio.shield(self._agent_read)

    def forget_agents(self) -> None:
        """An agent was just published or a number routed (or unrouted, or imported): the
        next read asks Flowyte, so nobody is told an agent is unpublished a minute after it
        was published."""
        self._agent_list = None

    async def _read_agents(self) -> list[Agent] | None:
        try:
            agents = await self.ctx.flowyte.list_agents()
        except fe.FlowyteError:
            logger.warning("could not list agents for the menu")
            return None
        self._agent_list = (self.ctx.clock(), agents)
        return agents


def _retrieve(task: asyncio.Task[list[Agent] | None]) -> None:
    """Collect a shared read's unexpected error (Flowyte's are handled inside it): everyone
    waiting may have given up, and an error nobody collects is reported only as "never
    retrieved", at garbage collection, without its context."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.warning("reading the agent list failed: %r", error, exc_info=error)

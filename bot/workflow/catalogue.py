"""Reads: the carrier's inventory, the wallet, the numbers we own. Nothing here changes anything."""

from __future__ import annotations

import asyncio

from bot.flowyte import errors as fe
from bot.flowyte.models import Agent, SearchQuery
from bot.outcomes import NumberList, Refused, SearchResults, WalletView
from bot.workflow.context import Context, logger


class Catalogue:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

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

    async def list_numbers(self, actor: str) -> NumberList | Refused:
        try:
            numbers, agents = await asyncio.gather(
                self.ctx.flowyte.list_numbers(), self.ctx.flowyte.list_agents()
            )
        except fe.FlowyteError as exc:
            return await self.ctx.flowyte_failed(actor, "list", "numbers", exc)
        await self.ctx.audit(actor, "list", "numbers", "ok", count=len(numbers))
        return NumberList(numbers, {a.id: a for a in agents})

    async def agents(self) -> list[Agent]:
        try:
            return await self.ctx.flowyte.list_agents()
        except fe.FlowyteError:
            logger.warning("could not list agents for the menu")
            return []

"""Routing owned numbers: find one, assign it to an agent, unassign, publish, import."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.flowyte import errors as fe
from bot.flowyte.models import Agent, OwnedNumber
from bot.kernel.outcomes import Assigned, Imported, Published, Refused, Unassigned
from bot.workflow import sentences
from bot.workflow.context import Context
from bot.workflow.owned import OwnedBook, Unfinished


class Routing:
    def __init__(
        self, ctx: Context, book: OwnedBook, on_change: Callable[[], None] = lambda: None
    ) -> None:
        """`on_change`: told after anything that changes which agent a number reaches (a
        publish, an assignment, an unassignment, an import): the cached agents and Home are
        stale then."""
        self.ctx = ctx
        self.book = book
        self.on_change = on_change

    async def resolve(self, actor: str, action: str, ref: str) -> OwnedNumber | Refused:
        """An owned number by +E.164 or Flowyte id, or why not (audited)."""
        ctx = self.ctx
        try:
            if ref.startswith("+"):
                if not sentences.E164.fullmatch(ref):
                    return await ctx.refuse(
                        actor, action, ref[:32], "bad_input", sentences.NOT_E164
                    )
                try:
                    found = await self.book.find(ref)
                except Unfinished as unfinished:
                    return await ctx.refuse(
                        actor,
                        action,
                        ref,
                        "not_found_yet",
                        f"numbot has not found {ref} among this organization's numbers yet: "
                        f"it read {unfinished.seen} of them from Flowyte and there are more. "
                        "Try again in a minute (numbot keeps reading them in the background).",
                    )
                if found is not None:
                    return found
                return await ctx.refuse(
                    actor,
                    action,
                    ref,
                    "not_owned",
                    f"{ref} is not one of this organization's numbers. `/numbers list` shows them.",
                )
            if not sentences.NUMBER_ID.fullmatch(ref):
                return await ctx.refuse(
                    actor,
                    action,
                    ref[:32],
                    "bad_input",
                    "Give a number as +E.164 or its Flowyte id.",
                )
            number = await ctx.flowyte.get_number(ref)
        except fe.FlowyteError as exc:
            return await ctx.flowyte_failed(actor, action, ref, exc)
        await ctx.note_owned(number)
        return number

    async def assign(self, actor: str, number_ref: str, agent_id: str) -> Assigned | Refused:
        ctx = self.ctx
        if not sentences.AGENT_ID.fullmatch(agent_id):
            return await ctx.refuse(
                actor, "assign", number_ref[:32], "bad_input", sentences.NOT_AGENT
            )
        number = await self.resolve(actor, "assign", number_ref)
        if isinstance(number, Refused):
            return number
        # Whether the agent is published is read alongside the assignment, not after it.
        agent_read = asyncio.create_task(self._agent_or_none(agent_id))
        try:
            assigned = await ctx.flowyte.assign(number.id, agent_id)
        except fe.FlowyteError as exc:
            agent_read.cancel()
            await asyncio.gather(agent_read, return_exceptions=True)
            return await ctx.flowyte_failed(actor, "assign", number.e164, exc)
        agent = await agent_read
        await ctx.audit(
            actor,
            "assign",
            number.e164,
            "ok",
            agent=agent_id,
            published=agent.published if agent else None,
        )
        await ctx.note_owned(
            number.model_copy(
                update={"default_agent_id": agent_id, "status": assigned.status or "assigned"}
            )
        )
        self.on_change()
        return Assigned(assigned, agent)

    async def assign_purchased(
        self, actor: str, request_id: str, agent_id: str
    ) -> Assigned | Refused:
        """Route the number a purchase request bought (the menu offered after a purchase)."""
        request = await self.ctx.load(request_id)
        if request is None or request.status != "purchased" or not request.number_id:
            return await self.ctx.refuse(
                actor,
                "assign",
                request_id[:40],
                "unknown",
                "numbot does not know that purchase. Use `/numbers assign <number> <agent id>`.",
            )
        return await self.assign(actor, request.number_id, agent_id)

    async def unassign(self, actor: str, number_ref: str) -> Unassigned | Refused:
        ctx = self.ctx
        number = await self.resolve(actor, "unassign", number_ref)
        if isinstance(number, Refused):
            return number
        try:
            result = await ctx.flowyte.unassign(number.id)
        except fe.FlowyteError as exc:
            return await ctx.flowyte_failed(actor, "unassign", number.e164, exc)
        await ctx.audit(
            actor, "unassign", number.e164, "ok", previous_agent=number.default_agent_id
        )
        back = number.model_copy(update={"default_agent_id": None, "status": "available"})
        await ctx.note_owned(back)
        self.on_change()
        return Unassigned(result or back)

    async def publish(self, actor: str, agent_id: str) -> Published | Refused:
        ctx = self.ctx
        if not sentences.AGENT_ID.fullmatch(agent_id):
            return await ctx.refuse(
                actor, "publish", agent_id[:32], "bad_input", sentences.NOT_AGENT
            )
        try:
            agent = await ctx.flowyte.get_agent(agent_id)
            # One key per draft version: a double click or a Slack retry replays, while
            # publishing again after new edits (a new version) is a new publish.
            key = f"numbot-publish-{agent.id}-v{agent.version}"
            version = await ctx.flowyte.publish(
                agent.id, idempotency_key=key, note="Published from Slack with numbot"
            )
        except fe.FlowyteError as exc:
            return await ctx.flowyte_failed(actor, "publish", agent_id, exc)
        await ctx.audit(actor, "publish", agent_id, "ok", version=version.id)
        self.on_change()
        return Published(agent_id, version)

    async def import_number(
        self, actor: str, e164: str, agent_id: str | None
    ) -> Imported | Refused:
        ctx = self.ctx
        if not sentences.E164.fullmatch(e164):
            return await ctx.refuse(actor, "import", e164[:32], "bad_input", sentences.NOT_E164)
        if agent_id is not None and not sentences.AGENT_ID.fullmatch(agent_id):
            return await ctx.refuse(actor, "import", e164, "bad_input", sentences.NOT_AGENT)
        try:
            number = await ctx.flowyte.import_number(e164, agent_id)
        except fe.FlowyteError as exc:
            return await ctx.flowyte_failed(actor, "import", e164, exc)
        agent = await self._agent_or_none(agent_id) if agent_id else None
        await ctx.audit(actor, "import", e164, "ok", number=number.id, agent=agent_id)
        await ctx.note_owned(number)
        self.on_change()
        return Imported(number, agent)

    async def _agent_or_none(self, agent_id: str) -> Agent | None:
        try:
            return await self.ctx.flowyte.get_agent(agent_id)
        except fe.FlowyteError:
            return None

"""The Slack side of bot.kernel.ports.Notifier: the approval card and its thread in the channel, a
copy for each approver in their DM, news to requesters by DM, the daily digest, and each
person's App Home."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Literal

from bot.flowyte.models import Agent
from bot.kernel.home import Home
from bot.kernel.outcomes import Digest
from bot.kernel.ports import Placed
from bot.workflow.approvers import ApproverSet
from handlers.blocks.approvers import (
    build_approver_copy,
    build_reminder_for_requester,
    build_story_line,
    build_thread_reminder,
)
from handlers.blocks.common import plain
from handlers.blocks.digest import build_digest
from handlers.blocks.home import build_home
from handlers.blocks.requests import build_approval_card
from handlers.blocks.routing import build_purchased_dm
from storage.requests import Request

logger = logging.getLogger(__name__)

Notify = Literal["channel", "dm", "both"]


class SlackNotifier:
    def __init__(
        self,
        client: Any,
        *,
        approval_channel: str,
        sandbox: bool,
        approvers: ApproverSet | None = None,
        notify: Notify = "channel",
        digest_channel: str | None = None,
    ) -> None:
        """`notify` (NUMBOT_NOTIFY): "channel" @-mentions the approvers on the card, "dm"
        sends each a copy instead, "both" mentions the user groups on the card and sends the
        named approvers a copy. Nobody is both mentioned and sent a copy."""
        self.client = client
        self.approval_channel = approval_channel
        self.sandbox = sandbox
        self.approvers = approvers or ApproverSet(())
        self.notify = notify
        self.digest_channel = digest_channel or approval_channel

    def _mentioned(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(people, user groups) the card @-mentions."""
        if self.notify == "channel":
            return tuple(sorted(self.approvers.static)), self.approvers.groups
        if self.notify == "both":
            return (), self.approvers.groups
        return (), ()

    async def _deciders(self, request: Request) -> list[str]:
        """Who gets a copy: everyone who may decide it now ("dm": group members read from
        Slack), or the named approvers no mentioned group holds ("both"); never the
        requester, nobody at all with "channel"."""
        if self.notify == "channel":
            return []
        if self.notify == "both":
            grouped = self.approvers.known_group_members()
            people = frozenset(p for p in self.approvers.static if p not in grouped)
        else:
            people = await self.approvers.everyone()
        return [user for user in sorted(people) if user != request.requester]

    async def _post(self, channel: str, message: dict[str, Any], **extra: Any) -> tuple[str, str]:
        response = await self.client.chat_postMessage(channel=channel, **message, **extra)
        return str(response["channel"]), str(response["ts"])

    async def _each_approver(self, request: Request, message: dict[str, Any]) -> list[Placed]:
        """DM every approver; one who cannot be reached does not stop the others."""
        placed: list[Placed] = []
        for user in await self._deciders(request):
            try:
                channel, ts = await self._post(user, message)
            except Exception:
                logger.exception("could not tell approver %s about %s", user, request.id)
                continue
            placed.append((user, channel, ts))
        return placed

    async def post_card(
        self,
        request: Request,
        *,
        balance: Decimal | None,
        budget: str | None = None,
        bill: str | None = None,
    ) -> tuple[str, str]:
        people, groups = self._mentioned()
        card = build_approval_card(
            request,
            balance=balance,
            sandbox=self.sandbox,
            approvers=people,
            groups=groups,
            budget=budget,
            bill=bill,
        )
        return await self._post(self.approval_channel, card)

    async def notify_approvers(self, request: Request, *, balance: Decimal | None) -> list[Placed]:
        copy = build_approver_copy(request, balance=balance, sandbox=self.sandbox)
        return await self._each_approver(request, copy)

    async def remind(self, request: Request, copies: list[Placed]) -> None:
        """Where each approver already has the request: a reply in the card's thread naming
        those the card mentions, and one under each copy; then the requester."""
        people, groups = self._mentioned()
        if request.card_channel and request.card_ts and (people or groups):
            await self._post(
                request.card_channel,
                build_thread_reminder(request, people, groups),
                thread_ts=request.card_ts,
            )
        for recipient, channel, ts in copies:
            try:
                await self._post(channel, build_thread_reminder(request, (), ()), thread_ts=ts)
            except Exception:
                logger.exception("could not remind approver %s of %s", recipient, request.id)
        await self._post(
            request.requester, build_reminder_for_requester(request, sandbox=self.sandbox)
        )

    async def update_card(
        self, request: Request, *, budget: str | None = None, bill: str | None = None
    ) -> None:
        people, groups = self._mentioned()
        card = build_approval_card(
            request,
            balance=None,
            sandbox=self.sandbox,
            approvers=people,
            groups=groups,
            budget=budget,
            bill=bill,
        )
        await self.client.chat_update(channel=request.card_channel, ts=request.card_ts, **card)

    async def update_copy(self, request: Request, recipient: str, channel: str, ts: str) -> None:
        copy = build_approver_copy(
            request,
            balance=None,
            sandbox=self.sandbox,
            viewer=recipient,
            approvers=self.approvers.known_whole(),
        )
        await self.client.chat_update(channel=channel, ts=ts, **copy)

    async def narrate(self, request: Request) -> None:
        line = build_story_line(request)
        if line is not None and request.card_channel and request.card_ts:
            await self._post(request.card_channel, line, thread_ts=request.card_ts)

    async def tell_requester(
        self, request: Request, text: str, *, agents: list[Agent] | None = None
    ) -> None:
        if request.status == "purchased":
            reply = build_purchased_dm(text, request.id, agents or [], sandbox=self.sandbox)
        else:
            reply = plain(text, sandbox=self.sandbox)
        await self.client.chat_postMessage(channel=request.requester, **reply)

    async def alert(self, text: str) -> None:
        await self.client.chat_postMessage(
            channel=self.approval_channel, **plain(text, sandbox=self.sandbox)
        )

    async def post_notice(self, text: str) -> None:
        await self.client.chat_postMessage(
            channel=self.digest_channel, **plain(text, sandbox=self.sandbox)
        )

    async def post_digest(self, digest: Digest) -> tuple[str, str]:
        message = build_digest(digest, sandbox=self.sandbox)
        response = await self.client.chat_postMessage(channel=self.digest_channel, **message)
        return str(response["channel"]), str(response["ts"])

    async def publish_home(self, user_id: str, home: Home) -> None:
        await self.client.views_publish(
            user_id=user_id, view=build_home(home, sandbox=self.sandbox)
        )

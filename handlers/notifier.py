"""The Slack side of bot.ports.Notifier: approval cards in the channel, news to requesters by
DM, and each person's App Home."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.flowyte.models import Agent
from bot.home import Home
from handlers.blocks.common import plain
from handlers.blocks.home import build_home
from handlers.blocks.requests import build_approval_card
from handlers.blocks.routing import build_purchased_dm
from storage.requests import Request


class SlackNotifier:
    def __init__(self, client: Any, *, approval_channel: str, sandbox: bool) -> None:
        self.client = client
        self.approval_channel = approval_channel
        self.sandbox = sandbox

    async def post_card(self, request: Request, *, balance: Decimal | None) -> tuple[str, str]:
        card = build_approval_card(request, balance=balance, sandbox=self.sandbox)
        response = await self.client.chat_postMessage(channel=self.approval_channel, **card)
        return str(response["channel"]), str(response["ts"])

    async def update_card(self, request: Request) -> None:
        card = build_approval_card(request, balance=None, sandbox=self.sandbox)
        await self.client.chat_update(channel=request.card_channel, ts=request.card_ts, **card)

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

    async def publish_home(self, user_id: str, home: Home) -> None:
        await self.client.views_publish(
            user_id=user_id, view=build_home(home, sandbox=self.sandbox)
        )

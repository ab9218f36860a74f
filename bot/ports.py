"""The narrow surface through which the workflow reaches people (Slack, or the demo).

The service decides; a Notifier shows. Keeping this small lets approve, reject and the
startup reconcile run headlessly in tests and in `numbot demo`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from bot.flowyte.models import Agent
from bot.home import Home
from storage.requests import Request


class Notifier(Protocol):
    async def post_card(self, request: Request, *, balance: Decimal | None) -> tuple[str, str]:
        """Post the approval card for `request`; return (channel, ts)."""
        ...

    async def update_card(self, request: Request) -> None:
        """Redraw the card of `request` to show its current state."""
        ...

    async def tell_requester(
        self, request: Request, text: str, *, agents: list[Agent] | None = None
    ) -> None:
        """Tell the person who asked what happened (agents: offer to route the new number)."""
        ...

    async def alert(self, text: str) -> None:
        """Something operators must look at (a request numbot refuses to trust, a check that
        drags on): posted where the approvers are."""
        ...

    async def publish_home(self, user_id: str, home: Home) -> None:
        """Draw `user_id`'s App Home from these facts (replacing what it showed)."""
        ...

"""The narrow surface through which the workflow reaches people (Slack, or the demo).

The service decides; a Notifier shows. Keeping this small lets approve, reject and the
sweep run headlessly in tests and in `numbot demo`. A Directory answers the one question the
workflow asks Slack itself: who is in a user group that may approve.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from bot.flowyte.models import Agent
from bot.kernel.home import Home
from bot.kernel.outcomes import Digest
from storage.requests import Request

# Where a copy of a card landed: (recipient user id, channel, ts).
Placed = tuple[str, str, str]


class Notifier(Protocol):
    async def post_card(
        self,
        request: Request,
        *,
        balance: Decimal | None,
        budget: str | None = None,
        bill: str | None = None,
    ) -> tuple[str, str]:
        """Post the approval card for `request` (mentioning the approvers; `budget`: this
        month's spend against the budget, when there is one; `bill`: what the numbers' monthly
        bill becomes with this one); return (channel, ts)."""
        ...

    async def notify_approvers(self, request: Request, *, balance: Decimal | None) -> list[Placed]:
        """Send a copy with Approve and Reject to each approver who is to get one (by how
        approvers are told: NUMBOT_NOTIFY); return where the copies landed."""
        ...

    async def remind(self, request: Request, copies: list[Placed]) -> None:
        """The hold lapses soon: remind the approvers where they already have the request
        (a reply in the card's thread, one under each of their `copies`), never with a second
        copy to act on, and tell the requester."""
        ...

    async def update_card(
        self, request: Request, *, budget: str | None = None, bill: str | None = None
    ) -> None:
        """Redraw the card of `request` to show its current state (`budget` and `bill` as for
        post_card, while it waits)."""
        ...

    async def update_copy(self, request: Request, recipient: str, channel: str, ts: str) -> None:
        """Redraw `recipient`'s copy to show the request's current state as they see it."""
        ...

    async def narrate(self, request: Request) -> None:
        """Tell the card's thread what just happened, so the channel has the story."""
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

    async def post_notice(self, text: str) -> None:
        """A notice for the team (the low-wallet warning): the digest channel when one is
        set, else the approval channel."""
        ...

    async def post_digest(self, digest: Digest) -> tuple[str, str]:
        """Post the daily digest where the approvers are; return (channel, ts)."""
        ...

    async def publish_home(self, user_id: str, home: Home) -> None:
        """Draw `user_id`'s App Home from these facts (replacing what it showed)."""
        ...


class Directory(Protocol):
    async def group_members(self, group_id: str) -> frozenset[str]:
        """The user ids in Slack user group `group_id` now; raise when Slack cannot say
        (numbot then counts nobody from that group: bot/workflow/approvers.py)."""
        ...


class MoveObserver(Protocol):
    def request_moved(self, kind: str, status: str) -> None:
        """A request of `kind` (purchase, release) was created or moved to `status`."""
        ...

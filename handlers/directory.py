"""The Slack side of bot.kernel.ports.Directory: who is in a user group, from `usergroups.users.list`.

    directory = SlackDirectory(client)
    await directory.group_members("S0CCC")      # frozenset({"U0AAA", ...}) or DirectoryError

It needs the bot scope `usergroups:read` (manifest.yml). It asks with `include_disabled`
false, which Slack documents as not allowing results for disabled groups: a group an admin
disabled stops counting. Every failure is one
DirectoryError whose message says what went wrong in words; the workflow then counts nobody
from that group (it fails closed, bot/workflow/approvers.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

DEFAULT_TIMEOUT = 5.0  # seconds; a click waits for this at most before numbot says no

# What Slack's error codes for usergroups.users.list mean for whoever reads numbot's log.
_REASONS = {
    "missing_scope": (
        "numbot's Slack app lacks the usergroups:read scope: add it (manifest.yml) and "
        "reinstall the app"
    ),
    "no_such_subteam": "Slack has no such user group (or it is disabled)",
    "plan_upgrade_required": "this Slack workspace's plan has no user groups",
    "invalid_auth": "Slack did not accept numbot's bot token",
    "not_authed": "Slack did not accept numbot's bot token",
}


class DirectoryError(Exception):
    """Slack would not say who is in a user group."""


class SlackDirectory:
    def __init__(self, client: Any, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """`client`: an AsyncWebClient (numbot's redacting, retrying one)."""
        self.client = client
        self.timeout = timeout

    async def group_members(self, group_id: str) -> frozenset[str]:
        reason: str
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.usergroups_users_list(
                    usergroup=group_id, include_disabled=False
                )
        except SlackApiError as exc:
            code = str(exc.response.get("error") or exc.response.status_code)
            reason = _REASONS.get(code, f"Slack answered {code}")
        except TimeoutError:
            reason = f"Slack did not answer within {self.timeout:g} s"
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            reason = f"could not reach Slack ({type(exc).__name__})"
        else:
            users = response.get("users")
            if isinstance(users, list) and all(isinstance(u, str) for u in users):
                return frozenset(users)
            reason = "Slack's answer had no list of users"
        raise DirectoryError(f"could not read the members of user group {group_id}: {reason}")

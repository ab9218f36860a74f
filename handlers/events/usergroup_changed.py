"""An approvers' user group gained or lost members (Slack's `subteam_members_changed`):
numbot applies it at once, so someone removed cannot approve before the next read."""

from __future__ import annotations

from typing import Any

from bot.workflow import NumbersService


def _user_ids(value: Any) -> list[str]:
    """The user ids in an event's list, ignoring anything that is not one."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str) and 0 < len(v) <= 32 and v.isalnum()]


async def usergroup_changed(body: dict[str, Any], service: NumbersService) -> None:
    # bolt acknowledged the event already (and checked Slack's signature).
    event = body.get("event") or {}
    group = event.get("subteam_id")
    if not isinstance(group, str) or not group:
        return
    service.usergroup_changed(
        group, _user_ids(event.get("removed_users")), _user_ids(event.get("added_users"))
    )

"""handlers/directory.py: user-group members from usergroups.users.list, against the fake Slack
on loopback through numbot's own Slack client; and ApproverSet over it, with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.settings import load_settings
from bot.process.wiring import build_slack_client
from bot.workflow.approvers import MAX_AGE, ApproverSet
from handlers.directory import DirectoryError, SlackDirectory
from tests.fakes.serve import free_port
from tests.fakes.slack_api import FakeSlack

BOT_TOKEN = "xoxb-directory-test"
FINANCE = "S0FINANCE"
BOB, CAROL = "U0BOB", "U0CAROL"


@pytest.fixture(scope="module")
def served() -> Iterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN)
    with fake.serve():
        yield fake


@pytest.fixture
def slack(served: FakeSlack) -> Iterator[FakeSlack]:
    served.reset()
    served.set_group(FINANCE, [BOB, CAROL])
    yield served
    served.set_group(FINANCE, None)


@pytest.fixture
def directory(slack: FakeSlack) -> SlackDirectory:
    settings = load_settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=slack.api_url)
    return SlackDirectory(build_slack_client(settings))


async def test_reads_a_group_s_members(slack, directory):
    assert await directory.group_members(FINANCE) == {BOB, CAROL}
    [call] = slack.calls("usergroups.users.list")
    assert call.body["usergroup"] == FINANCE
    assert call.body.get("include_disabled") in ("0", "false")  # never disabled groups
    assert call.token == BOT_TOKEN


async def test_an_unknown_group_is_a_clear_error(slack, directory):
    with pytest.raises(DirectoryError) as caught:
        await directory.group_members("S0NOPE")
    assert str(caught.value) == (
        "could not read the members of user group S0NOPE: Slack has no such user group "
        "(or it is disabled)"
    )


async def test_a_missing_scope_names_the_scope(slack, directory):
    slack.fail("usergroups.users.list", "missing_scope", status=200)
    with pytest.raises(DirectoryError, match="lacks the usergroups:read scope"):
        await directory.group_members(FINANCE)


async def test_another_slack_error_is_named_by_its_code(slack, directory):
    slack.fail("usergroups.users.list", "ratelimited_forever", status=200)
    with pytest.raises(DirectoryError, match="Slack answered ratelimited_forever"):
        await directory.group_members(FINANCE)


async def test_an_answer_without_users_is_an_error(slack, directory):
    slack.set_response("usergroups.users.list", {"ok": True, "users": "U0BOB"})
    with pytest.raises(DirectoryError, match="no list of users"):
        await directory.group_members(FINANCE)


async def test_slack_unreachable_is_an_error():
    url = f"http://127.0.0.1:{free_port()}/api/"
    client = AsyncWebClient(token=BOT_TOKEN, base_url=url, retry_handlers=[])
    with pytest.raises(DirectoryError, match=r"could not reach Slack \(\w+\)"):
        await SlackDirectory(client).group_members(FINANCE)


async def test_a_slow_slack_is_an_error_after_the_timeout():
    class Slow:
        async def usergroups_users_list(self, **_: Any) -> dict[str, Any]:
            await asyncio.sleep(10)
            return {"ok": True, "users": []}

    with pytest.raises(DirectoryError, match=r"Slack did not answer within 0\.05 s"):
        await SlackDirectory(Slow(), timeout=0.05).group_members(FINANCE)


async def test_someone_removed_from_a_group_in_slack_cannot_approve_after_max_age(slack, directory):
    """End to end below the workflow: the card was posted while Carol was in the group; an
    admin removes her; her click after the cache's age is refused, without a restart."""
    now = [0.0]
    approvers = ApproverSet(frozenset(), (FINANCE,), directory, monotonic=lambda: now[0])
    assert await approvers.includes(CAROL)
    slack.set_group(FINANCE, [BOB])
    now[0] += MAX_AGE
    assert not await approvers.includes(CAROL)
    assert await approvers.includes(BOB)
    assert len(slack.calls("usergroups.users.list")) == 2
    assert await approvers.everyone() == {BOB}


async def test_when_slack_fails_only_the_named_may_approve(slack, directory):
    approvers = ApproverSet(frozenset({"U0ALICE"}), (FINANCE,), directory)
    slack.fail("usergroups.users.list", "internal_error", times=None, status=200)
    assert not await approvers.includes(BOB)
    assert await approvers.includes("U0ALICE")

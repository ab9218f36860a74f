"""How Slack's answers reach /healthz: the Web API client's observer, auth.test at start and
the periodic re-check (bot/slack/outbound.py, bot/slack/auth.py), against the fake Slack."""

import asyncio

import pytest
from slack_sdk.errors import SlackApiError

from bot.ops.health import SlackStatus
from bot.slack import auth as slack_auth
from bot.slack.auth import TokenRejected, check_token, watch_token
from bot.slack.outbound import RedactingWebClient
from tests.fakes.serve import free_port
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-unit-test-token-0000"


@pytest.fixture
def slack():
    fake = FakeSlack(bot_token=TOKEN)
    with fake.serve():
        yield fake


def client_for(url: str, status: SlackStatus) -> RedactingWebClient:
    client = RedactingWebClient(token=TOKEN, base_url=url, timeout=2)
    client.observer = status
    return client


async def test_each_call_tells_the_status(slack):
    status = SlackStatus()
    client = client_for(slack.api_url, status)
    await client.chat_postMessage(channel="C1", text="hi")
    assert status.state == "ok" and status.last_ok
    slack.fail("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="hi")
    assert status.state == "ok"  # a refusal of the call, not of the token
    slack.revoke("account_inactive")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="hi")
    assert (status.state, status.error) == ("rejected", "account_inactive")


async def test_a_call_with_another_token_says_nothing_of_the_bot_token(slack):
    slack.app_token = "xapp-1-right"
    status = SlackStatus()
    client = client_for(slack.api_url, status)
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await client.apps_connections_open(app_token="xapp-1-wrong")
    assert status.state == "unknown"


async def test_check_token_at_start(slack):
    status = SlackStatus()
    assert (await check_token(client_for(slack.api_url, status), status))["ok"]
    slack.revoke("token_revoked")
    with pytest.raises(TokenRejected, match=r"rejected SLACK_BOT_TOKEN at start \(token_revoked\)"):
        await check_token(client_for(slack.api_url, status), status)
    assert status.rejected


async def test_an_unreachable_slack_is_no_rejection():
    status = SlackStatus()
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    assert await check_token(client_for(nowhere, status), status) is None
    assert status.state == "unreachable" and not status.rejected


async def test_the_watch_notices_a_revocation_and_a_recovery(slack, monkeypatch):
    monkeypatch.setattr(slack_auth, "RECHECK_SECONDS", 0.05)
    monkeypatch.setattr(slack_auth, "RETRY_SECONDS", 0.05)
    status = SlackStatus()
    status.answered()
    answers = []
    watching = asyncio.create_task(
        watch_token(client_for(slack.api_url, status), status, answers.append)
    )
    try:
        slack.revoke("token_revoked")
        await wait_until(lambda: status.rejected)
        slack.revoke(None)
        await wait_until(lambda: status.state == "ok" and answers)
    finally:
        watching.cancel()


async def wait_until(condition, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)

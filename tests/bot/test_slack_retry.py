"""bot/slack/retry.py: numbot's Slack client rides out 429s (honouring Retry-After) and stops
waiting when Slack asks for too long, against the fake Slack Web API on loopback."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.settings import load_settings
from bot.process.wiring import build_slack_client
from bot.slack.retry import (
    MAX_RETRY_AFTER,
    RATE_LIMIT_RETRIES,
    CappedRateLimitRetryHandler,
    retry_after,
    slack_retry_handlers,
)
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-retry-test"


@pytest.fixture(scope="module")
def served() -> Iterator[FakeSlack]:
    fake = FakeSlack(bot_token=TOKEN)
    with fake.serve():
        yield fake


@pytest.fixture
def slack(served: FakeSlack) -> FakeSlack:
    served.reset()
    return served


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The up-to-a-second jitter off, so waits are exactly what Slack asked for."""
    monkeypatch.setattr("bot.slack.retry.random.random", lambda: 0.0)


def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(
        token=TOKEN, base_url=slack.api_url, retry_handlers=slack_retry_handlers()
    )


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "1.5"}, 1.5),  # slack_sdk's own handler raises ValueError on this
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1.0),
        ({"Retry-After": "nan"}, math.inf),  # never "retry at once"
        ({}, 1.0),
    ],
)
def test_retry_after_is_read_leniently(headers: dict[str, str], seconds: float) -> None:
    assert retry_after(HttpResponse(status_code=429, headers=headers)) == seconds


async def test_a_rate_limited_call_waits_retry_after_then_succeeds(
    slack: FakeSlack, no_jitter: None
) -> None:
    slack.fail("chat.postMessage", "ratelimited", times=2, status=429, retry_after=1)
    started = time.monotonic()
    response = await client(slack).chat_postMessage(channel="C0CARDS", text="card")
    assert response["ok"] and time.monotonic() - started >= 1.9  # waited 1 s, twice
    attempts = slack.calls("chat.postMessage")
    assert [c.status for c in attempts] == [429, 429, 200]
    assert attempts[2].at - attempts[1].at >= 0.9


async def test_retries_stop_after_the_cap(slack: FakeSlack, no_jitter: None) -> None:
    slack.fail("chat.postMessage", "ratelimited", times=None, status=429, retry_after=0)
    with pytest.raises(SlackApiError) as caught:
        await client(slack).chat_postMessage(channel="C0CARDS", text="card")
    assert caught.value.response.status_code == 429
    assert len(slack.calls("chat.postMessage")) == 1 + RATE_LIMIT_RETRIES


async def test_a_retry_after_longer_than_the_cap_fails_at_once(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=MAX_RETRY_AFTER + 1)
    started = time.monotonic()
    with pytest.raises(SlackApiError):
        await client(slack).chat_postMessage(channel="C0CARDS", text="card")
    assert len(slack.calls("chat.postMessage")) == 1
    assert time.monotonic() - started < MAX_RETRY_AFTER  # it did not wait


async def test_other_errors_are_not_retried(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError):
        await client(slack).chat_postMessage(channel="C0CARDS", text="card")
    assert len(slack.calls("chat.postMessage")) == 1


def test_the_bot_client_has_the_handlers() -> None:
    settings = load_settings(_env_file=None, SLACK_BOT_TOKEN=TOKEN)
    kinds = [type(h).__name__ for h in build_slack_client(settings).retry_handlers]
    assert kinds == [CappedRateLimitRetryHandler.__name__, "AsyncConnectionErrorRetryHandler"]

"""The fake Slack and the request builders behave like Slack, as slack_sdk and Bolt see it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from handlers import ids
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    block_action_body,
    signed_headers,
    slash_command_body,
    slash_command_payload,
    socket_envelope,
    view_submission_body,
)

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
SECRET = "test-signing-secret"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*+1 415 555 0100*"}}]


@pytest.fixture(scope="module")
def served() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    with fake.serve():
        yield fake


@pytest.fixture
def fake(served: FakeSlack) -> FakeSlack:
    served.reset()
    return served


def web(fake: FakeSlack, token: str | None = BOT_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.api_url)


# --------------------------------------------------------------------------- Web API


async def test_post_update_and_open_view(fake: FakeSlack) -> None:
    client = web(fake)
    auth = await client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0001", "U0BOT", "B0BOT")

    first = await client.chat_postMessage(channel="C0CHAN", text="fallback", blocks=BLOCKS)
    second = await client.chat_postMessage(channel="C0CHAN", text="again")
    assert first["ts"].startswith("1700000000.") and first["ts"] < second["ts"]
    assert first["channel"] == "C0CHAN"
    assert first["message"]["blocks"] == BLOCKS

    await client.chat_update(channel="C0CHAN", ts=first["ts"], text="done", blocks=[])
    opened = await client.views_open(
        trigger_id="1.2.abc", view={"type": "modal", "callback_id": "cb", "blocks": []}
    )
    assert opened["view"]["callback_id"] == "cb"

    [post, _] = fake.calls("chat.postMessage")
    assert post.body["blocks"] == BLOCKS  # slack_sdk sends chat.* as JSON
    assert post.content_type.startswith("application/json")
    assert post.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    [update] = fake.calls("chat.update")
    assert update.body["ts"] == first["ts"]
    assert fake.calls("views.open")[0].body["view"]["type"] == "modal"
    assert fake.tokens_seen() == {BOT_TOKEN}


async def test_views_publish_is_recorded_and_checked_as_slack_does(fake: FakeSlack) -> None:
    from slack_sdk.errors import SlackApiError

    client = web(fake)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
    published = await client.views_publish(
        user_id="U0ALICE", view={"type": "home", "blocks": [section]}
    )
    assert published["view"]["type"] == "home"
    for view in ({"type": "home", "blocks": [section] * 101}, {"type": "modal", "blocks": []}):
        with pytest.raises(SlackApiError) as refused:
            await client.views_publish(user_id="U0ALICE", view=view)
        assert refused.value.response["error"] == "invalid_blocks"
    [home] = fake.homes("U0ALICE")[:1]
    assert home.body["view"]["blocks"] == [section] and fake.homes("U0BOB") == []


async def test_query_and_form_bodies_are_decoded(fake: FakeSlack) -> None:
    client = web(fake)
    dm = await client.conversations_open(users="U0ALICE")  # form/query params, not JSON
    assert dm["channel"]["id"] == "D0ALICE"
    user = await client.users_info(user="U0ALICE")  # GET with a query string
    assert user["user"]["id"] == "U0ALICE"
    ephemeral = await client.api_call(
        "chat.postEphemeral",
        data={"channel": "C0CHAN", "user": "U0ALICE", "blocks": json.dumps(BLOCKS)},
    )
    assert ephemeral["message_ts"]
    await client.api_call("reactions.add", params={"name": "tada"})  # unknown: ok, recorded

    assert fake.calls("conversations.open")[0].body["users"] == "U0ALICE"
    assert fake.calls("users.info")[0].http_method == "GET"
    assert fake.calls("chat.postEphemeral")[0].body["blocks"] == BLOCKS
    assert fake.calls("reactions.add")[0].body == {"name": "tada"}


async def test_fail_then_recover(fake: FakeSlack) -> None:
    client = web(fake)
    fake.fail("chat.postMessage", error="channel_not_found", times=1)
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C0GONE", text="hi")
    assert err.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C0GONE", text="hi"))["ok"]
    assert [c.ok for c in fake.calls("chat.postMessage")] == [False, True]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_tokens_are_checked(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError, match="not_authed"):
        await web(fake, token=None).chat_postMessage(channel="C0CHAN", text="hi")
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await web(fake, token=APP_TOKEN).chat_postMessage(channel="C0CHAN", text="hi")
    with pytest.raises(SlackApiError, match="no_text"):
        await web(fake).chat_postMessage(channel="C0CHAN")


async def test_response_url(fake: FakeSlack) -> None:
    webhook = AsyncWebhookClient(fake.response_url("r1"))
    resp = await webhook.send(text="Held +1 415 555 0100", blocks=BLOCKS, replace_original=True)
    assert resp.status_code == 200
    [call] = await fake.async_wait_for("response_url")
    assert call.response_id == "r1"
    assert call.body["replace_original"] is True
    assert call.body["blocks"] == BLOCKS
    assert "authorization" not in call.headers  # no token goes to response_urls
    assert fake.responses("r1") == [call]

    fake.fail("response_url", error="expired_url", status=404)
    assert (await webhook.send(text="late")).status_code == 404


def test_wait_for_times_out_with_a_dump(fake: FakeSlack) -> None:
    with pytest.raises(AssertionError, match=r"0 call\(s\) received"):
        fake.wait_for("chat.postMessage", timeout=0.05)


# --------------------------------------------------------------------------- Socket Mode


async def test_socket_mode_round_trip(fake: FakeSlack) -> None:
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web(fake, token=None))
    seen: list[SocketModeRequest] = []

    async def listener(c: Any, req: SocketModeRequest) -> None:
        seen.append(req)
        await c.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload={"text": "on it"})
        )

    client.socket_mode_request_listeners.append(listener)
    await client.connect()
    try:
        await fake.async_wait_for_socket_connection()
        payload = slash_command_payload("search 415", "U0ALICE")
        envelope_id = fake.socket_send(socket_envelope("slash_commands", payload))
        ack = await fake.async_wait_for_socket_ack(envelope_id)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "on it"}}
        assert seen[0].type == "slash_commands"
        assert seen[0].accepts_response_payload is True
        assert seen[0].payload["command"] == ids.COMMAND

        # Slack's `disconnect` makes the client fetch a fresh URL and reconnect.
        fake.socket_disconnect()
        await fake.async_wait_for_socket_connection(count=2)
        again = fake.socket_send(socket_envelope("slash_commands", payload))
        await fake.async_wait_for_socket_ack(again)
    finally:
        await client.close()
    opens = fake.calls("apps.connections.open")
    assert len(opens) == 2
    assert {c.token for c in opens} == {APP_TOKEN}


# --------------------------------------------------------------------------- request builders


def test_signed_headers_verify() -> None:
    body = slash_command_body("help", "U0ALICE")
    headers = signed_headers(body, SECRET)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    stale = signed_headers(body, SECRET, timestamp=int(time.time()) - 600)
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)


def test_slash_command_body_is_slack_form() -> None:
    body = slash_command_body("assign +14155550100 <@U0BOB>", "U0ALICE", response_url="http://x/r")
    assert "command=%2Fnumbers" in body
    fields = {k: v[0] for k, v in parse_qs(body).items()}
    assert fields["text"] == "assign +14155550100 <@U0BOB>"
    assert fields["user_id"] == "U0ALICE"
    assert fields["channel_id"] == "C0CHAN"
    assert fields["response_url"] == "http://x/r"


async def test_bolt_accepts_the_built_requests(fake: FakeSlack) -> None:
    """Real Bolt verifies the signatures and routes each body to the right listener."""
    app = AsyncApp(client=web(fake), signing_secret=SECRET)
    got: dict[str, Any] = {}

    @app.command(ids.COMMAND)
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        got["command"] = command["text"]
        await ack()

    @app.action(ids.APPROVE)
    async def on_approve(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        got["approve"] = (action["value"], body["container"]["message_ts"], body["user"]["id"])
        await ack()

    @app.action(ids.ASSIGN_AGENT)
    async def on_select(ack: Any, action: dict[str, Any]) -> None:
        got["select"] = action["selected_option"]["value"]
        await ack()

    @app.view(ids.PURCHASE_REASON_VIEW)
    async def on_view(ack: Any, view: dict[str, Any]) -> None:
        state = view["state"]["values"]
        got["view"] = (state[ids.REASON_BLOCK][ids.REASON_INPUT]["value"], view["private_metadata"])
        await ack()

    async def dispatch(body: str) -> int:
        req = AsyncBoltRequest(body=body, headers=signed_headers(body, SECRET))
        return (await app.async_dispatch(req)).status

    common = {"response_url": fake.response_url("a"), "channel_id": "C0CHAN"}
    assert await dispatch(slash_command_body("wallet", "U0ALICE")) == 200
    approve = block_action_body(
        ids.APPROVE, "req-1", "U0BOB", message_ts="1700000000.000300", **common
    )
    assert await dispatch(approve) == 200
    select = block_action_body(
        ids.ASSIGN_AGENT,
        None,
        "U0BOB",
        message_ts="1700000000.000300",
        selected_option_value="agent-7",
        **common,
    )
    assert await dispatch(select) == 200
    submit = view_submission_body(
        ids.PURCHASE_REASON_VIEW,
        {ids.REASON_BLOCK: {ids.REASON_INPUT: "new sales line"}},
        "U0ALICE",
        private_metadata='{"hold": 1}',
    )
    assert await dispatch(submit) == 200

    bad = slash_command_body("wallet", "U0ALICE")
    forged = AsyncBoltRequest(body=bad, headers=signed_headers(bad, "wrong-secret"))
    assert (await app.async_dispatch(forged)).status == 401

    socket = AsyncBoltRequest(mode="socket_mode", body=slash_command_payload("list", "U0ALICE"))
    assert (await app.async_dispatch(socket)).status == 200

    assert got == {
        "command": "list",
        "approve": ("req-1", "1700000000.000300", "U0BOB"),
        "select": "agent-7",
        "view": ("new sales line", '{"hold": 1}'),
    }

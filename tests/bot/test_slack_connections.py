"""bot/slack/outbound.py: every call to Slack, Web API and response_url alike, reuses one pool of
kept-alive connections instead of opening a session (and a socket) per call."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.config.settings import load_settings
from bot.process.wiring import build_slack_client
from bot.slack.outbound import (
    BACKGROUND_SLACK_CONNECTIONS,
    RedactingWebClient,
    SafeRespond,
    SlackConnections,
    slack_connection_limit,
)
from tests.fakes.serve import serve_in_thread


def _recording_slack() -> tuple[Starlette, list[tuple[str, int]]]:
    seen: list[tuple[str, int]] = []

    async def api(request: Request) -> JSONResponse:
        assert request.client is not None
        seen.append((request.url.path, request.client.port))
        return JSONResponse({"ok": True, "channel": "C1", "ts": "1.0"})

    async def hook(request: Request) -> JSONResponse:
        assert request.client is not None
        seen.append((request.url.path, request.client.port))
        return JSONResponse({"ok": True})

    routes = [Route("/api/{method}", api, methods=["POST"]), Route("/hook", hook, methods=["POST"])]
    return Starlette(routes=routes), seen


def test_calls_and_replies_share_one_kept_alive_connection() -> None:
    app, seen = _recording_slack()
    with serve_in_thread(app) as base:

        async def talk() -> None:
            connections = SlackConnections(timeout=5, limit=8)
            client = RedactingWebClient(
                connections=connections, token="xoxb-test", base_url=base + "/api/"
            )
            respond = SafeRespond(response_url=base + "/hook", connections=connections)
            try:
                for _ in range(3):
                    await client.chat_postMessage(channel="C1", text="hello")
                    await respond(text="done")
                assert client.session is connections.session()
            finally:
                await connections.aclose()
            assert client.session is not None and client.session.closed

        asyncio.run(talk())

    assert [path for path, _ in seen] == ["/api/chat.postMessage", "/hook"] * 3
    assert len({port for _, port in seen}) == 1  # one socket for all six


def test_a_new_loop_gets_a_new_session() -> None:
    """aiohttp binds a session to the loop it was made in: a second asyncio.run (the CLI, a
    test) must not be handed the first loop's session, closed or not."""
    connections = SlackConnections(timeout=5, limit=8)
    made: list[object] = []

    async def one(close: bool) -> None:
        session = connections.session()
        assert connections.session() is session
        made.append(session)
        if close:
            await connections.aclose()

    asyncio.run(one(close=True))
    asyncio.run(one(close=True))
    assert made[0] is not made[1]


def test_a_reply_is_still_redacted_over_the_shared_session() -> None:
    app, _ = _recording_slack()
    bodies: list[bytes] = []

    async def hook(request: Request) -> JSONResponse:
        bodies.append(await request.body())
        return JSONResponse({"ok": True})

    app.router.routes.append(Route("/echo", hook, methods=["POST"]))
    with serve_in_thread(app) as base:

        async def reply() -> None:
            connections = SlackConnections(timeout=5, limit=8)
            try:
                await SafeRespond(response_url=base + "/echo", connections=connections)(
                    text="key flowyte_sk_live_abcdef leaked"
                )
            finally:
                await connections.aclose()

        asyncio.run(reply())
    assert b"flowyte_sk_live" not in bodies[0] and b"***" in bodies[0]


def test_the_pool_has_a_connection_for_every_reply_in_progress_and_the_background() -> None:
    settings = load_settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test", NUMBOT_MAX_IN_FLIGHT=3)
    connections = build_slack_client(settings).connections
    assert connections is not None
    assert connections.limit == slack_connection_limit(3) == 3 + BACKGROUND_SLACK_CONNECTIONS


def test_as_many_replies_as_the_pool_allows_are_in_progress_at_once() -> None:
    """No reply waits for another's connection: the hook answers only once every reply has
    arrived, which a pool smaller than the replies in progress would never let happen."""
    replies = slack_connection_limit(2)
    arrived = 0
    gave_up = 0
    everyone = asyncio.Event()  # the fake's loop is the only one to touch it

    async def hook(request: Request) -> JSONResponse:
        nonlocal arrived, gave_up
        arrived += 1
        if arrived == replies:
            everyone.set()
        try:
            await asyncio.wait_for(everyone.wait(), 5)
        except TimeoutError:
            gave_up += 1
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve_in_thread(app) as base:

        async def reply_all() -> list[int]:
            connections = SlackConnections(timeout=15, limit=replies)
            try:
                answers = await asyncio.gather(
                    *(
                        SafeRespond(response_url=base + "/hook", connections=connections)(text="x")
                        for _ in range(replies)
                    )
                )
            finally:
                await connections.aclose()
            return [answer.status_code for answer in answers]

        assert asyncio.run(reply_all()) == [200] * replies
    assert arrived == replies and gave_up == 0

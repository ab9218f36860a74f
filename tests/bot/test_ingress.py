"""bot/ingress: size, deadline, signature, encoding and shape, checked before bolt parses a byte.

The endpoint runs in a Starlette app over httpx's ASGI transport, with a stand-in for bolt that
records what it is given; bolt's own AsyncBoltRequest parses it, so these tests show what bolt
would read.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_bolt.response import BoltResponse
from starlette.applications import Starlette
from starlette.routing import Route

from bot.slack.ingress import Limits, SlackIngress
from bot.slack.ingress.body import (
    FORM,
    JSON,
    BoltBody,
    for_bolt,
    form_without_the_word,
    is_ssl_check,
)
from bot.slack.ingress.reading import BodyBudget, declared_too_large
from bot.slack.ingress.refusal import Refusal
from bot.slack.ingress.signature import (
    BAD_SIGNATURE,
    BAD_TIMESTAMP,
    MISSING,
    STALE,
    SignedHeaders,
    check_headers,
    signature_matches,
)
from tests.fakes.slack_requests import (
    block_action_body,
    signed_headers,
    slash_command_body,
    slash_command_payload,
)

SECRET = "unit-signing-secret-0123456789abcdef"
NOW = 1_800_000_000


# --------------------------------------------------------------------------- signature


def signed(body: str, secret: str = SECRET, timestamp: int = NOW) -> SignedHeaders:
    headers = signed_headers(body, secret, timestamp)
    result = check_headers(
        headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"], now=NOW
    )
    assert isinstance(result, SignedHeaders)
    return result


def signed_bytes(raw: bytes, content_type: str = FORM) -> dict[str, str]:
    """Slack's headers for a body that is not UTF-8 text (signed_headers signs text)."""
    digest = hmac.new(SECRET.encode(), b"v0:%d:" % NOW + raw, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(NOW),
        "X-Slack-Signature": f"v0={digest}",
    }


def test_slacks_signature_matches_and_any_change_does_not():
    body = slash_command_body("wallet", "U0ALICE")
    headers = signed(body)
    assert signature_matches(SECRET.encode(), headers, body.encode())
    assert not signature_matches(SECRET.encode(), headers, (body + "&x=1").encode())
    assert not signature_matches(b"another-secret", headers, body.encode())
    other_time = SignedHeaders(str(NOW + 1), headers.signature)
    assert not signature_matches(SECRET.encode(), other_time, body.encode())


def test_the_signature_covers_the_raw_bytes_not_a_decoding_of_them():
    raw = b"text=caf\xe9"  # Latin-1, as a careless client would send it
    of_bytes = signed_bytes(raw)["X-Slack-Signature"]
    assert signature_matches(SECRET.encode(), SignedHeaders(str(NOW), of_bytes), raw)
    of_text = signed_headers(raw.decode("latin-1"), SECRET, NOW)["X-Slack-Signature"]
    assert not signature_matches(SECRET.encode(), SignedHeaders(str(NOW), of_text), raw)


@pytest.mark.parametrize(
    ("timestamp", "signature", "refusal"),
    [
        (None, "v0=" + "a" * 64, MISSING),
        (str(NOW), None, MISSING),
        (None, None, MISSING),
        ("", "v0=" + "a" * 64, BAD_TIMESTAMP),
        ("abc", "v0=" + "a" * 64, BAD_TIMESTAMP),
        ("1.8e9", "v0=" + "a" * 64, BAD_TIMESTAMP),
        (f"{NOW}.5", "v0=" + "a" * 64, BAD_TIMESTAMP),
        (f" {NOW}", "v0=" + "a" * 64, BAD_TIMESTAMP),
        (f"+{NOW}", "v0=" + "a" * 64, BAD_TIMESTAMP),
        (f"-{NOW}", "v0=" + "a" * 64, BAD_TIMESTAMP),
        ("1_800_000_000", "v0=" + "a" * 64, BAD_TIMESTAMP),
        ("١٨٠٠٠٠٠٠٠٠", "v0=" + "a" * 64, BAD_TIMESTAMP),  # Arabic-Indic digits: int() takes them
        ("9" * 400, "v0=" + "a" * 64, BAD_TIMESTAMP),
        (str(NOW - 301), "v0=" + "a" * 64, STALE),
        (str(NOW + 301), "v0=" + "a" * 64, STALE),
        ("0", "v0=" + "a" * 64, STALE),
        (str(NOW), "", BAD_SIGNATURE),
        (str(NOW), "garbage", BAD_SIGNATURE),
        (str(NOW), "v1=" + "a" * 64, BAD_SIGNATURE),
        (str(NOW), "v0=" + "A" * 64, BAD_SIGNATURE),
        (str(NOW), "v0=" + "a" * 63, BAD_SIGNATURE),
        (str(NOW), "v0=" + "a" * 64 + "\n", BAD_SIGNATURE),
        (str(NOW), "v0=" + "é" * 64, BAD_SIGNATURE),
    ],
)
def test_headers_without_a_well_formed_fresh_signature_are_refused(timestamp, signature, refusal):
    assert check_headers(timestamp, signature, now=NOW) == refusal


def test_five_minutes_either_way_is_still_fresh():
    for timestamp in (NOW - 300, NOW + 300):
        assert isinstance(check_headers(str(timestamp), "v0=" + "0" * 64, now=NOW), SignedHeaders)


# --------------------------------------------------------------------------- body for bolt


def bolt_reads(body: BoltBody) -> dict[str, Any]:
    """What bolt's own parser makes of what the ingress hands it."""
    return parse_body(body.text, body.content_type)


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "release +14155550123 payload team moved"},
        {"channel_name": "payload-ops"},
        {"user_name": "payload"},
        {"team_domain": "payloadco"},
        {"text": "payload={}"},
    ],
)
def test_a_slash_command_mentioning_payload_reads_as_the_command_it_is(fields):
    payload = slash_command_payload("help", "U0ALICE")
    payload.update(fields)
    raw = urlencode(payload)
    assert bolt_reads(BoltBody(raw, FORM)) == {}  # bolt unaided: no `payload` field, nothing

    body = for_bolt(raw.encode(), FORM)
    assert isinstance(body, BoltBody)
    assert "payload" not in body.text
    assert bolt_reads(body) == payload


def test_an_interaction_is_its_payload_field_as_json():
    raw = block_action_body("numbers_approve", "req-1", "U0BOB")
    payload = json.loads(dict(parse_qsl(raw))["payload"])
    body = for_bolt(raw.encode(), FORM)
    assert body == BoltBody(
        urlencode({"payload": json.dumps(payload, separators=(",", ":"))}), FORM
    )
    assert isinstance(body, BoltBody) and bolt_reads(body) == payload


def test_json_is_passed_on_as_json_whatever_its_content_type_says_in_detail():
    raw = '{"type": "url_verification", "challenge": "payload"}'
    for content_type in ("application/json", "Application/JSON; charset=utf-8"):
        body = for_bolt(raw.encode(), content_type)
        assert body == BoltBody(raw, JSON)
        assert isinstance(body, BoltBody) and bolt_reads(body)["challenge"] == "payload"


@pytest.mark.parametrize(
    ("raw", "content_type", "reason"),
    [
        (b"text=caf\xe9", FORM, "not UTF-8"),
        (b"\xff\xfe{}", JSON, "not UTF-8"),
        (b'{"type": "url_verification"', JSON, "not a JSON object"),
        (b"[1, 2]", JSON, "not a JSON object"),
        (b"", JSON, "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, JSON, "not a JSON object"),
        (b"payload=%7Bnot+json", FORM, "payload is not a JSON object"),
        (b"payload=%5B%5D", FORM, "payload is not a JSON object"),
        (b"payload=%7B%7D&payload=%7B%7D", FORM, "more than one payload"),
    ],
)
def test_what_bolt_would_choke_on_is_a_400(raw, content_type, reason):
    refusal = for_bolt(raw, content_type)
    assert isinstance(refusal, Refusal) and refusal.status == 400
    assert reason in refusal.reason


def test_bad_percent_escapes_read_as_bolt_reads_them():
    raw = "text=50%25+off+%ZZ+%ED%A0%80&user_name=payload"  # %ED%A0%80: a UTF-8 surrogate
    body = for_bolt(raw.encode(), FORM)
    assert isinstance(body, BoltBody)
    assert bolt_reads(body) == dict(parse_qsl(raw, keep_blank_values=True))


SLACK_FIELDS = st.sampled_from(
    ["token", "team_domain", "channel_name", "user_name", "text", "command", "response_url"]
)


@given(st.lists(st.tuples(SLACK_FIELDS, st.text()), min_size=1, unique_by=lambda f: f[0]))
def test_re_encoded_forms_never_show_the_word_and_read_back_exactly(fields):
    text = form_without_the_word(fields)
    assert "payload" not in text and not text.startswith("{")
    assert parse_qsl(text, keep_blank_values=True) == fields
    assert parse_body(text, FORM) == dict(fields)


# --------------------------------------------------------------------------- reading limits


def test_a_declared_length_over_the_limit_is_known_before_reading():
    limits = Limits(max_body=100)
    assert declared_too_large("101", limits)
    assert not declared_too_large("100", limits)
    assert not declared_too_large(None, limits)
    assert not declared_too_large("１０１", limits)  # not ASCII digits: the server's to refuse


def test_the_budget_caps_bytes_held_at_once():
    budget = BodyBudget(10)
    assert budget.take(6) and not budget.take(5) and budget.take(4)
    budget.give(6)
    assert budget.take(5) and budget.used == 9


# --------------------------------------------------------------------------- the endpoint


class RecordingBolt:
    """Stands in for AsyncApp: keeps the requests it is given (bolt's own request type)."""

    def __init__(self) -> None:
        self.requests: list[AsyncBoltRequest] = []

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        self.requests.append(req)
        return BoltResponse(status=200, body="handled")


class Body:
    """A request body sent in chunks, `pause` seconds apart; counts what was pulled from it."""

    def __init__(self, chunks: list[bytes], pause: float = 0.0) -> None:
        self.chunks = chunks
        self.pause = pause
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            if self.pause:
                await asyncio.sleep(self.pause)
            self.sent += len(chunk)
            yield chunk


@pytest.fixture
def bolt() -> RecordingBolt:
    return RecordingBolt()


def client_for(bolt: RecordingBolt, **limits: Any) -> httpx.AsyncClient:
    ingress = SlackIngress(bolt, SECRET, limits=Limits(**limits), clock=lambda: NOW)
    app = Starlette(routes=[Route("/slack/events", ingress.handle, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://numbot")


async def post(
    bolt: RecordingBolt, content: Any, headers: dict[str, str], **limits: Any
) -> httpx.Response:
    async with client_for(bolt, **limits) as client:
        return await client.post("/slack/events", content=content, headers=headers)


async def test_a_signed_command_reaches_bolt_as_sent(bolt):
    body = slash_command_body("release +14155550123 payload team moved", "U0ALICE")
    response = await post(bolt, body, signed_headers(body, SECRET, NOW))
    assert response.status_code == 200 and response.text == "handled"
    [request] = bolt.requests
    assert request.body["text"] == "release +14155550123 payload team moved"
    assert request.body["command"] == "/numbers"
    assert request.content_type == FORM


async def test_bolts_internal_headers_are_not_passed_on(bolt):
    body = slash_command_body("help", "U0ALICE")
    headers = {**signed_headers(body, SECRET, NOW), "X-Slack-Bolt-Lazy-Only": "1"}
    assert (await post(bolt, body, headers)).status_code == 200
    [request] = bolt.requests
    assert request.lazy_only is False


async def test_a_declared_oversize_body_is_refused_unread(bolt):
    body = Body([b"x" * 1000] * 200)
    headers = {**signed_headers("", SECRET, NOW), "Content-Length": str(200_000)}
    response = await post(bolt, body, headers, max_body=100_000)
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert body.sent == 0 and bolt.requests == []


async def test_an_undeclared_oversize_body_is_cut_off_at_the_limit(bolt):
    body = Body([b"x" * 1000] * 1000)  # 1 MB, chunked: no Content-Length
    response = await post(bolt, body, signed_headers("", SECRET, NOW), max_body=10_000)
    assert response.status_code == 413
    assert body.sent <= 10_000 + 1000
    assert bolt.requests == []


async def test_a_dripping_body_is_cut_off_at_the_deadline(bolt):
    body = Body([b"x"] * 200, pause=0.05)  # would take 10 s
    response = await post(bolt, body, signed_headers("", SECRET, NOW), read_seconds=0.3)
    assert response.status_code == 408
    assert response.headers["connection"] == "close"
    assert body.sent < 200 and bolt.requests == []


async def test_bodies_beyond_the_shared_budget_get_503_and_give_it_back(bolt):
    payload = slash_command_body("help", "U0ALICE")
    headers = signed_headers(payload, SECRET, NOW)
    ingress = SlackIngress(
        bolt, SECRET, limits=Limits(in_flight=len(payload) - 1), clock=lambda: NOW
    )
    app = Starlette(routes=[Route("/slack/events", ingress.handle, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as c:
        response = await c.post("/slack/events", content=payload, headers=headers)
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert ingress._budget.used == 0
    roomy = SlackIngress(bolt, SECRET, limits=Limits(in_flight=len(payload)), clock=lambda: NOW)
    app = Starlette(routes=[Route("/slack/events", roomy.handle, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as c:
        assert (await c.post("/slack/events", content=payload, headers=headers)).status_code == 200
        assert roomy._budget.used == 0


async def test_a_client_that_goes_away_mid_body_is_let_go_quietly(bolt):
    ingress = SlackIngress(bolt, SECRET, clock=lambda: NOW)
    app = Starlette(routes=[Route("/slack/events", ingress.handle, methods=["POST"])])
    headers = signed_headers("", SECRET, NOW)
    messages = iter(
        [
            {"type": "http.request", "body": b"token=x", "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/slack/events",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"",
    }
    await app(scope, receive, send)  # raises nothing
    assert sent[0]["status"] == 400 and bolt.requests == []
    assert ingress._budget.used == 0


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        ("text=hi", {}, 401),
        (
            "text=hi",
            {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64},
            401,
        ),
        (
            "text=hi",
            {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=" + "0" * 64},
            401,
        ),
        (
            b"text=caf\xe9",
            {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=zz"},
            401,
        ),
        ("{oops", {"Content-Type": JSON, **signed_headers("{oops", "wrong", NOW)}, 401),
    ],
)
async def test_unsigned_and_badly_signed_requests_are_401_and_never_reach_bolt(
    bolt, content, headers, status, caplog
):
    response = await post(bolt, content, headers)
    assert response.status_code == status and bolt.requests == []
    assert response.text == "Unauthorized\n"
    [line] = [r for r in caplog.records if r.name == "bot.slack.ingress.endpoint"]
    assert "refused" in line.getMessage() and "hi" not in line.getMessage()


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"text=caf\xe9", FORM),
        (b'{"type": "event_callback"', JSON),
        (b"[]", JSON),
        (b"payload=not-json", FORM),
    ],
)
async def test_signed_but_malformed_bodies_are_400_and_never_reach_bolt(bolt, raw, content_type):
    response = await post(bolt, raw, signed_bytes(raw, content_type))
    assert response.status_code == 400 and bolt.requests == []


# --------------------------------------------------------------------------- ssl_check

# As Slack sends it and bolt-python's own tests capture it (tests/scenario_tests*/test_ssl_check.py):
# a form, no signature headers.
SSL_CHECK = "ssl_check=1&token=legacy-fixed-token"


async def test_slacks_unsigned_ssl_check_is_answered_200_and_never_reaches_bolt(bolt, caplog):
    response = await post(bolt, SSL_CHECK, {"Content-Type": FORM})
    assert response.status_code == 200 and response.text == ""
    assert bolt.requests == []
    assert not [r for r in caplog.records if "refused" in r.getMessage()]


async def test_a_signed_ssl_check_goes_to_bolt_which_answers_it_as_slack_expects(bolt):
    response = await post(bolt, SSL_CHECK, {**signed_headers(SSL_CHECK, SECRET, NOW)})
    assert response.status_code == 200
    [request] = bolt.requests
    assert request.body == {"ssl_check": "1", "token": "legacy-fixed-token"}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("ssl_check=1&token=x&command=%2Fnumbers&text=buy", FORM),  # a command riding along
        ("ssl_check=0&token=x", FORM),
        ("ssl_check=1&ssl_check=1", FORM),
        ("ssl_check=1&token=a&token=b", FORM),
        ('{"ssl_check": "1"}', JSON),
        ("ssl_check=1&token=" + "x" * 600, FORM),  # larger than any ssl_check: not read
        ("ssl_check=1&payload=%7B%7D", FORM),
    ],
)
async def test_anything_else_unsigned_is_still_refused(bolt, content, content_type):
    response = await post(bolt, content, {"Content-Type": content_type})
    assert response.status_code == 401 and bolt.requests == []


async def test_an_unsigned_body_larger_than_an_ssl_check_is_refused_unread(bolt):
    body = Body([b"ssl_check=1&token=" + b"x" * 1000])
    response = await post(bolt, body, {"Content-Type": FORM, "Content-Length": "1018"})
    assert response.status_code == 401 and body.sent == 0


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=5))
def test_only_ssl_check_and_a_token_make_an_ssl_check(fields):
    raw = urlencode(fields).encode()
    names = [name for name, _ in fields]
    expected = (
        names.count("ssl_check") == 1
        and dict(fields)["ssl_check"] == "1"
        and set(names) <= {"ssl_check", "token"}
        and names.count("token") <= 1
        and all(name for name in names)
    )
    assert is_ssl_check(raw, FORM) == expected

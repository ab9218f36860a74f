"""Hostile HTTP input, against the real `numbot run` process.

A body too big is refused before it is read, a slow one at the deadline, an unsigned or
malformed one with a 4xx and one log line; none of it reaches bolt, the audit log or the log
as text. A signed command that mentions "payload" is answered like any other.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import sqlite3
import threading
import time
from collections.abc import Callable

import httpx
import psutil
import pytest

from bot.process.serve import MAX_CONNECTIONS
from tests.e2e.harness import ALICE, SIGNING_SECRET, BotProcess, calls_made, reply, texts
from tests.fakes.slack_requests import block_action_body, slash_command_body

MiB = 1024 * 1024
FORGED = "2026-01-01 00:00:00,000 INFO bot.workflow: FORGED-BY-A-BODY approved by U0BOB"
MARKER = "FORGED-BY-A-BODY"


# --------------------------------------------------------------------------- helpers


def rss(bot: BotProcess) -> int:
    assert bot.proc is not None
    return int(psutil.Process(bot.proc.pid).memory_info().rss)


def wait_for_log(bot: BotProcess, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = bot.output()
        if text in output:
            return output
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log within {timeout}s:\n{bot.output()[-3000:]}")


def healthy(bot: BotProcess) -> bool:
    """/healthz answers, and promptly (a generous bound for a loaded machine)."""
    return httpx.get(bot.url + "/healthz", timeout=3).json()["ok"] is True


def fresh_headers(signature: str = "v0=" + "0" * 64) -> dict[str, str]:
    """Signature headers that pass the header checks (fresh, well formed) but sign nothing."""
    return {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": signature}


def open_request(bot: BotProcess, headers: dict[str, str]) -> socket.socket:
    """A raw POST /slack/events with these headers sent and the body still to come."""
    sock = socket.create_connection(("127.0.0.1", bot.port), timeout=30)
    lines = ["POST /slack/events HTTP/1.1", f"Host: 127.0.0.1:{bot.port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return sock


def read_head(sock: socket.socket) -> tuple[int, dict[str, str]]:
    """The response's status and headers (lower-cased names)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), {k.lower(): v for k, v in headers.items()}


def push(sock: socket.socket, total: int, frame: Callable[[bytes], bytes] = lambda b: b) -> int:
    """Send up to `total` body bytes in 256 KiB pieces; how many went before the server hung up."""
    piece = b"x" * (256 * 1024)
    sent = 0
    try:
        while sent < total:
            sock.sendall(frame(piece))
            sent += len(piece)
    except OSError:  # EPIPE / ECONNRESET: the server closed the connection
        pass
    return sent


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def sign_raw(raw: bytes, content_type: str) -> dict[str, str]:
    """Slack's headers for a body that is not UTF-8 text (signed_headers signs text)."""
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def audit_entries(bot: BotProcess) -> int:
    with sqlite3.connect(bot.db) as db:
        return int(db.execute("SELECT count(*) FROM audit").fetchone()[0])


# --------------------------------------------------------------------------- size


def test_a_declared_100_mb_body_is_refused_before_it_is_read(bot):
    before = rss(bot)
    with open_request(
        bot, {"Content-Length": str(100 * MiB), "Content-Type": "text/plain"}
    ) as sock:
        status, headers = read_head(sock)  # answered on the headers alone
        assert status == 413 and headers["connection"] == "close"
        sent = push(sock, 100 * MiB)
    assert sent < 100 * MiB  # the server hung up rather than take the rest
    assert healthy(bot)
    assert rss(bot) - before < 20 * MiB
    assert "Traceback" not in bot.output()


def test_an_undeclared_100_mb_body_is_cut_off_at_the_size_limit(bot):
    """Chunked, with signature headers good enough to get the body read at all."""
    before = rss(bot)
    headers = {"Transfer-Encoding": "chunked", **fresh_headers()}
    with open_request(bot, headers) as sock:
        sent = push(sock, 100 * MiB, chunked)
    assert sent < 100 * MiB
    wait_for_log(bot, "413 body over the size limit")
    assert healthy(bot)
    assert rss(bot) - before < 20 * MiB
    assert "Traceback" not in bot.output()


# --------------------------------------------------------------------------- time


def test_a_dripping_body_gets_408_at_the_deadline_and_healthz_answers_meanwhile(bot):
    headers = {"Content-Length": "100000", **fresh_headers()}
    sock = open_request(bot, headers)
    stop = threading.Event()

    def drip() -> None:
        # one byte every 0.2 s, never idle long: only a deadline on the whole body stops it
        while not stop.is_set():
            try:
                sock.sendall(b"x")
            except OSError:
                return
            stop.wait(0.2)

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        for _ in range(3):
            assert healthy(bot)
            time.sleep(0.3)
        status, headers = read_head(sock)  # socket timeout 30 s: far beyond the 5 s deadline
        assert status == 408 and headers["connection"] == "close"
        sock.settimeout(10)
        while sock.recv(4096):  # the body, then the server closes the connection
            pass
    finally:
        stop.set()
        dripper.join(timeout=5)
        sock.close()
    assert healthy(bot)
    assert "Traceback" not in bot.output()


# --------------------------------------------------------------------------- uvicorn's limits


def test_connections_beyond_the_limit_get_503_at_once_and_service_returns_after(bot):
    """Idle connections (a client dripping its headers looks the same) cannot pile up."""
    idle = [socket.create_connection(("127.0.0.1", bot.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        deadline = time.monotonic() + 15
        while (status := httpx.get(bot.url + "/healthz", timeout=5).status_code) != 503:
            assert time.monotonic() < deadline, f"/healthz still {status} past the limit"
            time.sleep(0.1)
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 15
    while httpx.get(bot.url + "/healthz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "service did not come back"
        time.sleep(0.1)


def test_headers_that_never_end_are_a_400_not_a_growing_buffer(bot):
    with socket.create_connection(("127.0.0.1", bot.port), timeout=30) as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nX-Flood: " + b"x" * (64 * 1024))
        status, _ = read_head(sock)
    assert status == 400
    assert healthy(bot)
    assert "Traceback" not in bot.output()


# --------------------------------------------------------------------------- malformed


UNSIGNED = [
    ("no headers", b"text=hi", {"Content-Type": "application/x-www-form-urlencoded"}),
    (
        "timestamp not a number",
        b"text=hi",
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64},
    ),
    (
        "timestamp a float",
        b"text=hi",
        {"X-Slack-Request-Timestamp": "1.7e9", "X-Slack-Signature": "v0=" + "0" * 64},
    ),
    ("no timestamp", b"text=hi", {"X-Slack-Signature": "v0=" + "0" * 64}),
    ("no signature", b"text=hi", {"X-Slack-Request-Timestamp": str(int(time.time()))}),
    ("garbage signature", b"text=hi", fresh_headers("v0=not-hex")),
    ("wrong signature", b"text=hi", fresh_headers()),
    ("invalid UTF-8", b"text=caf\xe9\xff", fresh_headers()),
    (
        "invalid JSON",
        b'{"type": "url_verification", ',
        {"Content-Type": "application/json", **fresh_headers()},
    ),
    ("JSON, no headers", b"{oops", {"Content-Type": "application/json"}),
]


def test_unsigned_and_malformed_requests_get_4xx_never_a_500_or_a_traceback(bot, slack, flowyte):
    for name, body, headers in UNSIGNED:
        assert bot.post(body, headers=headers).status_code == 401, name
    non_ascii = {"X-Slack-Request-Timestamp": "１７００", "X-Slack-Signature": "v0=é"}
    response = bot.http.post(
        bot.url + "/slack/events",
        content=b"text=hi",
        headers={k: v.encode("utf-8") for k, v in non_ascii.items()},
    )
    assert response.status_code == 401
    signed_but_malformed = [
        (b"text=caf\xe9\xff", "application/x-www-form-urlencoded"),
        (b'{"type": "url_verification", ', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    ]
    for body, content_type in signed_but_malformed:
        response = bot.post(body, headers=sign_raw(body, content_type))
        assert response.status_code == 400, body
    with open_request(bot, {"Content-Length": "1000", **fresh_headers()}) as sock:
        sock.sendall(b"token=x&text=")  # and hangs up mid-body
    wait_for_log(bot, "client went away")

    output = bot.output()
    assert "Traceback" not in output and " 500" not in output
    refused = [line for line in output.splitlines() if "refused a request" in line]
    assert len(refused) == len(UNSIGNED) + 1 + len(signed_but_malformed) + 1
    assert "Applying " not in output  # bolt logs each middleware it applies: it saw nothing
    assert audit_entries(bot) == 0
    assert calls_made(flowyte) == [] and slack.calls("response_url") == []


def test_slacks_unsigned_ssl_check_gets_200_and_does_nothing(bot, slack, flowyte):
    """Slack checks a slash command URL's certificate with an unsigned form (as captured in
    bolt-python's tests); bolt answers it before verifying, and so does numbot's ingress."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = bot.post("ssl_check=1&token=legacy-fixed-token", headers=form)
    assert answer.status_code == 200 and answer.text == ""
    tricked = bot.post("ssl_check=1&token=x&command=%2Fnumbers&text=search+415", headers=form)
    assert tricked.status_code == 401  # a command riding on it is unsigned, so refused
    assert audit_entries(bot) == 0
    assert calls_made(flowyte) == [] and slack.calls("response_url") == []


# --------------------------------------------------------------------------- "payload"


@pytest.mark.parametrize(
    ("text", "fields", "answer"),
    [
        ("help", {"channel_name": "payload-ops"}, "numbot help"),
        ("help", {"user_name": "payload-admin"}, "numbot help"),
        ("help", {"team_domain": "payload-team"}, "numbot help"),
        ("help payload", {}, "no help on `payload`"),
    ],
)
def test_a_command_from_a_channel_user_or_team_named_payload_is_answered(bot, text, fields, answer):
    response = bot.post(slash_command_body(text, ALICE, **fields))
    assert response.status_code == 200, response.text
    assert answer in texts(response.json())


def test_a_release_whose_reason_says_payload_is_taken_up(bot, slack, flowyte):
    response, rid = bot.command("release +14155550123 payload team moved", user=ALICE)
    assert response.status_code == 200, response.text
    answer = texts(reply(slack, rid))
    assert "+14155550123 is not one of this organization's numbers" in answer, answer


# --------------------------------------------------------------------------- the log


def test_no_body_reaches_the_log_even_at_debug(bot, slack):
    forged_form = f"text=hi\n{FORGED}\n".encode()
    bot.post(forged_form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    bot.post(forged_form, headers=fresh_headers())
    bot.post(forged_form, headers=sign_raw(forged_form, "application/x-www-form-urlencoded"))
    # signed and handled: the usage reply echoes the text, and bolt logs what it answers
    response, _ = bot.command(f"search {MARKER}", user=ALICE)
    assert MARKER in response.text
    # signed, handled by no listener: bolt warns with (parts of) the body
    unhandled = slash_command_body(FORGED, ALICE, command="/elsewhere")
    assert bot.post(unhandled).status_code == 404
    click = block_action_body(
        "numbers_unknown", FORGED, ALICE, response_url=slack.response_url("u")
    )
    assert bot.post(click).status_code == 404
    # a reply to a response_url: slack_sdk logs each request it sends at DEBUG
    _, rid = bot.command(f"release +14155550123 {MARKER}", user=ALICE)
    reply(slack, rid)

    output = bot.output()  # each refusal and 404 was logged before its answer was sent
    assert MARKER not in output
    assert "Unhandled request (body not logged)" in output
    assert "Running listener: " in output  # the DEBUG log is on, and bolt's trail kept

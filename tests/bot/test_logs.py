"""bot/ops/logs.py: one line per record, and no request or response bodies from the Slack libraries."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import pytest

from bot.kernel.redact import RedactingFilter
from bot.ops.logs import OneLineFilter, SlackLibraryFilter

FORGED = "2026-01-01 00:00:00,000 INFO bot.workflow: approved by U0BOB"


@pytest.fixture
def log() -> Iterator[tuple[io.StringIO, Callable[[str], logging.Logger]]]:
    """A handler set up as bot.ops.logs.configure sets the root's; yields (output, a logger factory)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for f in (SlackLibraryFilter(), OneLineFilter(), RedactingFilter()):
        handler.addFilter(f)
    loggers: list[logging.Logger] = []

    def get(name: str) -> logging.Logger:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        loggers.append(logger)
        return logger

    yield out, get
    for logger in loggers:
        logger.handlers[:] = []
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


BODY = f"token=x&text=hi%0A{FORGED}"


@pytest.mark.parametrize(
    ("name", "level", "message"),
    [
        # bolt, as it logs them (slack_bolt/logger/messages.py, app/async_app.py, middleware/)
        (
            "slack_bolt.RequestVerification",
            logging.INFO,
            f"Invalid request signature detected (signature: v0=1, timestamp: 1, body: {BODY})",
        ),
        (
            "numbot.slack",
            logging.WARNING,
            f"Unhandled request ({{'text': 'hi\\n{FORGED}'}})\n---\n[Suggestion] You can handle this type of event with the following listener function:\n",
        ),
        (
            "numbot.slack",
            logging.WARNING,
            f"A global middleware (m) skipped calling either `next()` or `next_()` without providing a response for the request ({{'text': '{FORGED}'}})",
        ),
        (
            "numbot.slack",
            logging.DEBUG,
            f'Responding with status: 200 body: "{{"text": "Unknown subcommand `{FORGED}`"}}" (3 millis)',
        ),
        (
            "numbot.slack",
            logging.DEBUG,
            f"Responding with listener middleware's response - listener: f, status: 200, body: {FORGED} (1 millis)",
        ),
        ("numbot.slack:handle", logging.DEBUG, f"Skipped self event: {{'text': '{FORGED}'}}"),
        ("slack_bolt.AsyncApp", logging.DEBUG, f"request body: {FORGED}"),
        # slack_sdk's Web API client and Socket Mode client
        (
            "slack_sdk.web.async_internal_utils",
            logging.DEBUG,
            f"Sending a request - url: https://slack.com/api/chat.postMessage, json_body: {{'text': '{FORGED}'}}",
        ),
        (
            "slack_sdk.web.async_internal_utils",
            logging.DEBUG,
            f"Received the following response - status: 200, body: {{'text': '{FORGED}'}}",
        ),
        (
            "slack_sdk.socket_mode.aiohttp",
            logging.DEBUG,
            f"on_message invoked: (message: {{'text': '{FORGED}'}})",
        ),
        (
            "slack_bolt.adapter.socket_mode.async_internals",
            logging.INFO,
            f"Unsuccessful Bolt execution result (status: 404, body: {FORGED})",
        ),
    ],
)
def test_bodies_the_slack_libraries_log_never_reach_the_log(log, name, level, message):
    out, get = log
    get(name).log(level, message)
    assert "approved by U0BOB" not in out.getvalue()
    assert out.getvalue().count("\n") <= 1


def test_what_is_kept_of_a_withheld_message_still_says_what_happened(log):
    out, get = log
    get("numbot.slack").warning(f"Unhandled request ({{'text': '{FORGED}'}})")
    get("slack_bolt.adapter.socket_mode.async_internals").info(
        f"Unsuccessful Bolt execution result (status: 404, body: {FORGED})"
    )
    assert out.getvalue().splitlines() == [
        "WARNING numbot.slack: Unhandled request (body not logged)",
        "INFO slack_bolt.adapter.socket_mode.async_internals: Unsuccessful Bolt execution result (status: 404, body not logged)",
    ]


def test_bolts_dispatch_trail_and_other_libraries_records_are_kept(log):
    out, get = log
    get("numbot.slack").debug("Applying AsyncCustomMiddleware(func=inject_service)")
    get("numbot.slack").debug("Running listener: numbers_command ...")
    get("slack_sdk.socket_mode.aiohttp").info("A new session (s1) has been established")
    get("slack_boltish").debug("not bolt's")
    get("uvicorn.error").warning("Invalid HTTP request received.")
    assert len(out.getvalue().splitlines()) == 5


def test_line_breaks_and_controls_in_any_message_are_escaped(log):
    out, get = log
    get("bot.workflow").warning("flowyte said %s", f"no\n{FORGED}\r\x1b[2J\u2028tab\tkept")
    [line] = out.getvalue().splitlines()
    assert line == (
        "WARNING bot.workflow: flowyte said no\\n" + FORGED + "\\r\\x1b[2J\\u2028tab\tkept"
    )


def test_a_traceback_keeps_its_lines(log):
    out, get = log
    try:
        raise ValueError("boom")
    except ValueError:
        get("bot.process.wiring").exception("settling failed\nforged")
    lines = out.getvalue().splitlines()
    assert lines[0] == "ERROR bot.process.wiring: settling failed\\nforged"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"

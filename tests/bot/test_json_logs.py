"""NUMBOT_LOG_FORMAT=json: one JSON object a record, redacted, with the Slack request's ids."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.config.settings import SettingsError, load_settings
from bot.kernel.redact import register_secret
from bot.ops import log_context
from bot.ops.logs import build_handler


@pytest.fixture
def json_log():
    out = io.StringIO()
    handler = build_handler("json")
    handler.setStream(out)
    logger = logging.getLogger("numbot.test.json")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield out, logger
    logger.handlers[:] = []
    logger.propagate = True


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_record_is_one_json_object_with_the_fields(json_log):
    out, logger = json_log
    logger.info("held %s\nfor %s", "+14155550123", "U0ALICE")
    (entry,) = lines(out)
    assert entry["level"] == "INFO" and entry["logger"] == "numbot.test.json"
    assert entry["message"] == "held +14155550123\nfor U0ALICE"  # JSON escapes the break
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert "slack_user" not in entry


def test_a_token_in_a_message_or_a_traceback_is_redacted(json_log):
    out, logger = json_log
    register_secret("a-signing-secret-with-no-shape-000")
    logger.warning("Slack said no to xoxb-1234-5678-abcdef and a-signing-secret-with-no-shape-000")
    try:
        raise RuntimeError("Flowyte echoed flowyte_sk_live_abcdef123")
    except RuntimeError:
        logger.exception("it failed")
    first, second = lines(out)
    assert "xoxb-1234" not in out.getvalue() and "flowyte_sk_live" not in out.getvalue()
    assert "no-shape-000" not in out.getvalue()
    assert first["message"] == "Slack said no to *** and ***"
    assert second["message"] == "it failed"
    assert "RuntimeError: Flowyte echoed ***" in second["exc_info"]
    assert second["exc_info"].startswith("Traceback")


def test_the_slack_requests_ids_go_with_every_line_logged_while_it_is_handled(json_log):
    out, logger = json_log
    body = {
        "type": "block_actions",
        "user": {"id": "U0BOB"},
        "actions": [{"action_id": "approve", "value": "secret-ish value"}],
    }
    token = log_context.bind(log_context.slack_fields(body))
    try:
        logger.info("approving")
    finally:
        log_context.reset(token)
    logger.info("after")
    during, after = lines(out)
    assert during["slack_user"] == "U0BOB" and during["slack_action"] == "approve"
    assert len(during["request_id"]) == 12
    assert "secret-ish" not in out.getvalue()
    assert "slack_user" not in after


def test_slack_fields_keep_ids_only():
    assert (
        log_context.slack_fields({"command": "/numbers", "user_id": "U1", "text": "x"})[
            "slack_action"
        ]
        == "/numbers"
    )
    odd = log_context.slack_fields({"user_id": "U1 <script>", "type": "event_callback"})
    assert "slack_user" not in odd and odd["slack_action"] == "event_callback"
    view = log_context.slack_fields({"type": "view_submission", "view": {"callback_id": "cb"}})
    assert view["slack_action"] == "cb"


def test_the_format_setting_is_validated():
    assert load_settings(NUMBOT_LOG_FORMAT="JSON").NUMBOT_LOG_FORMAT == "json"
    assert load_settings().NUMBOT_LOG_FORMAT == "text"
    with pytest.raises(SettingsError, match=r"NUMBOT_LOG_FORMAT: .*use text or json"):
        load_settings(NUMBOT_LOG_FORMAT="yaml")

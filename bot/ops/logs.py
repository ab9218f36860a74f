"""Logging for the bot process: one line per record, no request bodies, and every record
passed through redaction; as text, or as one JSON object a line (NUMBOT_LOG_FORMAT=json).

Everything the process logs goes through the root logger's one handler: numbot's loggers,
bolt's and slack_sdk's, uvicorn's (`uvicorn_log_config()` hands its loggers to the root),
Python's warnings and an uncaught exception.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import threading
from types import TracebackType
from typing import Any

from bot.config.settings import Settings
from bot.kernel.redact import REDACTED_TRACEBACK, RedactingFilter, register_secret
from bot.ops import log_context

# slack_bolt and slack_sdk format request and response bodies into their messages with
# f-strings, so the text cannot be told from the data; these are their loggers (bolt's app
# logger is the one numbot hands it in bot/process/wiring.py).
SLACK_LIBRARIES = ("slack_bolt", "slack_sdk", "numbot.slack")

# Their DEBUG records that carry no body: bolt's dispatch trail. Every other DEBUG record of
# theirs may (the Web API client's request and response bodies, Socket Mode's messages,
# bolt's "Responding with status: … body: …", "Skipped self event: {event}").
_BODY_FREE_DEBUG = (
    "Applying ",
    "Checking listener: ",
    "Running listener: ",
    "Running lazy listener: ",
)

# Their INFO-and-above records that do carry a body, with the part worth keeping.
_WITHHELD = (
    # bolt's request verification, at INFO: signature, timestamp and the whole body. Off in
    # numbot (the ingress verifies), kept here in case it is ever turned back on.
    (re.compile(r"(Invalid request signature detected).*", re.S), r"\1 (details not logged)"),
    # bolt, for a request no listener took: the body and a code suggestion built from it.
    (re.compile(r"(Unhandled request).*", re.S), r"\1 (body not logged)"),
    (
        re.compile(r"(A global middleware \(.*?\) skipped calling).*", re.S),
        r"\1 next() (body not logged)",
    ),
    # bolt's Socket Mode adapter, at INFO, when a listener answered other than 200.
    (
        re.compile(r"(Unsuccessful Bolt execution result \(status: \d+).*", re.S),
        r"\1, body not logged)",
    ),
)

# Anything that could end a line in a file or a terminal, or drive a terminal: C0 and C1
# controls (tab aside), DEL, and Unicode's line and paragraph separators.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


class SlackLibraryFilter(logging.Filter):
    """Keep the bodies slack_bolt and slack_sdk log out of numbot's log.

    A logging filter rather than logger levels: bolt logs the body of an unhandled request
    at WARNING, next to records that matter at the same level, and its DEBUG dispatch trail
    is worth keeping while the rest of its DEBUG output is not.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _from_slack_library(record.name):
            return True
        message = _message(record)
        if record.levelno < logging.INFO:
            return message.startswith(_BODY_FREE_DEBUG)
        for pattern, kept in _WITHHELD:
            if pattern.match(message):
                record.msg, record.args = pattern.sub(kept, message, count=1), None
                break
        return True


class OneLineFilter(logging.Filter):
    """One record, one line: line breaks and control characters in a message are escaped.

    Messages carry text from outside (Slack, Flowyte); escaped, none of it can start a line
    that looks like numbot's own. A traceback (exc_info) keeps its lines: it is added after
    this filter runs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = _message(record)
        if _CONTROLS.search(message):
            record.msg, record.args = _CONTROLS.sub(_escape, message), None
        return True


def _from_slack_library(name: str) -> bool:
    # bolt names a child logger "<parent>.<class>" or "<app name>:<function>".
    return any(name == lib or name.startswith((lib + ".", lib + ":")) for lib in SLACK_LIBRARIES)


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a bad format string: log what there is rather than fail the caller
        return f"{record.msg} {record.args}"


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


class JsonFormatter(logging.Formatter):
    """One JSON object a record: time (ISO 8601, UTC), level, logger, message; the Slack
    user, action and request id when the record was logged while a Slack request was being
    handled (bot/ops/log_context.py); the traceback, redacted, in `exc_info`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        entry.update(log_context.current())
        traceback = getattr(record, REDACTED_TRACEBACK, None)
        if traceback:
            entry["exc_info"] = traceback
        elif record.exc_info:  # only when no RedactingFilter ran: never in numbot's handler
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=True, default=str)


class TextFormatter(logging.Formatter):
    """The text line, with the Slack request's ids appended when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = log_context.current()
        if fields:
            line += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        return line


def build_handler(log_format: str) -> logging.Handler:
    """The one handler numbot's root logger gets, with its filters in order: drop or trim the
    libraries' bodies, flatten what is left to one line (text only: JSON escapes it), then
    redact (which appends the traceback, or keeps it apart for JSON)."""
    handler = logging.StreamHandler()
    handler.addFilter(SlackLibraryFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RedactingFilter(traceback_apart=True))
    else:
        handler.setFormatter(TextFormatter())
        handler.addFilter(OneLineFilter())
        handler.addFilter(RedactingFilter())
    return handler


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging config: its loggers keep no handlers of their own and hand every
    record to the root's, so its lines have numbot's format, filters and redaction."""
    loggers = {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")}
    # Request lines add nothing but volume (and would carry paths and client addresses).
    loggers["uvicorn.access"] = {"handlers": [], "propagate": True, "level": "WARNING"}
    return {"version": 1, "disable_existing_loggers": False, "loggers": loggers}


def configure(settings: Settings) -> None:
    for secret in settings.secrets():
        register_secret(secret)
    root = logging.getLogger()
    root.handlers[:] = [build_handler(settings.NUMBOT_LOG_FORMAT)]
    root.setLevel(settings.NUMBOT_LOG_LEVEL.upper())
    # Request lines from the HTTP libraries add nothing but volume.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "slack_sdk.web.async_base_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Python's warnings and an exception nobody caught: logged, so they too are one
    # (redacted) line in the chosen format.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("numbot").critical("uncaught exception", exc_info=(kind, value, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    logging.getLogger("numbot").critical(
        "uncaught exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )

"""Keep secrets out of logs, the audit log and Slack.

`redact(text)` masks anything shaped like a Slack token, a Slack signing secret in a
header, a Flowyte key, or a database URL's password, plus any exact secret value registered at start.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import TypeVar, cast

T = TypeVar("T")

_PATTERNS = [
    re.compile(r"xox[abposre]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"flowyte_sk_[A-Za-z0-9_-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # a database URL's password: postgresql://user:PASSWORD@host/db
    re.compile(r"(?i)(postgres(?:ql)?://[^:/@\s]*:)[^@\s]+(?=@)"),
]
# Matches wherever one of _PATTERNS would (the same shapes, the flag scoped to its branch).
_SHAPES = (
    r"xox[abposre]-[A-Za-z0-9-]|xapp-[A-Za-z0-9-]|flowyte_sk_[A-Za-z0-9_-]"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]|(?i:postgres(?:ql)?://)[^:/@\s]*:[^@\s]+@"
)
_known: set[str] = set()
# The known secrets and the shapes as one pattern, rebuilt when the secrets change: most text
# holds no secret, and one scan tells so (every string numbot sends to Slack is redacted).
_anything: tuple[frozenset[str], re.Pattern[str]] = (frozenset(), re.compile(_SHAPES))


def register_secret(value: str | None) -> None:
    """Also mask this exact value (the signing secret has no recognisable shape)."""
    if value and len(value) >= 6:
        _known.add(value)


def _might_hold_a_secret(text: str) -> bool:
    global _anything
    secrets, pattern = _anything
    if secrets != _known:
        secrets = frozenset(_known)
        alternatives = [re.escape(s) for s in sorted(secrets, key=len, reverse=True)]
        pattern = re.compile("|".join([*alternatives, _SHAPES]))
        _anything = (secrets, pattern)
    return pattern.search(text) is not None


def redact(text: str) -> str:
    if not _might_hold_a_secret(text):
        return text
    for secret in sorted(_known, key=len, reverse=True):  # a longer secret before its prefix
        text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "") + "***", text)
    return text


# The redacted traceback, on a record whose traceback is kept apart from its message.
REDACTED_TRACEBACK = "numbot_traceback"


class RedactingFilter(logging.Filter):
    """Installed on the root handlers: every record is rendered, then redacted.

    A traceback (exc_info) is formatted and redacted too, then appended to the message; or,
    with `traceback_apart` (JSON logs), kept in the record's `numbot_traceback` attribute for
    the formatter to put in a field of its own. Either way exc_info is cleared, so no
    formatter can render the unredacted one.
    """

    def __init__(self, *, traceback_apart: bool = False) -> None:
        super().__init__()
        self._apart = traceback_apart

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what there is rather than fail the caller
            message = f"{record.msg} {record.args}"
        cleaned = redact(message)
        if record.exc_info:
            formatter = logging.Formatter()
            traceback = redact(formatter.formatException(record.exc_info))
            if self._apart:
                setattr(record, REDACTED_TRACEBACK, traceback)
            else:
                cleaned += "\n" + traceback
            record.exc_info = None
            record.exc_text = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def scrub(value: T) -> T:
    """`value` with `redact` applied to every string inside it (dicts, lists, tuples and
    dataclasses such as an audit note), for everything numbot writes to SQLite or Slack."""
    return cast(T, _scrub(value))


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _scrub(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if isinstance(getattr(value, f.name), str | dict | list | tuple)
        }
        return dataclasses.replace(value, **changes) if changes else value
    return value

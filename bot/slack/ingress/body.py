"""Turn a verified body into one bolt reads the way Slack meant it.

bolt's `parse_body` (slack_bolt/request/internals.py) guesses the shape from the text:

    content type "application/json", or the text starts with "{"   -> json.loads(text)
    otherwise, the text contains "payload" anywhere              -> the form's `payload` field
                                                                     as JSON, or {} if there is none
    otherwise                                                     -> the form's fields

The middle rule misreads every slash command whose text, channel name, user name or team
name contains that word (`/numbers release +1… payload team moved`, `#payload-ops`): bolt
finds no `payload` field, sees an empty request and answers 404 (Slack says
"dispatch_failed"). JSON it cannot parse raises inside bolt: a 500 and a traceback.

`for_bolt` decides by structure instead: a JSON body by its content type, an interactivity
payload by the presence of a `payload` form field. It refuses what bolt would choke on, and
hands bolt a body on which bolt's guess gives the same answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from bot.slack.ingress.refusal import Refusal

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

NOT_UTF8 = Refusal(400, "body is not UTF-8")
BAD_JSON = Refusal(400, "JSON body is not a JSON object")
BAD_PAYLOAD = Refusal(400, "interactivity payload is not a JSON object")
TWO_PAYLOADS = Refusal(400, "more than one payload field")


@dataclass(frozen=True)
class BoltBody:
    """The text to give bolt and the content type to give it with."""

    text: str
    content_type: str


def for_bolt(raw: bytes, content_type: str | None) -> BoltBody | Refusal:
    try:
        text = raw.decode("utf-8")  # strict: bolt's adapter would raise on bad bytes
    except UnicodeDecodeError:
        return NOT_UTF8
    # Slack labels its JSON (Events API, url_verification); everything else it sends is a form.
    if (content_type or "").partition(";")[0].strip().lower() == JSON:
        return BoltBody(text, JSON) if _is_json_object(text) else BAD_JSON
    fields = parse_qsl(text, keep_blank_values=True)
    payloads = [value for name, value in fields if name == "payload"]
    if not payloads:
        return BoltBody(form_without_the_word(fields), FORM)
    if len(payloads) > 1:  # bolt would silently take the last; Slack sends one
        return TWO_PAYLOADS
    if not _is_json_object(payloads[0]):
        return BAD_PAYLOAD
    return BoltBody(urlencode({"payload": payloads[0]}), FORM)


SSL_CHECK_MAX = 512  # bytes: `ssl_check=1&token=…` is a few dozen


def is_ssl_check(raw: bytes, content_type: str | None) -> bool:
    """Slack's certificate check on a slash command's URL: a form of `ssl_check=1` and the
    legacy `token`, nothing else, sent without a signature. bolt answers it 200 before it
    verifies anything (slack_bolt/middleware/ssl_check); so does numbot, doing nothing."""
    if (content_type or "").partition(";")[0].strip().lower() != FORM or len(raw) > SSL_CHECK_MAX:
        return False
    try:
        fields = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return False
    names = [name for name, _ in fields]
    return (
        names.count("ssl_check") == 1
        and dict(fields)["ssl_check"] == "1"
        and set(names) <= {"ssl_check", "token"}
        and names.count("token") <= 1
    )


def form_without_the_word(fields: list[tuple[str, str]]) -> str:
    """The form, encoded so that the text "payload" does not occur in it.

    urlencode leaves letters as they are and writes its escapes in upper case (`%2F`), so the
    word can only occur spelled out inside a name or a value, never overlapping an escape.
    `%70` is "p": parse_qsl decodes it back, so bolt reads exactly these fields. The result
    cannot start with "{" either (urlencode escapes it), so bolt never takes it for JSON.
    """
    return urlencode(fields).replace("payload", "%70ayload")


def _is_json_object(text: str) -> bool:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return False
    return isinstance(value, dict)

"""Pieces every Block Kit builder uses. Builders are pure: data in, message dict out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.kernel.text import clean_user_text

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": fallback, "blocks": [...]}

SANDBOX_NOTE = ":test_tube: *SANDBOX*: numbot's built-in Flowyte. No real numbers, no real money."
MAX_TEXT = 2900  # a section's text may hold 3000 characters
MAX_SPOKEN = 75  # a button's accessibility_label


# The only <...> markup numbot writes into its own sentences: a user, channel or user group
# mention and a localised date. Everything else that looks like markup came from outside
# and is escaped.
# A date token numbot writes has a format and a fallback, never a link (slack_date).
_OWN_MARKUP = re.compile(
    r"<(?:@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|!subteam\^S[A-Z0-9]+|!date\^[0-9]+\^[^<>|^]*\|[^<>]*)>"
)
_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# An entity already escaped (bot.kernel.text.inert marks someone's words so), or a character to escape.
_ESCAPED_OR_SPECIAL = re.compile(r"&(?:amp|lt|gt);|[&<>]")


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_once(text: str) -> str:
    """Slack's escaping, leaving entities already escaped as they are (not `&amp;lt;`)."""
    return _ESCAPED_OR_SPECIAL.sub(lambda m: _SPECIAL.get(m.group(), m.group()), text)


def escape(text: str) -> str:
    """A value from outside numbot (Flowyte's fields, people's words) inside a mrkdwn line.

    One visible line (bot.kernel.text.clean_user_text), then Slack's escaping: it cannot ping,
    link, or start a line that looks like one of numbot's own. Emphasis marks stay: inside
    one line of someone else's words they can bold a word, not fake a block or a line.
    """
    return _slack_escape(clean_user_text(text, max_length=MAX_TEXT))


FLOWYTE_ID = 64  # characters of a Flowyte id or number shown in a row


def flowyte_id(text: str) -> str:
    """A Flowyte id or number inside a mrkdwn line, often between backticks: one line of at
    most FLOWYTE_ID characters, Slack-escaped (it cannot ping or link), no backtick of its own
    to end the code span early."""
    return escape(clean_user_text(text, max_length=FLOWYTE_ID)).replace("`", "'")


def sentence(text: str) -> str:
    """numbot's own sentence as one mrkdwn line, though parts of it came from Flowyte.

    The service's sentences quote Flowyte (a problem's field messages, a scope) and mention
    people. Only numbot's own markup survives (`<@U…>`, `<#C…>`, `<!date^…|…>` without a
    link); any other `<`, `>` or `&` is escaped, and a line break or invisible character from
    Flowyte cannot split the reply into lines that look like numbot's. Someone's words in the
    sentence were made inert by the service (bot.kernel.text.inert): their entities stay entities.
    """
    line = clean_user_text(text, max_length=MAX_TEXT)
    parts: list[str] = []
    start = 0
    for match in _OWN_MARKUP.finditer(line):
        parts += [_escape_once(line[start : match.start()]), match.group()]
        start = match.end()
    parts.append(_escape_once(line[start:]))
    return "".join(parts)


def literal(text: str, *, max_length: int = MAX_TEXT) -> Block:
    """A plain_text object: Slack shows it exactly as written.

    For what people wrote (a reason) and what Flowyte said (a failure's detail) on a card:
    no *bold*, no :emoji: (`emoji: false`), no <@mention> or link, one line. mrkdwn has no
    escape for `*`, `_`, `~` or `:`, so plain_text is the only way to show them literally.
    """
    shown = clean_user_text(text, max_length=max_length) or "-"  # Slack refuses empty text
    return {"type": "plain_text", "text": shown, "emoji": False}


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """mrkdwn text of at most `limit` characters, never cut inside a `<…>` token (a
    mention, a date, a link) or an `&…;` entity: a cut one would show raw, or worse."""
    if len(text) <= limit:
        return text
    kept = text[: limit - 1]
    opened = kept.rfind("<")
    if opened > kept.rfind(">"):
        kept = kept[:opened]
    amp = kept.rfind("&")
    if amp > kept.rfind(";") and amp >= len(kept) - 5:
        kept = kept[:amp]
    return kept.rstrip() + "…"


def section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text)}, **extra}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text)}]}


def button(
    label: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: Block | None = None,
    spoken: str | None = None,
) -> Block:
    """A button; `spoken`: what a screen reader says instead of the label, for a button
    repeated down a list ("Reserve +1 415-555-0612, $2.15 now"), at most 75 characters."""
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if spoken:
        element["accessibility_label"] = clean_user_text(spoken, max_length=MAX_SPOKEN)
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def slack_date(moment: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """Each reader sees the time in their own zone; the fallback is UTC."""
    epoch = int(moment.timestamp())
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{fmt}|{fallback}>"


def message(text: str, blocks: list[Block], *, sandbox: bool) -> Message:
    """`text` is the fallback notifications show: the news first, the sandbox mark after it
    (a notification cut to one line still says what happened)."""
    if sandbox:
        return {"text": f"{text} [SANDBOX]", "blocks": [context(SANDBOX_NOTE), *blocks]}
    return {"text": text, "blocks": blocks}


def plain(text: str, *, sandbox: bool) -> Message:
    """A one-line reply: numbot's sentence, made safe by `sentence()`."""
    line = sentence(text)
    return message(line, [section(line)], sandbox=sandbox)


def refusal(message_text: str, *, sandbox: bool) -> Message:
    """A request numbot would not carry out, and why; the text is the service's sentence."""
    return plain(f":no_entry_sign: {message_text}", sandbox=sandbox)


def sections(rows: list[str]) -> list[Block]:
    """Lines spread over as many sections as their length needs; no line is ever cut."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = 0
    for row in rows:
        row = cut(row)
        if chunk and size + len(row) + 1 > MAX_TEXT:
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(row)
        size += len(row) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks

"""Pieces every Block Kit builder uses. Builders are pure: data in, message dict out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": fallback, "blocks": [...]}

SANDBOX_NOTE = ":test_tube: *SANDBOX*: numbot's built-in Flowyte. No real numbers, no real money."
MAX_TEXT = 2900  # a section's text may hold 3000 characters


def escape(text: str) -> str:
    """Make user text inert in mrkdwn: no mentions, channel pings or links (Slack's escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_TEXT]}, **extra}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_TEXT]}]}


def button(
    label: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: Block | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
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
    if sandbox:
        return {"text": f"[SANDBOX] {text}", "blocks": [context(SANDBOX_NOTE), *blocks]}
    return {"text": text, "blocks": blocks}


def plain(text: str, *, sandbox: bool) -> Message:
    """A one-paragraph reply."""
    return message(text, [section(text)], sandbox=sandbox)


def refusal(message_text: str, *, sandbox: bool) -> Message:
    """A request numbot would not carry out, and why; the text is the service's sentence."""
    return plain(f":no_entry_sign: {message_text}", sandbox=sandbox)


def sections(rows: list[str]) -> list[Block]:
    """Lines spread over as many sections as their length needs; no line is ever cut."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = 0
    for row in rows:
        row = row[:MAX_TEXT]
        if chunk and size + len(row) + 1 > MAX_TEXT:
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(row)
        size += len(row) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks

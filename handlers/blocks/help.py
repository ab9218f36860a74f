"""Help and usage replies, built from the parser's subcommand table."""

from __future__ import annotations

from handlers.blocks.common import Message, message, section
from handlers.commands.parser import SUBCOMMANDS, escape_usage


def build_help(topic: str | None, *, sandbox: bool) -> Message:
    if topic is not None:
        sub = SUBCOMMANDS[topic]
        text = f"`/numbers {escape_usage(sub.usage)}`\n{sub.help}"
        return message(text, [section(text)], sandbox=sandbox)
    lines = [f"• `/numbers {escape_usage(sub.usage)}`: {sub.help}" for sub in SUBCOMMANDS.values()]
    intro = (
        "*numbot* buys and routes Flowyte phone numbers. Reserve a number from a search, request "
        "its purchase, and another person approves it: nobody spends alone."
    )
    return message("numbot help", [section(intro), section("\n".join(lines))], sandbox=sandbox)


def build_usage_error(text: str, topic: str | None, *, sandbox: bool) -> Message:
    """`text` comes from the parser, which escapes whatever it echoes of the user's input."""
    hint = f"`/numbers help {topic}`" if topic else "`/numbers help`"
    body = f":thinking_face: {text}\nSee {hint}."
    return message(body, [section(body)], sandbox=sandbox)

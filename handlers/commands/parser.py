"""Parse the text after `/numbers` into a typed command, or a usage error. Never raises.

Each subcommand's usage and help sit beside its parser, in SUBCOMMANDS; `/numbers help`
is built from them, and a test fails when a subcommand has none.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from bot.flowyte.models import SearchQuery
from bot.kernel.text import MAX_REASON, clean_user_text
from handlers import search_filters as filters

MAX_TEXT = 500
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
NUMBER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
AGENT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
AREA_CODE = re.compile(r"^[2-9][0-9]{2}$")
_TYPOGRAPHIC_QUOTES = {ord("“"): '"', ord("”"): '"', ord("‘"): "'", ord("’"): "'"}
_TEL_LINK = re.compile(r"^<tel:([^|>]+)(?:\|[^>]*)?>$")
_ODD_SPACES = re.compile(r"[^\S\t\n\r ]")
# `release <number> <free-text reason>`; the number may be quoted.
_RELEASE = re.compile(
    r"""release\s+(?:"([^"]*)"|'([^']*)'|([^\s"']\S*))\s+(\S.*)""", re.IGNORECASE | re.DOTALL
)
_TEL_LINKS = re.compile(r"<tel:([^|>\s]+)(?:\|[^>]*)?>")
_CITY_KEY = re.compile(r"(?:city|locality)=", re.IGNORECASE)
_WORDS = re.compile(r"(\s+)")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


@dataclass(frozen=True)
class Search:
    query: SearchQuery


@dataclass(frozen=True)
class SearchForm:
    """`/numbers` alone: open the search modal, every filter a field."""


@dataclass(frozen=True)
class ListNumbers:
    """`/numbers list`: the owned numbers, a page at a time."""


@dataclass(frozen=True)
class ShowWallet:
    """`/numbers wallet`: the balance, auto-reload, the monthly cost and the runway."""


@dataclass(frozen=True)
class ShowIdle:
    """`/numbers idle`: the owned numbers that reach nobody, with what they cost."""


@dataclass(frozen=True)
class ShowSpend:
    """`/numbers spend`: six months of number charges beside numbot's purchases."""


@dataclass(frozen=True)
class ShowHolds:
    """`/numbers holds`: your holds and your requests waiting for approval."""


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class Assign:
    number: str
    agent_id: str


@dataclass(frozen=True)
class Unassign:
    number: str


@dataclass(frozen=True)
class Publish:
    agent_id: str


@dataclass(frozen=True)
class Release:
    number: str
    reason: str


@dataclass(frozen=True)
class Import:
    e164: str
    agent_id: str | None


Command = (
    Search
    | SearchForm
    | ListNumbers
    | ShowWallet
    | ShowIdle
    | ShowSpend
    | ShowHolds
    | Help
    | Assign
    | Unassign
    | Publish
    | Release
    | Import
)


@dataclass(frozen=True)
class UsageError:
    message: str
    topic: str | None = None


class _Usage(Exception):
    """Raised inside the parser; becomes a UsageError."""


def _q(token: str) -> str:
    """Echo a user's token inside a code span, safely: one visible line, no mentions, links
    or broken spans (inside a code span Slack shows *, _, ~ and :emoji: as typed)."""
    token = clean_user_text(token, max_length=40).replace("`", "'") or "?"
    return "`" + token.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "`"


# -- argument checks ---------------------------------------------------------------------


def _number_ref(token: str) -> str:
    """A number as +E.164 (punctuation and Slack's tel: links allowed) or a Flowyte id."""
    link = _TEL_LINK.match(token)
    if link:
        token = link.group(1)
    if token.startswith("+"):
        digits = "+" + _PHONE_PUNCTUATION.sub("", token[1:])
        if E164.fullmatch(digits):
            return digits
        raise _Usage(f"{_q(token)} is not a phone number; write it as +E.164, like +14155551234.")
    if NUMBER_ID.fullmatch(token):
        return token
    raise _Usage(f"{_q(token)} is neither a +E.164 phone number nor a number id.")


def _e164(token: str) -> str:
    ref = _number_ref(token)
    if not ref.startswith("+"):
        raise _Usage(f"{_q(token)} must be a phone number in +E.164 form, like +14155551234.")
    return ref


def _agent(token: str) -> str:
    if not AGENT_ID.fullmatch(token):
        raise _Usage(f"{_q(token)} is not an agent id (like agt_123).")
    return token


def _arity(args: list[str], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        raise _Usage("wrong number of arguments.")


# -- subcommands ---------------------------------------------------------------------------


def _parse_search(args: list[str]) -> Command:
    values: dict[str, object] = {}
    for arg in args:
        if AREA_CODE.fullmatch(arg):
            field, raw = "area_code", arg
        elif "=" in arg:
            name, raw = arg.split("=", 1)
            known = filters.KEYS.get(name.lower())
            if known is None:
                raise _Usage(
                    f"unknown filter {_q(name)}. Filters: areaCode, type, city, state, features, contains, startsWith, endsWith, country, bestEffort, limit."
                )
            field = known
        else:
            raise _Usage(f"{_q(arg)} is not a filter. Give an area code like 415, or name=value.")
        if field in values:
            raise _Usage(f"`{filters.NAMES[field]}` given twice.")
        try:
            values[field] = filters.normalise(field, raw)
        except filters.FilterError as exc:
            raise _Usage(f"`{filters.NAMES[field]}`: {exc.message}") from None
    if not values:
        raise _Usage("give an area code or at least one filter.")
    checked = filters.validate(values)
    if isinstance(checked, dict):
        field, message = next(iter(checked.items()))
        raise _Usage(f"`{filters.NAMES.get(field, field)}`: {message}")
    return Search(checked)


def _parse_list(args: list[str]) -> Command:
    _arity(args, 0)
    return ListNumbers()


def _parse_wallet(args: list[str]) -> Command:
    _arity(args, 0)
    return ShowWallet()


def _parse_idle(args: list[str]) -> Command:
    _arity(args, 0)
    return ShowIdle()


def _parse_spend(args: list[str]) -> Command:
    _arity(args, 0)
    return ShowSpend()


def _parse_holds(args: list[str]) -> Command:
    _arity(args, 0)
    return ShowHolds()


def _parse_help(args: list[str]) -> Command:
    _arity(args, 0, 1)
    topic = args[0].lower() if args else None
    if topic is not None and topic not in SUBCOMMANDS:
        raise _Usage(f"no help on {_q(topic)}.")
    return Help(topic)


def _parse_assign(args: list[str]) -> Command:
    _arity(args, 2)
    return Assign(_number_ref(args[0]), _agent(args[1]))


def _parse_unassign(args: list[str]) -> Command:
    _arity(args, 1)
    return Unassign(_number_ref(args[0]))


def _parse_publish(args: list[str]) -> Command:
    _arity(args, 1)
    return Publish(_agent(args[0]))


def _parse_release(args: list[str]) -> Command:
    if not args:
        raise _Usage("wrong number of arguments.")
    # The reason is stored, audited and shown on the card: the same rules as the purchase
    # modal's, checked on the cleaned text (one over the limit is kept, to refuse, not cut).
    reason = clean_user_text(" ".join(args[1:]), max_length=MAX_REASON + 1)
    if len(reason) > MAX_REASON:
        raise _Usage(f"keep the reason under {MAX_REASON} characters.")
    return Release(_number_ref(args[0]), reason)


def _parse_import(args: list[str]) -> Command:
    _arity(args, 1, 2)
    return Import(_e164(args[0]), _agent(args[1]) if len(args) == 2 else None)


@dataclass(frozen=True)
class Subcommand:
    usage: str
    help: str
    parse: Callable[[list[str]], Command]


SUBCOMMANDS: dict[str, Subcommand] = {
    "search": Subcommand(
        "search <area code> [filter=value ...]",
        "Search the carrier's inventory. Filters: type=local|toll_free|national|mobile, city=San Francisco "
        "(quotes optional), state=CA, features=voice,sms, contains/startsWith/endsWith=digits or letters, "
        "bestEffort=false (exact matches only), limit=1-50. `/numbers` alone opens a search form.",
        _parse_search,
    ),
    "list": Subcommand(
        "list", "Numbers this organization owns, and the agent each one rings.", _parse_list
    ),
    "wallet": Subcommand(
        "wallet",
        "The prepaid wallet: its balance, auto-reload, what the owned numbers cost a month and "
        "how long the balance lasts at that rate.",
        _parse_wallet,
    ),
    "idle": Subcommand(
        "idle",
        "Numbers that reach nobody (routed to no agent, or to one never published), what they "
        "cost a month, each with Request release.",
        _parse_idle,
    ),
    "spend": Subcommand(
        "spend",
        "The last six months: what Flowyte charged for numbers beside what numbot bought and "
        "released, and who asked most.",
        _parse_spend,
    ),
    "holds": Subcommand(
        "holds",
        "Your held numbers, with Request purchase and Cancel, and your requests waiting for "
        "approval: where each card is, who may approve it, when its hold lapses.",
        _parse_holds,
    ),
    "assign": Subcommand(
        "assign <+E.164 or number id> <agent id>",
        "Route a number to an agent. Calls reach the agent's published version only.",
        _parse_assign,
    ),
    "unassign": Subcommand(
        "unassign <+E.164 or number id>",
        "Stop routing a number. You keep it, and keep paying for it.",
        _parse_unassign,
    ),
    "publish": Subcommand(
        "publish <agent id>", "Publish an agent's current draft, so calls reach it.", _parse_publish
    ),
    "release": Subcommand(
        "release <+E.164 or number id> [reason]",
        "Give a number back to the carrier. Irreversible, so a second person must approve it.",
        _parse_release,
    ),
    "import": Subcommand(
        "import <+E.164> [agent id]",
        "Bring a number you already own on your carrier account into Flowyte. No charge.",
        _parse_import,
    ),
    "help": Subcommand("help [subcommand]", "This help.", _parse_help),
}


def _has_hidden_characters(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r" for ch in text)


def parse(text: str | None) -> Command | UsageError:
    """`/numbers` text -> a command, or a UsageError whose message says what to fix."""
    text = (text or "").strip()
    if not text:
        return SearchForm()
    if len(text) > MAX_TEXT:
        return UsageError(f"That is {len(text)} characters; numbot takes at most {MAX_TEXT}.")
    if _has_hidden_characters(text):
        return UsageError(
            "That text contains invisible control or direction characters; type it again plainly."
        )
    # Slack sends typographic quotes when people type them: treat them as plain quotes.
    text = text.translate(_TYPOGRAPHIC_QUOTES)
    # Slack links phone numbers as <tel:+1415…|+1 415 …>: keep just the number.
    text = _TEL_LINKS.sub(r"\1", text)
    # Pasted text and Option+Space bring no-break and other Unicode spaces: make them plain.
    text = _ODD_SPACES.sub(" ", text)
    release = _RELEASE.fullmatch(text)
    if release:
        # A reason is free text, apostrophes and all: don't tokenize it.
        number = next(g for g in release.group(1, 2, 3) if g is not None)
        reason = release.group(4).strip()
        if len(reason) >= 2 and reason[0] == reason[-1] and reason[0] in "\"'":
            reason = reason[1:-1]
        return _run_subcommand("release", [number, *reason.split()])
    first = text.split(None, 1)[0].lower()
    if first == "search" or AREA_CODE.fullmatch(first):
        text = _quote_unquoted_city(text)
    try:
        tokens = [t for t in shlex.split(text) if t]
    except ValueError:
        return UsageError("A quote is not closed.")
    if not tokens:
        return Help()
    name, args = tokens[0].lower(), tokens[1:]
    if name not in SUBCOMMANDS:
        if not AREA_CODE.fullmatch(name):
            return UsageError(f"Unknown subcommand {_q(tokens[0])}.", None)
        name, args = "search", tokens  # `/numbers 415` searches
    return _run_subcommand(name, args)


def _ends_city(word: str) -> bool:
    """A word that cannot be part of an unquoted city: the next filter, an area code, or a
    quoted span (which shlex reads as typed)."""
    return "=" in word or '"' in word or word.startswith("'") or bool(AREA_CODE.fullmatch(word))


def _quote_unquoted_city(text: str) -> str:
    """`city=San Francisco features=voice` reads as `city='San Francisco' features=voice`.

    The words after `city=` up to the next name=value word, an area code or the end are the
    city, when that reads one way only: a city value that holds a quote is left to shlex as
    typed (`city="San Francisco"` and `city=x' OR '1'='1` mean what they always meant), and a
    word with a double quote or starting with one ends the city. Apostrophes inside a word
    stay part of it (`city=Coeur d'Alene`). Everything else keeps its spacing.
    """
    parts = _WORDS.split(text)  # words at even positions, the whitespace between at odd ones
    out: list[str] = []
    i = 0
    while i < len(parts):
        word = parts[i]
        key = _CITY_KEY.match(word)
        value = word[key.end() :] if key else ""
        if key and value and not any(quote in value for quote in "\"'"):
            j = i + 2
            while j < len(parts) and parts[j] and not _ends_city(parts[j]):
                j += 2
            if j > i + 2:
                city = " ".join([value, *parts[i + 2 : j : 2]])
                out.append(word[: key.end()] + shlex.quote(city))
                i = j - 1  # the whitespace after the city, if any, is copied as it was
                continue
        out.append(word)
        i += 1
    return "".join(out)


def _run_subcommand(name: str, args: list[str]) -> Command | UsageError:
    sub = SUBCOMMANDS[name]
    try:
        return sub.parse(args)
    except _Usage as exc:
        return UsageError(f"{exc} Usage: `/numbers {escape_usage(sub.usage)}`", name)


def escape_usage(usage: str) -> str:
    """Usage lines show <placeholders>; Slack wants < and > escaped even in code spans."""
    return usage.replace("<", "&lt;").replace(">", "&gt;")

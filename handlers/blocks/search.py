"""Search results, a page at a time: one row per number with its Reserve button.

Flowyte answers a search with at most `limit` numbers (50 at most). They are shown
SEARCH_PAGE_ROWS to a page with Previous / Next (handlers/blocks/paging.py), and when
Flowyte stopped at the limit the message says there may be more: nothing is cut silently.
"""

from __future__ import annotations

from bot.flowyte.models import AvailableNumber, SearchQuery, keypad_digits
from bot.kernel.costs import TOLL_FREE_NOTE, is_toll_free
from bot.kernel.money import usd
from bot.kernel.text import clean_user_text
from handlers import ids
from handlers.blocks.common import Block, Message, button, context, escape, message, section
from handlers.blocks.paging import SEARCH_PAGE_ROWS, nav_blocks, page_of, search_value

MAX_LIMIT = 50  # Flowyte's largest page of search results
# Each field of a row is bounded, so a page of rows stays far inside a message's 40,000
# characters whatever Flowyte sends (a few hundred characters a row, at worst ~1,500).
_FORMATTED, _PLACE, _FEATURES = 40, 80, 100


_TYPES = {"local": "local", "toll_free": "toll-free", "national": "national", "mobile": "mobile"}


def _describe(query: SearchQuery) -> str:
    """The search in words: "local numbers in area code 415 with voice, ending in CALL (2255)"."""
    kind = _TYPES.get(query.number_type or "", "")
    parts = [f"{kind} numbers" if kind else "numbers"]
    if query.area_code:
        parts.append(f"in area code {query.area_code}")
    place = ", ".join(p for p in (query.locality, query.administrative_area) if p)
    if place:
        parts.append(f"in {place}")
    if query.country and query.country != "US":
        parts.append(f"in country {query.country}")
    if query.features:
        parts.append("with " + " and ".join(query.features))
    patterns = [
        ("starting with", query.starts_with),
        ("containing", query.contains),
        ("ending in", query.ends_with),
    ]
    for words, typed in patterns:
        if typed:
            digits = keypad_digits(typed)
            parts.append(f"{words} {typed}" + (f" ({digits})" if digits != typed else ""))
    if query.best_effort is True and query.has_pattern:
        parts.append("or nearby")
    return " ".join(parts)


def _short(text: str, length: int) -> str:
    """A value from Flowyte, one line of at most `length` characters, escaped."""
    return escape(clean_user_text(text, max_length=length))


def number_row(number: AvailableNumber, miss: str | None = None) -> Block:
    """One number; `miss` says how a nearby number differs from the pattern asked for.
    Numbers read as +E.164 everywhere numbot shows one (not Flowyte's `formatted`): the
    form every command takes, so what people see is what they can type."""
    place = ", ".join(p for p in (number.locality, number.region) if p) or "—"
    features = ", ".join(number.features) or "—"
    setup = usd(number.setup_cost) if number.setup_cost is not None else "?"
    monthly = usd(number.monthly_cost) if number.monthly_cost is not None else "?"
    if miss is not None:
        near = f" _(nearby: {miss})_"
    elif number.best_effort:
        near = " _(nearby match)_"
    else:
        near = ""
    text = (
        f"*{_short(number.e164, _FORMATTED)}*{near}\n"
        f"{_short(place, _PLACE)} · {_short(features, _FEATURES)}\n"
        f"{setup} setup · {monthly}/month"
    )
    if is_toll_free(number.e164):
        text += f"\n:telephone_receiver: {TOLL_FREE_NOTE}"
    row = section(text, block_id=f"number:{number.e164}")
    if number.reservable:
        now = (
            f", {usd(number.setup_cost + number.monthly_cost)} now"
            if number.setup_cost is not None and number.monthly_cost is not None
            else ""
        )
        shown = clean_user_text(number.e164, max_length=_FORMATTED)
        row["accessory"] = button(
            "Reserve", ids.RESERVE, number.e164, spoken=f"Reserve {shown}{now}"
        )
    return row


def build_searching(query: SearchQuery, *, sandbox: bool) -> str:
    prefix = "[SANDBOX] " if sandbox else ""
    return f"{prefix}Searching Flowyte for {escape(_describe(query))}…"


def _more_note(query: SearchQuery, found: int) -> str | None:
    """Flowyte stops at `limit`: when it did, there may be numbers it did not send."""
    if found < query.limit:
        return None
    if query.limit < MAX_LIMIT:
        return (
            f"Flowyte sent its limit of {query.limit}, so there may be more: search again with "
            f"`limit={MAX_LIMIT}`, or narrow the search."
        )
    return (
        f"Flowyte sends at most {MAX_LIMIT} numbers a search, so there may be more: narrow it "
        "(a city, `contains=`, `type=`) to see others."
    )


def build_search_results(
    query: SearchQuery, numbers: list[AvailableNumber], *, sandbox: bool, page: int = 0
) -> Message:
    """Page `page` of the numbers a search found (a page past the end shows the last one)."""
    described = escape(_describe(query))
    found = len(numbers)
    numbers = list({n.e164: n for n in numbers}.values())  # a row's block_id must be unique
    # Whatever Flowyte sent, a vanity or last-four search shows its exact matches first
    # and says of each other number how it differs.
    misses = {n.e164: query.miss(n.e164) for n in numbers}
    numbers.sort(key=lambda n: misses[n.e164] is not None)
    exact = sum(miss is None for miss in misses.values())
    if query.has_pattern and not exact and query.best_effort is not True:
        return _no_exact_match(query, numbers, described, sandbox=sandbox)
    if not numbers:
        text = f"No {described} are available. Try another area code, or fewer filters."
        return message(text, [section(text)], sandbox=sandbox)
    shown = page_of(len(numbers), page, SEARCH_PAGE_ROWS)
    title = f"{len(numbers)} available: {described}"
    blocks: list[Block] = [
        section(f"*{title}*. Reserve one to hold it for 30 minutes; holding is free.")
    ]
    blocks += [number_row(n, misses[n.e164]) for n in numbers[shown.start : shown.end]]
    note = _more_note(query, found)
    if note:
        blocks.append(context(note))
    blocks += nav_blocks(
        shown,
        "numbers",
        (ids.SEARCH_PREVIOUS, search_value(query, shown.index - 1)),
        (ids.SEARCH_NEXT, search_value(query, shown.index + 1)),
    )
    if shown.pages > 1:
        title += f", page {shown.index + 1} of {shown.pages}"
    return message(title, blocks, sandbox=sandbox)


def _no_exact_match(
    query: SearchQuery, nearby: list[AvailableNumber], described: str, *, sandbox: bool
) -> Message:
    """No number matches the pattern exactly: say so, and offer the nearby numbers (the same
    search with bestEffort=true, each labelled) rather than pass them off as matches."""
    text = f"None of the {described} match exactly."
    if nearby:
        text += f" Flowyte offered {len(nearby)} nearby, none of which fits the pattern."
    wider = query.model_copy(update={"best_effort": True})
    show = button("Show nearby numbers", ids.SEARCH_NEARBY, search_value(wider, 0))
    return message(text, [section(text), {"type": "actions", "elements": [show]}], sandbox=sandbox)

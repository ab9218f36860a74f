"""Previous / Next: what a page button carries, and the row of buttons itself.

A page click re-runs the question and shows another slice of the answer; nothing is kept
on the server between clicks. So the button's value is the whole question, and it comes
back as input from outside (anyone who can sign a request can send any value): it is read
strictly, bounded, and validated exactly as a typed search is, or refused.

    search:  "page=1&areaCode=415&limit=50"   the SearchQuery (its API names) and a page index
    list:    "3"                              a page index into the owned numbers
    idle:    "3"                              a page index into the numbers that reach nobody

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from bot.flowyte.models import SearchQuery
from handlers import search_filters as filters
from handlers.blocks.common import Block, button, context

MAX_VALUE = 2000  # Slack's limit on a button's value
SEARCH_PAGE_ROWS = 20  # search results per page: a 50-number search is three pages
LIST_PAGE_ROWS = 20  # owned numbers per page
IDLE_PAGE_ROWS = 20  # numbers that reach nobody per page
MAX_LIST_PAGE = 9999  # far past any organization's numbers; a bigger value is refused

# SearchQuery.params() names -> SearchQuery fields (what a search button carries).
_PARAMS = {
    "areaCode": "area_code",
    "numberType": "number_type",
    "locality": "locality",
    "administrativeArea": "administrative_area",
    "features": "features",
    "contains": "contains",
    "startsWith": "starts_with",
    "endsWith": "ends_with",
    "country": "country",
    "bestEffort": "best_effort",
    "limit": "limit",
}
_PAGE = re.compile(r"0|[1-9][0-9]{0,3}")


@dataclass(frozen=True)
class Slice:
    """Which rows of `total` one page shows: rows[start:end], page `index` of `pages`."""

    index: int
    pages: int
    start: int
    end: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.index > 0

    @property
    def has_next(self) -> bool:
        return self.index < self.pages - 1

    def describe(self, noun: str) -> str:
        """Where the page is, like "Page 2 of 3: numbers 21–40 of 50"."""
        return f"Page {self.index + 1} of {self.pages}: {noun} {self.start + 1}–{self.end} of {self.total}"


def page_of(total: int, index: int, size: int) -> Slice:
    """The page `index` of `total` rows, `size` a page. A page past the end (the list shrank
    since the button was drawn) is the last page, so a click always shows rows that exist."""
    pages = max(1, -(-total // size))
    index = min(max(index, 0), pages - 1)
    start = index * size
    return Slice(index, pages, start, min(total, start + size), total)


# -- search ---------------------------------------------------------------------------------


def search_value(query: SearchQuery, index: int) -> str:
    """The button value for page `index` of `query`'s results."""
    # errors="replace": a lone surrogate (JSON can carry one into a city) cannot be encoded;
    # the page then searches for the city with a replacement character instead of failing.
    return urlencode({"page": str(index), **query.params()}, errors="replace")


def read_search_value(value: object) -> tuple[SearchQuery, int] | None:
    """A search button's value back into (query, page), or None unless it is one numbot could
    have drawn: known names each once, a page within what `limit` rows can fill, and a query
    that passes the same checks as `/numbers search`."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE:
        return None
    try:
        pairs = parse_qsl(value, strict_parsing=True, max_num_fields=len(_PARAMS) + 1)
    except ValueError:
        return None
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)) or not set(names) <= {"page", *_PARAMS}:
        return None
    fields = dict(pairs)
    page = fields.pop("page", "")
    if not _PAGE.fullmatch(page):
        return None
    checked = filters.check({_PARAMS[name]: raw for name, raw in fields.items()})
    if isinstance(checked, dict):
        return None
    if int(page) * SEARCH_PAGE_ROWS >= checked.limit:
        return None
    return checked, int(page)


# -- owned numbers --------------------------------------------------------------------------


def list_value(index: int) -> str:
    return str(index)


def read_list_value(value: object) -> int | None:
    """A list button's page index, or None unless it is a plain, bounded whole number."""
    if not isinstance(value, str) or not _PAGE.fullmatch(value):
        return None
    index = int(value)
    return index if index <= MAX_LIST_PAGE else None


# -- the buttons ----------------------------------------------------------------------------


def nav_blocks(
    page: Slice, noun: str, previous: tuple[str, str], following: tuple[str, str]
) -> list[Block]:
    """Where the page is ("Page 2 of 3: numbers 21–40 of 50") and [Previous] [Next], each
    only where it leads somewhere; nothing at all for a single page. `previous` and
    `following` are (action_id, value) of the two buttons."""
    if page.pages <= 1:
        return []
    elements: list[Block] = []
    if page.has_previous:
        elements.append(button("Previous", *previous))
    if page.has_next:
        elements.append(button("Next", *following))
    return [
        context(page.describe(noun)),
        {"type": "actions", "block_id": "paging", "elements": elements},
    ]

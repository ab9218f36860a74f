"""Lists in the sandbox (`GET /numbers`, `GET /agents`): cursor pagination, in creation order.

A page holds at most `limit` (1-100, default 20) and at most the variants' `page_size` items,
whatever `limit` asks. The cursor is opaque (it says "after item n"); one this API did not
return is a 400 `validation_error`. Where the next cursor goes is the variants' `pagination`
(see variants.py): readable by numbot in the "next_cursor", "items", "pagination" and "meta"
shapes; "has_more", "links", "no_cursor" and "repeat" are there for tests of what numbot
must refuse.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.sandbox.calls import Result, int_param
from bot.sandbox.problems import invalid
from bot.sandbox.variants import PaginationStyle, Variants


def envelope(result: Result, pagination: PaginationStyle = "next_cursor") -> dict[str, object]:
    """The success envelope of `result`; a list page places its cursor as `pagination` says."""
    if not result.page:
        return {"success": True, "data": result.data}
    cursor, more = result.next_cursor, result.next_cursor is not None
    shapes: dict[str, dict[str, object]] = {
        "next_cursor": {"data": result.data, "nextCursor": cursor},
        "items": {"data": {"items": result.data, "nextCursor": cursor}},
        "pagination": {
            "data": result.data,
            "pagination": {"nextCursor": cursor, "hasMore": more},
        },
        "meta": {"data": result.data, "meta": {"nextCursor": cursor}},
        "has_more": {"data": result.data, "hasMore": more},
        "links": {"data": result.data, "links": {"next": f"?cursor={cursor}" if more else None}},
        "no_cursor": {"data": result.data},
        "repeat": {"data": result.data, "nextCursor": cursor},
    }
    return {"success": True, **shapes[pagination]}


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    prefix, _, seq = text.partition(":")
    if prefix != "after" or not seq.isdigit():
        raise invalid([("cursor", "is not a cursor this API returned")])
    return int(seq)


def page_of(
    items: Iterable[tuple[int, Any]],
    query: Mapping[str, str],
    variants: Variants,
    render: Callable[[Any], dict[str, object]] | None = None,
) -> Result:
    """One page of (seq, item) pairs in seq order, after the query's cursor; a page holds at
    most `limit` and at most the variants' `page_size` items. `render` turns an item into its
    JSON (only the page's items are rendered, so a list of 50,000 costs one sort a page)."""
    limit = min(int_param(query, "limit", 20, 1, 100), variants.page_size)
    cursor = query.get("cursor")
    after = _decode_cursor(cursor) if cursor else -1
    every = sorted(items, key=lambda pair: pair[0])
    first = bisect.bisect_right(every, after, key=lambda pair: pair[0])
    page = every[first : first + limit]
    more = len(every) - first > limit
    next_cursor = _encode_cursor(page[-1][0]) if more and page else None
    if variants.pagination == "repeat" and more:
        next_cursor = _encode_cursor(every[:limit][-1][0])  # always "after the first page"
    show = render or (lambda item: item)
    return Result([show(data) for _, data in page], page=True, next_cursor=next_cursor)

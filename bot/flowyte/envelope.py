"""Reading Flowyte's 2xx answers: the success envelope and the pages of a list. Pure rules,
no I/O: the client hands over an `Answer` (the parsed body and the headers) and gets data,
or an error that says the answer cannot be read.

Answers. A success is `{"success": true, "data": ...}` [docs]: a 2xx that is not JSON, has
no `data`, says `success: false`, or whose `data` has the wrong shape is unreadable. Calls
that need no data (releasing a hold or a number) accept an empty body too. An unreadable
answer to a read is `UnexpectedAnswer`, never "nothing"; to a call that may have changed
something at Flowyte (POST, DELETE) it is `OutcomeUnknown`.

Lists. The docs promise cursor pagination without showing where the cursor lives. numbot reads
these, and only these (each unambiguous):

- `{"data": [...], "nextCursor": "c" | null}`                 the [inferred] shape
- `{"data": {"items": [...], "nextCursor": "c" | null}}`
- `{"data": [...], "pagination": {"nextCursor": ..., "hasMore"?: bool}}`
- `{"data": [...], "meta": {"nextCursor": ..., "hasMore"?: bool}}`
- any of them with `hasMore: false` and no cursor at all (the end, said plainly).

The end of a list is stated (a null cursor or `hasMore: false`), with one exception: a
plain page that carries no cursor information at all (`{"success": true, "data": [...]}`,
perhaps with the documented `message` and `errors: []`, and no other member) whose length is smaller than the
`limit` numbot asked for is the last page. Under cursor pagination with a fixed page size a
short page cannot be hiding more, and a Flowyte that leaves the cursor out of its last page
would otherwise fail every list. The same page when full (as long as `limit`, or longer) may
be cut, and stays unreadable. The rule trusts that, whenever more is to come, Flowyte either
says so or fills the page up to the `limit` asked. A Flowyte that capped its pages below
numbot's limit (100; the docs give lists no maximum, and search's is 50) and gave no cursor
would be read short: the sandbox's `no_cursor` variant with a small `page_size` is that one.

These are `UnexpectedAnswer`, never "that was everything": no cursor anywhere on a full page,
or on a page with any member numbot does not know (it may hold the cursor); `hasMore: true`
without a cursor; places that disagree; a cursor that is not a string; a `links.next`, a
`Link: rel=next` header or another "more" member (numbot does not follow URLs it did not
build). A cursor seen before in the same listing (a loop) is refused by the client, which
follows the cursors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.flowyte.errors import FlowyteError, OutcomeUnknown, UnexpectedAnswer

_LINK_NEXT: Final = re.compile(r"""rel\s*=\s*"?[^";,]*\bnext\b""", re.IGNORECASE)
# Members that would say "there is more" somewhere numbot does not read.
_MORE_HINTS: Final = frozenset(
    {
        "next",
        "next_cursor",
        "nextPage",
        "next_page",
        "nextPageToken",
        "next_page_token",
        "nextToken",
        "continuationToken",
        "has_more",
        "hasNextPage",
    }
)
# The members of a page that carries no cursor information at all: the documented envelope.
_PLAIN_PAGE: Final = frozenset({"success", "data", "message"})

M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any, *, changed: bool = False) -> M:
    """Read a 2xx answer. An answer numbot cannot read is an error; for a call that may have
    changed something at Flowyte, its outcome is then unknown."""
    try:
        return model.model_validate(data)
    except ValidationError:
        unreadable = OutcomeUnknown if changed else UnexpectedAnswer
        raise unreadable(f"Flowyte's answer is not a {model.__name__}") from None


NOT_JSON: Final = object()


def parse_json(content: bytes) -> Any:
    """A body as JSON (amounts as Decimal); None if empty; NOT_JSON if unreadable."""
    if not content.strip():
        return None
    try:
        return json.loads(content, parse_float=Decimal)
    except ValueError:  # not JSON, or not UTF-8: an HTML maintenance page, a proxy's text
        return NOT_JSON


@dataclass(frozen=True)
class Answer:
    """A 2xx answer: its parsed body (None when empty, NOT_JSON when unreadable) and headers."""

    method: str
    path: str
    body: Any
    headers: httpx.Headers

    @property
    def changed(self) -> bool:
        return self.method != "GET"

    def unreadable(self, why: str) -> FlowyteError:
        cls = OutcomeUnknown if self.changed else UnexpectedAnswer
        return cls(f"{self.method} {self.path}: {why}")

    def envelope(self) -> dict[str, Any]:
        """The success envelope; an answer that is not one is unreadable."""
        if self.body is NOT_JSON:
            raise self.unreadable("the answer is not JSON")
        if not isinstance(self.body, dict):
            raise self.unreadable("the answer is not a JSON object")
        if "success" in self.body and self.body["success"] is not True:
            raise self.unreadable("the answer says success is not true")
        return self.body

    def data(self) -> Any:
        body = self.envelope()
        if "data" not in body:
            raise self.unreadable("the answer has no data")
        return body["data"]

    def items(self) -> list[Any]:
        data = self.data()
        if not isinstance(data, list):
            raise self.unreadable("the answer's data is not a list")
        return data

    def done(self) -> None:
        """For calls that need no data: an empty body, or an envelope that does not say no."""
        if self.body is not None:
            self.envelope()


def _is_more(value: object) -> bool:
    return value not in (None, False, "", [], {})


def read_page(
    answer: Answer, limit: int, *, stated_end: bool = False
) -> tuple[list[Any], str | None]:
    """One page of a list asked for with `limit`, and the cursor of the next (None at the
    end); see the module docstring. With `stated_end`, only a page that says it is the last
    (a null cursor, or hasMore false) ends the list: what a decision about money rests on."""
    body = answer.envelope()
    if "data" not in body:
        raise answer.unreadable("the list has no data")
    data = body["data"]
    places: list[Mapping[str, Any]] = [body]
    if isinstance(data, dict):
        items = data.get("items")
        places.append(data)
    else:
        items = data
    if not isinstance(items, list):
        raise answer.unreadable("the list's data is not a list")
    for name in ("pagination", "meta"):
        holder = body.get(name)
        if isinstance(holder, dict):
            places.append(holder)
        elif holder is not None:
            raise answer.unreadable(f"the list's {name} is not an object")
    cursors: set[str | None] = set()
    more: set[bool] = set()
    for place in places:
        if "nextCursor" in place:
            cursor = place["nextCursor"]
            if cursor is not None and not isinstance(cursor, str):
                raise answer.unreadable("the list's cursor is not a string")
            cursors.add(cursor or None)
        if "hasMore" in place:
            if not isinstance(place["hasMore"], bool):
                raise answer.unreadable("the list's hasMore is not true or false")
            more.add(place["hasMore"])
        links = place.get("links")
        if isinstance(links, dict) and _is_more(links.get("next")):
            raise answer.unreadable("the list points to its next page by a link")
        hints = [k for k in _MORE_HINTS if _is_more(place.get(k))]
        if hints:
            raise answer.unreadable(f"the list says there is more in {hints[0]!r}")
    if _LINK_NEXT.search(answer.headers.get("link", "")):
        raise answer.unreadable("the list points to its next page by a Link header")
    if len(cursors) > 1 or len(more) > 1:
        raise answer.unreadable("the list's pagination contradicts itself")
    cursor = next(iter(cursors)) if cursors else None
    # The documented envelope carries `errors: []` on a success too (api-reference examples).
    plain = (
        isinstance(data, list)
        and set(body) - {"errors"} <= _PLAIN_PAGE
        and body.get("errors", []) == []
    )
    if not cursors and not more and plain and len(items) < limit and not stated_end:
        # No cursor information at all, on a page shorter than the limit asked: with a fixed
        # page size a short page cannot be hiding more, so it is the last one. A full page
        # without a cursor may be cut, and so may a page with a member numbot does not know
        # (it may hold the cursor): those fall through to "does not say". A Flowyte that caps
        # pages below `limit` and never sends a cursor would look the same, which is why a
        # decision about money asks for a stated end instead (`stated_end`).
        return items, None
    if not cursors and more != {False}:
        raise answer.unreadable("the list does not say whether there is more")
    if more == {True} and cursor is None:
        raise answer.unreadable("the list has more but no cursor")
    if more == {False} and cursor is not None:
        raise answer.unreadable("the list has a cursor but no more")
    return items, cursor

"""The pure rules of bot/flowyte/envelope.py: a success envelope and the pages of a list,
read without HTTP (test_flowyte_client.py drives the same rules through the client)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.flowyte import errors as fe
from bot.flowyte.envelope import NOT_JSON, Answer, parse_json, parse_model, read_page
from bot.flowyte.models import Wallet

ITEMS = [{"id": "num_1"}, {"id": "num_2"}]
LIMIT = 100  # what numbot asks for: ITEMS is a short page


def answer(body: Any, *, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
    return Answer(method, "numbers", body, httpx.Headers(headers or {}))


# --- the body -------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \n", b"\t"])
def test_an_empty_body_is_none(content):
    assert parse_json(content) is None


@pytest.mark.parametrize("content", [b"<html>maintenance</html>", b"\xff\xfe{", b'{"a": '])
def test_a_body_that_is_not_json_is_not_json(content):
    assert parse_json(content) is NOT_JSON


def test_amounts_are_read_as_decimals():
    assert parse_json(b'{"balanceUsd": 0.10}') == {"balanceUsd": Decimal("0.10")}


def test_a_model_that_cannot_be_read_is_unexpected_on_a_read_unknown_on_a_change():
    with pytest.raises(fe.UnexpectedAnswer, match="Wallet"):
        parse_model(Wallet, {"balanceUsd": "lots"})
    with pytest.raises(fe.OutcomeUnknown, match="Wallet"):
        parse_model(Wallet, {"balanceUsd": "lots"}, changed=True)
    assert parse_model(Wallet, {"balanceUsd": "1.50"}).balance_usd == Decimal("1.50")


# --- the envelope ---------------------------------------------------------------------------

UNREADABLE_ENVELOPES = {
    "not-json": NOT_JSON,
    "a-list": [1, 2],
    "a-string": "ok",
    "success-false": {"success": False, "data": {}},
    "success-a-string": {"success": "true", "data": {}},
}


@pytest.mark.parametrize("body", UNREADABLE_ENVELOPES.values(), ids=UNREADABLE_ENVELOPES.keys())
def test_an_unreadable_envelope_is_unexpected_on_a_read_and_unknown_on_a_change(body):
    with pytest.raises(fe.UnexpectedAnswer):
        answer(body).envelope()
    with pytest.raises(fe.OutcomeUnknown):
        answer(body, method="POST").envelope()
    with pytest.raises(fe.OutcomeUnknown):
        answer(body, method="DELETE").done()


def test_data_must_be_there_and_items_must_be_a_list():
    assert answer({"success": True, "data": None}).data() is None
    assert answer({"data": ITEMS}).items() == ITEMS  # `success` may be left out
    with pytest.raises(fe.UnexpectedAnswer, match="no data"):
        answer({"success": True}).data()
    with pytest.raises(fe.UnexpectedAnswer, match="not a list"):
        answer({"success": True, "data": {"items": ITEMS}}).items()


def test_a_call_that_needs_no_data_accepts_an_empty_body_or_an_envelope():
    answer(None, method="DELETE").done()
    answer({"success": True}, method="DELETE").done()


# --- pages ----------------------------------------------------------------------------------

READABLE_PAGES = {
    "next-cursor": ({"success": True, "data": ITEMS, "nextCursor": "c2"}, "c2"),
    "next-cursor-null": ({"success": True, "data": ITEMS, "nextCursor": None}, None),
    "next-cursor-empty": ({"success": True, "data": ITEMS, "nextCursor": ""}, None),
    "data-items": ({"success": True, "data": {"items": ITEMS, "nextCursor": "c2"}}, "c2"),
    "pagination": (
        {"success": True, "data": ITEMS, "pagination": {"nextCursor": "c2", "hasMore": True}},
        "c2",
    ),
    "meta-end": ({"success": True, "data": ITEMS, "meta": {"nextCursor": None}}, None),
    "has-more-false": ({"success": True, "data": ITEMS, "hasMore": False}, None),
    "places-agree": (
        {"success": True, "data": ITEMS, "nextCursor": "c2", "meta": {"nextCursor": "c2"}},
        "c2",
    ),
    "links-next-null": (
        {"success": True, "data": ITEMS, "nextCursor": None, "links": {"next": None}},
        None,
    ),
}


@pytest.mark.parametrize(("body", "cursor"), READABLE_PAGES.values(), ids=READABLE_PAGES.keys())
def test_a_readable_page_gives_its_items_and_the_next_cursor(body, cursor):
    assert read_page(answer(body), LIMIT) == (ITEMS, cursor)


UNREADABLE_PAGES = {
    "no-data": {"success": True, "nextCursor": None},
    "data-not-a-list": {"success": True, "data": "x", "nextCursor": None},
    "data-object-without-items": {"success": True, "data": {"numbers": ITEMS}},
    "pagination-not-an-object": {"success": True, "data": ITEMS, "pagination": "done"},
    "meta-not-an-object": {"success": True, "data": ITEMS, "meta": [], "nextCursor": None},
    "cursor-not-a-string": {"success": True, "data": ITEMS, "nextCursor": 2},
    "has-more-not-a-bool": {"success": True, "data": ITEMS, "hasMore": "no"},
    "has-more-without-cursor": {"success": True, "data": ITEMS, "hasMore": True},
    "cursor-without-more": {"success": True, "data": ITEMS, "nextCursor": "c", "hasMore": False},
    "places-disagree": {
        "success": True,
        "data": ITEMS,
        "nextCursor": None,
        "meta": {"nextCursor": "c2"},
    },
    "more-flags-disagree": {
        "success": True,
        "data": ITEMS,
        "nextCursor": "c2",
        "hasMore": True,
        "pagination": {"hasMore": False},
    },
    "links-next": {"success": True, "data": ITEMS, "nextCursor": None, "links": {"next": "?p=2"}},
    "next-page-token": {"success": True, "data": ITEMS, "nextCursor": None, "nextPageToken": "a"},
    "has-next-page-in-meta": {"success": True, "data": ITEMS, "meta": {"hasNextPage": True}},
}


@pytest.mark.parametrize("body", UNREADABLE_PAGES.values(), ids=UNREADABLE_PAGES.keys())
def test_a_page_numbot_cannot_read_is_unexpected_never_the_end(body):
    with pytest.raises(fe.UnexpectedAnswer):
        read_page(answer(body), LIMIT)


def test_a_link_header_to_a_next_page_is_unreadable_whatever_its_case():
    body = {"success": True, "data": ITEMS, "nextCursor": None}
    for link in ('</numbers?page=2>; rel="next"', "</numbers?page=2>; REL=next"):
        with pytest.raises(fe.UnexpectedAnswer, match="Link header"):
            read_page(answer(body, headers={"LINK": link}), LIMIT)
    prev = answer(body, headers={"Link": '</numbers>; rel="prev"'})
    assert read_page(prev, LIMIT) == (ITEMS, None)


# --- a page without any cursor information: short is the end, full may be cut ---------------


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "data": ITEMS},
        {"data": ITEMS},
        {"success": True, "data": ITEMS, "message": "2 numbers"},
        {"success": True, "data": ITEMS, "message": "OK", "errors": []},  # as the docs show
        {"success": True, "data": []},
    ],
    ids=["plain", "without-success", "with-message", "documented-envelope", "empty"],
)
def test_a_plain_page_shorter_than_the_limit_is_the_last(body):
    assert read_page(answer(body), LIMIT) == (body["data"], None)
    assert read_page(answer(body), len(body["data"]) + 1) == (body["data"], None)


@pytest.mark.parametrize("extra", [0, 1], ids=["full", "longer-than-asked"])
def test_a_plain_page_as_long_as_the_limit_may_be_cut_and_is_unreadable(extra):
    items = [{"id": f"num_{n}"} for n in range(LIMIT + extra)]
    with pytest.raises(fe.UnexpectedAnswer, match="does not say whether there is more"):
        read_page(answer({"success": True, "data": items}), LIMIT)
    with pytest.raises(fe.UnexpectedAnswer):
        read_page(answer({"success": True, "data": ITEMS}), len(ITEMS))


NOT_PLAIN_SHORT_PAGES = {
    "unknown-member": {"success": True, "data": ITEMS, "total": 40},
    "a-cursor-where-numbot-does-not-look": {"success": True, "data": ITEMS, "cursor": "c2"},
    "data-items-without-cursor": {"success": True, "data": {"items": ITEMS}},
    "empty-pagination": {"success": True, "data": ITEMS, "pagination": {}},
    "empty-meta": {"success": True, "data": ITEMS, "meta": {}},
    "links-without-next": {"success": True, "data": ITEMS, "links": {"next": None}},
    "has-more-without-cursor": {"success": True, "data": ITEMS, "hasMore": True},
    "next-page-token": {"success": True, "data": ITEMS, "nextPageToken": "a"},
    "errors-that-say-something": {"success": True, "data": ITEMS, "errors": [{"message": "cut"}]},
    "errors-not-a-list": {"success": True, "data": ITEMS, "errors": "cut"},
}


@pytest.mark.parametrize("body", NOT_PLAIN_SHORT_PAGES.values(), ids=NOT_PLAIN_SHORT_PAGES.keys())
def test_a_short_page_with_anything_beside_its_data_still_must_state_its_end(body):
    """Only the plain envelope is read as "no cursor information": any other member may be
    where this Flowyte keeps its cursor, so the short-page rule does not apply."""
    with pytest.raises(fe.UnexpectedAnswer):
        read_page(answer(body), LIMIT)


def test_a_short_plain_page_with_a_link_to_the_next_is_unreadable():
    link = {"Link": '</numbers?page=2>; rel="next"'}
    with pytest.raises(fe.UnexpectedAnswer, match="Link header"):
        read_page(answer({"success": True, "data": ITEMS}, headers=link), LIMIT)


@pytest.mark.parametrize("empty", [None, False, "", [], {}], ids=repr)
def test_a_more_member_that_says_nothing_does_not_hide_the_stated_end(empty):
    body = {"success": True, "data": ITEMS, "nextCursor": None, "has_more": empty, "next": empty}
    assert read_page(answer(body), LIMIT, stated_end=True) == (ITEMS, None)


@pytest.mark.parametrize("more", [True, "2", ["p2"], {"page": 2}], ids=repr)
def test_a_more_member_that_says_more_overrides_a_null_cursor(more):
    """`has_more: true` beside `nextCursor: null`: the list is not over, whatever the cursor says."""
    body = {"success": True, "data": ITEMS, "nextCursor": None, "has_more": more}
    with pytest.raises(fe.UnexpectedAnswer, match="has_more"):
        read_page(answer(body), LIMIT)

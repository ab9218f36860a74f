"""Page buttons: what they carry, what numbot accepts back, and the pages they lead to."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flowyte.models import FEATURES, NUMBER_TYPES, AvailableNumber, OwnedNumber, SearchQuery
from handlers import ids
from handlers.blocks.paging import (
    LIST_PAGE_ROWS,
    MAX_VALUE,
    SEARCH_PAGE_ROWS,
    list_value,
    page_of,
    read_list_value,
    read_search_value,
    search_value,
)
from handlers.blocks.routing import build_number_list
from handlers.blocks.search import build_search_results
from tests.handlers.test_blocks import action_elements, all_text, buttons, check_limits

# --------------------------------------------------------------------------- slices


@pytest.mark.parametrize(
    ("total", "index", "size", "expected"),
    [
        (50, 0, 20, (0, 3, 0, 20)),
        (50, 2, 20, (2, 3, 40, 50)),
        (50, 7, 20, (2, 3, 40, 50)),  # past the end: the last page
        (40, 2, 20, (1, 2, 20, 40)),
        (1, 0, 20, (0, 1, 0, 1)),
        (0, 0, 20, (0, 1, 0, 0)),
        (10, -3, 20, (0, 1, 0, 10)),
    ],
)
def test_page_of(total: int, index: int, size: int, expected: tuple[int, int, int, int]) -> None:
    page = page_of(total, index, size)
    assert (page.index, page.pages, page.start, page.end) == expected


@given(st.integers(0, 500), st.integers(-5, 60), st.integers(1, 50))
def test_pages_cover_every_row_once(total: int, index: int, size: int) -> None:
    pages = page_of(total, 0, size).pages
    rows = [r for i in range(pages) for r in range(*_bounds(page_of(total, i, size)))]
    assert rows == list(range(total))
    page = page_of(total, index, size)
    assert 0 <= page.index < page.pages and page.end - page.start <= size


def _bounds(page: object) -> tuple[int, int]:
    return page.start, page.end  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- search values

_queries = st.builds(
    SearchQuery,
    area_code=st.none() | st.from_regex(r"[2-9][0-9]{2}", fullmatch=True),
    number_type=st.none() | st.sampled_from(NUMBER_TYPES),
    locality=st.none()
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=64),
    administrative_area=st.none() | st.from_regex(r"[A-Z]{2}", fullmatch=True),
    features=st.lists(st.sampled_from(FEATURES), unique=True).map(tuple),
    contains=st.none() | st.from_regex(r"[0-9A-Z]{1,10}", fullmatch=True),
    starts_with=st.none() | st.from_regex(r"[0-9A-Z]{1,10}", fullmatch=True),
    ends_with=st.none() | st.from_regex(r"[0-9A-Z]{1,10}", fullmatch=True),
    country=st.none() | st.from_regex(r"[A-Z]{2}", fullmatch=True),
    best_effort=st.none() | st.booleans(),
    limit=st.integers(1, 50),
)


@settings(max_examples=200, deadline=None)
@given(_queries, st.data())
def test_a_search_value_reads_back_as_the_same_query_and_page(
    query: SearchQuery, data: st.DataObject
) -> None:
    pages = page_of(query.limit, 0, SEARCH_PAGE_ROWS).pages
    index = data.draw(st.integers(0, pages - 1))
    value = search_value(query, index)
    assert len(value) <= MAX_VALUE
    assert read_search_value(value) == (query, index)


@pytest.mark.parametrize(
    "value",
    [
        None,
        7,
        "",
        "x" * (MAX_VALUE + 1),
        "areaCode=415&limit=50",  # no page
        "page=1",  # no limit: page 1 of a 10-number search cannot exist
        "page=3&areaCode=415&limit=50",  # past what 50 rows fill
        "page=-1&areaCode=415&limit=50",
        "page=01&areaCode=415&limit=50",
        "page=1&page=1&areaCode=415&limit=50",  # a name twice
        "page=1&areaCode=415&areaCode=212&limit=50",
        "page=1&areaCode=415&limit=50&sql=drop",  # an unknown name
        "page=1&areaCode=123&limit=50",  # fails the same check as a typed search
        "page=1&areaCode=415&limit=51",
        "page=1&areaCode=415&limit=50&features=telepathy",
        "page=1&areaCode=415&limit=50&bestEffort=maybe",
        "page=1&areaCode=415&limit=50&numberType=landline",
        "page=1&areaCode",  # not name=value
        "page=1;areaCode=415",
        "%ff%fe",
        "page=1&locality=" + "x" * 65 + "&limit=50",
        "page=1&" + "&".join(f"f{i}=1" for i in range(200)),
    ],
)
def test_a_forged_search_value_is_refused(value: object) -> None:
    assert read_search_value(value) is None


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=300)
    | st.dictionaries(st.text(max_size=12), st.text(max_size=12)).map(urlencode)
)
def test_any_value_reads_as_a_valid_search_or_nothing(value: str) -> None:
    read = read_search_value(value)
    if read is not None:
        query, index = read
        SearchQuery.model_validate(query.model_dump())
        assert 0 <= index * SEARCH_PAGE_ROWS < query.limit


# --------------------------------------------------------------------------- list values


@pytest.mark.parametrize("index", [0, 1, 42, 9999])
def test_a_list_value_reads_back(index: int) -> None:
    assert read_list_value(list_value(index)) == index


@pytest.mark.parametrize("value", [None, 3, "", "-1", "01", "1.5", "١", "10000", "1 ", "0x1", "²"])
def test_a_forged_list_value_is_refused(value: object) -> None:
    assert read_list_value(value) is None


# --------------------------------------------------------------------------- the pages


def available(i: int, **extra: object) -> AvailableNumber:
    return AvailableNumber.model_validate({"e164": f"+1415555{i:04d}", **extra})


def test_search_pages_walk_through_every_number_once() -> None:
    query = SearchQuery(area_code="415", limit=50)
    numbers = [available(i) for i in range(50)]
    seen: list[str] = []
    message = build_search_results(query, numbers, sandbox=False)
    while True:
        check_limits(message)
        seen += [b["value"] for b in buttons(message, ids.RESERVE)]
        following = buttons(message, ids.SEARCH_NEXT)
        if not following:
            break
        [button] = following
        read = read_search_value(button["value"])
        assert read is not None and read[0] == query
        message = build_search_results(query, numbers, sandbox=False, page=read[1])
    assert seen == [n.e164 for n in numbers]
    [back] = buttons(message, ids.SEARCH_PREVIOUS)
    assert read_search_value(back["value"]) == (query, 1)
    assert "page 3 of 3" in message["text"]  # the fallback says where it is


def test_a_search_that_fits_one_page_has_no_page_buttons() -> None:
    message = build_search_results(
        SearchQuery(area_code="415"), [available(i) for i in range(5)], sandbox=False
    )
    assert {e["action_id"] for e in action_elements(message)} == {ids.RESERVE}
    assert "Page" not in all_text(message)


@pytest.mark.parametrize(
    ("limit", "found", "says"),
    [
        (10, 10, "limit=50"),  # Flowyte stopped at the limit asked for: there may be more
        (50, 50, "at most 50"),
        (10, 9, None),  # fewer than the limit: that was everything
    ],
)
def test_a_search_cut_by_flowytes_limit_says_so(limit: int, found: int, says: str | None) -> None:
    message = build_search_results(
        SearchQuery(area_code="415", limit=limit),
        [available(i) for i in range(found)],
        sandbox=False,
    )
    if says is None:
        assert "may be more" not in all_text(message)
    else:
        assert "may be more" in all_text(message) and says in all_text(message)


def test_a_page_past_the_end_shows_the_last_page() -> None:
    query = SearchQuery(area_code="415", limit=50)
    message = build_search_results(query, [available(i) for i in range(25)], sandbox=False, page=2)
    assert [b["value"] for b in buttons(message, ids.RESERVE)] == [
        available(i).e164 for i in range(20, 25)
    ]
    assert "numbers 21–25 of 25" in all_text(message)


def test_search_rows_stay_small_whatever_flowyte_sends() -> None:
    """Each row's fields are bounded: 20 rows of hostile maximal fields fit one message."""
    huge = "&<>" * 2000
    numbers = [
        available(i, formatted=huge, locality=huge, region=huge, features=[huge] * 20)
        for i in range(50)
    ]
    for page in range(3):
        message = build_search_results(
            SearchQuery(area_code="415", limit=50, locality="&" * 64),
            numbers,
            sandbox=True,
            page=page,
        )
        check_limits(message)  # 50 blocks, 3,000 a section, 40,000 in all


def owned(i: int, **extra: object) -> OwnedNumber:
    return OwnedNumber.model_validate({"id": f"num_{i:04d}", "e164": f"+1415555{i:04d}", **extra})


def test_list_pages_walk_through_every_number_once() -> None:
    numbers = [owned(i) for i in range(LIST_PAGE_ROWS * 3 + 5)]
    seen: list[str] = []
    page = 0
    while True:
        message = build_number_list(numbers, {}, sandbox=True, page=page)
        check_limits(message)
        seen += [n.id for n in numbers if f"`{n.id}`" in all_text(message)]
        following = buttons(message, ids.LIST_NEXT)
        if not following:
            break
        next_page = read_list_value(following[0]["value"])
        assert next_page == page + 1
        page = next_page
    assert seen == [n.id for n in numbers]
    assert "page 4 of 4" in message["text"]


def test_list_rows_stay_small_whatever_flowyte_sends() -> None:
    from bot.flowyte.models import Agent

    huge = "&`<>" * 1000
    agent = Agent.model_validate({"id": huge, "name": huge})
    numbers = [owned(i, id=f"{huge}{i}", defaultAgentId=huge) for i in range(45)]
    for page in range(3):
        message = build_number_list(numbers, {huge: agent}, sandbox=True, page=page)
        check_limits(message)
        for line in all_text(message).splitlines():  # ids from Flowyte cannot break a code span
            assert line.count("`") % 2 == 0, line

"""The search modal: its shape, and a submission read and checked like a typed search."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flowyte.models import SearchQuery
from handlers import ids
from handlers.blocks.search_modal import (
    NOTHING_GIVEN,
    build_search_button,
    build_search_modal,
    check_search_form,
    read_search_form,
)
from handlers.commands.parser import Search, UsageError, parse


def text(value: str) -> dict[str, Any]:
    return {ids.SEARCH_INPUT: {"type": "plain_text_input", "value": value}}


def ticked(*values: str) -> dict[str, Any]:
    return {
        ids.SEARCH_INPUT: {
            "type": "checkboxes",
            "selected_options": [
                {"value": v, "text": {"type": "plain_text", "text": v}} for v in values
            ],
        }
    }


def chosen(value: str) -> dict[str, Any]:
    return {ids.SEARCH_INPUT: {"type": "static_select", "selected_option": {"value": value}}}


def number(value: str | None) -> dict[str, Any]:
    return {ids.SEARCH_INPUT: {"type": "number_input", "value": value}}


def submit(values: dict[str, Any]) -> SearchQuery | dict[str, str]:
    return check_search_form(read_search_form(values))


# --------------------------------------------------------------------------- shape


def test_the_modal_has_a_field_for_every_filter() -> None:
    modal = build_search_modal()
    assert modal["type"] == "modal" and modal["callback_id"] == ids.SEARCH_VIEW
    for key in ("title", "submit", "close"):
        assert len(modal[key]["text"]) <= 24
    inputs = [b for b in modal["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == list(ids.SEARCH_FIELDS)
    assert set(ids.SEARCH_FIELDS) == set(SearchQuery.model_fields)  # every filter the API has
    assert all(b["optional"] for b in inputs)
    assert all(b["element"]["action_id"] == ids.SEARCH_INPUT for b in inputs)
    assert len(modal["blocks"]) <= 100
    kinds = {b["block_id"]: b["element"]["type"] for b in inputs}
    assert kinds["features"] == "checkboxes" and kinds["best_effort"] == "checkboxes"
    assert kinds["number_type"] == "static_select" and kinds["limit"] == "number_input"
    for block in inputs:
        element = block["element"]
        assert len(block["label"]["text"]) <= 2000
        for option in element.get("options", []):
            assert len(option["text"]["text"]) <= 75 and len(option["value"]) <= 150
            assert len(option.get("description", {}).get("text", "")) <= 75
        if element["type"] == "plain_text_input":  # as long as the check allows, no longer
            assert element["max_length"] in (2, 3, 10, 64)


def test_the_search_button_opens_the_modal() -> None:
    block = build_search_button()
    [element] = block["elements"]
    assert element["action_id"] == ids.OPEN_SEARCH and element["type"] == "button"
    assert element["action_id"] in ids.ACTION_IDS


# --------------------------------------------------------------------------- reading


def test_every_field_filled_in() -> None:
    query = submit(
        {
            "area_code": text("415"),
            "number_type": chosen("toll_free"),
            "locality": text(" San Francisco "),
            "administrative_area": text("ca"),
            "features": ticked("voice", "sms"),
            "contains": text("call"),
            "starts_with": text("55"),
            "ends_with": text("1234"),
            "country": text("us"),
            "best_effort": ticked("exact"),
            "limit": number("50"),
        }
    )
    assert query == SearchQuery(
        area_code="415",
        number_type="toll_free",
        locality="San Francisco",
        administrative_area="CA",
        features=("voice", "sms"),
        contains="CALL",
        starts_with="55",
        ends_with="1234",
        country="US",
        best_effort=False,
        limit=50,
    )


def test_empty_fields_are_left_to_flowytes_defaults() -> None:
    query = submit(
        {
            "area_code": text("212"),
            "locality": {ids.SEARCH_INPUT: {"type": "plain_text_input", "value": None}},
            "features": ticked(),
            "best_effort": ticked(),
            "number_type": {ids.SEARCH_INPUT: {"type": "static_select", "selected_option": None}},
            "limit": number(None),
        }
    )
    assert query == SearchQuery(area_code="212")


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({}, {"area_code"}),  # nothing at all
        ({"limit": number("20"), "best_effort": ticked("exact")}, {"area_code"}),
        ({"area_code": text("123")}, {"area_code"}),
        ({"area_code": text("4155")}, {"area_code"}),
        (
            {"area_code": text("415"), "administrative_area": text("California")},
            {"administrative_area"},
        ),
        ({"area_code": text("415"), "limit": number("0")}, {"limit"}),
        ({"area_code": text("415"), "limit": number("51")}, {"limit"}),
        ({"area_code": text("415"), "limit": number("2.5")}, {"limit"}),
        ({"area_code": text("415"), "contains": text("55-12")}, {"contains"}),
        ({"area_code": text("415"), "country": text("USA")}, {"country"}),
        ({"locality": text("x" * 65)}, {"locality"}),
        # Forged: values no field of the modal offers.
        ({"area_code": text("415"), "number_type": chosen("landline")}, {"number_type"}),
        ({"area_code": text("415"), "features": ticked("telepathy")}, {"features"}),
        ({"area_code": text("415"), "best_effort": ticked("exact", "maybe")}, {"best_effort"}),
        (
            {"area_code": text("1"), "limit": number("99"), "country": text("1")},
            {"area_code", "limit", "country"},  # every problem at once
        ),
    ],
)
def test_bad_values_are_refused_under_their_fields(
    values: dict[str, Any], fields: set[str]
) -> None:
    errors = submit(values)
    assert isinstance(errors, dict)
    assert set(errors) == fields
    assert all(0 < len(m) <= 150 and m[0].isupper() for m in errors.values())
    if fields == {"area_code"} and not any(k in values for k in ("area_code",)):
        assert errors["area_code"] == NOTHING_GIVEN


@pytest.mark.parametrize(
    "values",
    [
        None,
        [],
        "x",
        {"area_code": "415"},
        {"area_code": {"other": {"value": "415"}}},
        {"area_code": {ids.SEARCH_INPUT: 7}},
    ],
)
def test_what_is_not_shaped_like_slacks_state_reads_as_empty(values: object) -> None:
    assert read_search_form(values) == {}


# --------------------------------------------------------------------------- same as typing

_TYPED = {
    "area_code": ("areaCode", st.sampled_from(["415", "212", "123", "4155", "abc", ""])),
    "number_type": ("type", st.sampled_from(["local", "toll_free", "Mobile", "landline"])),
    "administrative_area": ("state", st.sampled_from(["ca", "NY", "California", "1"])),
    "features": ("features", st.sampled_from(["voice", "voice,sms", "telepathy"])),
    "contains": ("contains", st.sampled_from(["55", "abc", "12345678901", "5-5"])),
    "country": ("country", st.sampled_from(["us", "GB", "USA"])),
    "best_effort": ("bestEffort", st.sampled_from(["true", "false", "maybe"])),
    "limit": ("limit", st.sampled_from(["1", "50", "0", "51", "-3", "x"])),
}


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(_TYPED)), st.data(), min_size=1))
def test_the_modal_accepts_exactly_what_the_text_command_accepts(picks: dict[str, Any]) -> None:
    raw = {field: data.draw(_TYPED[field][1]) for field, data in picks.items()}
    raw = {k: v for k, v in raw.items() if v}
    typed = parse("search " + " ".join(f"{_TYPED[k][0]}={v}" for k, v in raw.items()))
    checked = check_search_form(raw)
    narrowing = set(raw) - {"limit", "best_effort"}
    if isinstance(typed, Search) and narrowing:
        assert checked == typed.query
    elif isinstance(typed, UsageError):
        assert isinstance(checked, dict)

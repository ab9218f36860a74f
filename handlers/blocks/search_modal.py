"""The search modal (`/numbers` alone, or a "Search numbers" button) and reading it back.

Every filter Flowyte's search takes is a field. What comes back on submit is read into the
same raw text a typed search gives, and checked by the same code
(handlers/commands/search_filters.py), so the modal and `/numbers search` accept and refuse
exactly the same things; a refusal lands under its field (`response_action: errors`).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.flowyte.models import SearchQuery
from handlers import ids
from handlers import search_filters as filters
from handlers.blocks.common import Block, button

EXACT = "exact"  # the one option of the "Exact matches only" checkbox
MAX_ERROR = 150  # characters of an error shown under a field
# Filters that narrow a search; `limit` and exact-only alone are not a search.
NARROWING = (
    "area_code",
    "number_type",
    "locality",
    "administrative_area",
    "features",
    "contains",
    "starts_with",
    "ends_with",
    "country",
)
NOTHING_GIVEN = "Fill in an area code, or at least one other filter."

_TYPES = (
    ("local", "Local"),
    ("toll_free", "Toll-free"),
    ("national", "National"),
    ("mobile", "Mobile"),
)
_FEATURES = (
    ("voice", "Voice"),
    ("sms", "SMS"),
    ("mms", "MMS"),
    ("fax", "Fax"),
    ("emergency", "Emergency calling"),
)
_PATTERN_HINT = "Digits or letters, up to 10; letters are the keypad's digits (CALL = 2255)."


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text}


def _option(value: str, label: str, description: str | None = None) -> Block:
    option: Block = {"text": _plain(label), "value": value}
    if description:
        option["description"] = _plain(description)
    return option


def _text_input(max_length: int, placeholder: str) -> Block:
    return {
        "type": "plain_text_input",
        "action_id": ids.SEARCH_INPUT,
        "max_length": max_length,
        "placeholder": _plain(placeholder),
    }


def _field(field: str, label: str, element: Block, hint: str | None = None) -> Block:
    block: Block = {
        "type": "input",
        "block_id": field,
        "optional": True,
        "label": _plain(label),
        "element": element,
    }
    if hint:
        block["hint"] = _plain(hint)
    return block


def build_search_modal() -> Block:
    """The view for views.open: an input block per filter, all optional, named by field."""
    number_type = {
        "type": "static_select",
        "action_id": ids.SEARCH_INPUT,
        "placeholder": _plain("Any type"),
        "options": [_option(value, label) for value, label in _TYPES],
    }
    features = {
        "type": "checkboxes",
        "action_id": ids.SEARCH_INPUT,
        "options": [_option(value, label) for value, label in _FEATURES],
    }
    exact = {
        "type": "checkboxes",
        "action_id": ids.SEARCH_INPUT,
        "options": [
            _option(EXACT, "Exact matches only", "Otherwise Flowyte offers nearby numbers.")
        ],
    }
    limit = {
        "type": "number_input",
        "action_id": ids.SEARCH_INPUT,
        "is_decimal_allowed": False,
        "min_value": "1",
        "max_value": "50",
        "initial_value": "10",
    }
    return {
        "type": "modal",
        "callback_id": ids.SEARCH_VIEW,
        "title": _plain("Search numbers"),
        "submit": _plain("Search"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Fill in any filters. The numbers found arrive in your DM with numbot, "
                    "each with a *Reserve* button.",
                },
            },
            _field("area_code", "Area code", _text_input(3, "415")),
            _field("number_type", "Type", number_type),
            _field("locality", "City", _text_input(64, "San Francisco")),
            _field("administrative_area", "State", _text_input(2, "CA")),
            _field("features", "Features", features, "Numbers must have every one ticked."),
            _field("contains", "Contains", _text_input(10, "CALL"), _PATTERN_HINT),
            _field("starts_with", "Starts with", _text_input(10, "55"), _PATTERN_HINT),
            _field("ends_with", "Ends with", _text_input(10, "1234"), _PATTERN_HINT),
            _field("country", "Country", _text_input(2, "US")),
            _field("best_effort", "Matching", exact),
            _field("limit", "How many", limit, "1 to 50; Flowyte sends at most 50."),
        ],
    }


def build_search_button() -> Block:
    """An actions block with a "Search numbers" button that opens the modal (for App Home)."""
    return {
        "type": "actions",
        "block_id": "open_search",
        "elements": [button("Search numbers", ids.OPEN_SEARCH, "open", style="primary")],
    }


# -- reading a submission -------------------------------------------------------------------


def _chosen(entry: Mapping[str, Any]) -> list[str] | str | None:
    """What one element holds, whatever its type: the values of ticked checkboxes, a menu's
    choice, or typed text. Anything not shaped like Slack's state is nothing."""
    if "selected_options" in entry:
        picked = entry["selected_options"]
        if not isinstance(picked, list):
            return None
        return [str(o.get("value")) for o in picked if isinstance(o, dict)]
    if "selected_option" in entry:
        option = entry["selected_option"]
        return str(option.get("value")) if isinstance(option, dict) else None
    value = entry.get("value")
    return value if isinstance(value, str) else None


def read_search_form(values: object) -> dict[str, str]:
    """A submission's `view.state.values` -> raw text by SearchQuery field, as if typed.

    Features ticked become `voice,sms`; "Exact matches only" becomes bestEffort=false (left
    unticked, Flowyte's default applies). Empty fields are absent.
    """
    raw: dict[str, str] = {}
    if not isinstance(values, dict):
        return raw
    for field in ids.SEARCH_FIELDS:
        block = values.get(field)
        entry = block.get(ids.SEARCH_INPUT) if isinstance(block, dict) else None
        chosen = _chosen(entry) if isinstance(entry, dict) else None
        if isinstance(chosen, list):
            if field == "best_effort":
                chosen = "false" if chosen == [EXACT] else ",".join(chosen)
            else:
                chosen = ",".join(chosen)
        if chosen is not None and chosen.strip():
            raw[field] = chosen.strip()
    return raw


def check_search_form(raw: Mapping[str, str]) -> SearchQuery | dict[str, str]:
    """The query, or {block_id: message} for `ack(response_action="errors", errors=...)`."""
    checked = filters.check(raw)
    if isinstance(checked, dict):
        # An error lands under its field; one Slack has no block for lands under the first.
        return {
            (field if field in ids.SEARCH_FIELDS else "area_code"): _sentence(message)
            for field, message in checked.items()
        }
    if not any(field in raw for field in NARROWING):
        return {"area_code": NOTHING_GIVEN}
    return checked


def _sentence(message: str) -> str:
    return (message[:1].upper() + message[1:])[:MAX_ERROR]

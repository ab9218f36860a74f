"""`/numbers list` from numbot's index of owned numbers: a page of many, how fresh it is, and
never a list still being read presented as complete."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.flowyte.models import OwnedNumber
from bot.kernel.outcomes import NumberList
from handlers import ids
from handlers.blocks.routing import build_number_list
from tests.handlers.test_blocks import all_text, buttons, check_limits

AS_OF = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)


def rows(start: int, count: int) -> list[OwnedNumber]:
    return [OwnedNumber(id=f"num_{i}", e164=f"+1646{i:07d}") for i in range(start, start + count)]


def test_a_page_deep_in_fifty_thousand_with_its_freshness():
    listed = NumberList(rows(49_980, 20), {}, total=50_000, page=2_499, as_of=AS_OF)
    message = build_number_list(listed, sandbox=False)
    check_limits(message)
    text = all_text(message)
    assert message["text"] == "50000 numbers owned, page 2500 of 2500"
    assert "numbers 49981–50000 of 50000" in text
    assert f"<!date^{int(AS_OF.timestamp())}^" in text and "read from Flowyte" in text
    assert "+16460049999" in text
    labels = {b["action_id"] for b in buttons(message)}
    assert labels == {ids.LIST_PREVIOUS}


def test_a_list_still_being_read_says_so_and_is_not_called_owned():
    listed = NumberList(rows(0, 20), {}, total=1_300, page=0, reading=1_300)
    message = build_number_list(listed, sandbox=False)
    text = all_text(message)
    assert "1300 numbers read so far" in message["text"]
    assert "not complete yet" in text and "owned" not in message["text"]


def test_nothing_read_yet_is_never_no_numbers():
    reading = build_number_list(NumberList([], {}, total=0, reading=0), sandbox=False)
    assert "owns no numbers" not in all_text(reading) and "still reading" in all_text(reading)
    unread = build_number_list(NumberList([], {}, total=0), sandbox=False)
    assert "owns no numbers" not in all_text(unread) and "may be incomplete" in all_text(unread)
    none = build_number_list(NumberList([], {}, total=0, as_of=AS_OF), sandbox=False)
    assert "owns no numbers yet" in all_text(none)

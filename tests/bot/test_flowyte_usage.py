"""The usage items through the client (httpx.MockTransport): only `channel` and `credits` are
required; the fields Flowyte's docs do not describe are read loosely, never refusing the page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.flowyte import errors as fe
from tests.bot.test_flowyte_client import Recorder, connected, raw_ok

FEB, MAR = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)


async def pages(answer: str) -> list:
    client = connected(Recorder(raw_ok(answer)))
    try:
        return [item async for page in client.usage_pages(FEB, MAR) for item in page]
    finally:
        await client.aclose()


async def test_undocumented_fields_of_odd_shapes_leave_the_item_readable():
    items = await pages(
        """[
        {"channel": "number", "credits": 115, "quantity": null, "type": 5, "agentId": 4711,
         "time": "sometime in February", "description": {"lang": "en"}},
        {"channel": "number", "credits": 1.5, "quantity": "lots", "type": ["x"],
         "agentId": true, "time": "2026-02-03T04:05:06"},
        {"channel": "voice", "credits": "40", "quantity": 2.5, "type": "charge",
         "agentId": "agt_1", "time": "2026-02-10T08:00:00Z", "description": "calls"}
    ]"""
    )
    odd, odder, plain = items
    assert (odd.credits, odd.quantity, odd.type, odd.agent_id) == (Decimal(115), None, "5", "4711")
    assert odd.time is None and odd.description is None  # unreadable time: absent, not fatal
    assert (odder.credits, odder.quantity, odder.type, odder.agent_id) == (
        Decimal("1.5"),
        None,
        None,
        None,
    )
    assert odder.time == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)  # no offset: UTC
    assert (plain.quantity, plain.type, plain.agent_id) == (Decimal("2.5"), "charge", "agt_1")
    assert plain.time == datetime(2026, 2, 10, 8, tzinfo=UTC) and plain.description == "calls"


@pytest.mark.parametrize(
    "item",
    [
        '{"channel": "number"}',
        '{"channel": "number", "credits": null}',
        '{"channel": "number", "credits": "a lot"}',
        '{"credits": 115}',
        '{"channel": null, "credits": 115}',
    ],
)
async def test_an_item_without_a_channel_or_credits_is_unreadable_never_zero(item):
    with pytest.raises(fe.UnexpectedAnswer):
        await pages(f"[{item}]")


async def test_the_month_asked_for_is_sent_as_from_and_to():
    recorder = Recorder(raw_ok("[]"))
    client = connected(recorder)
    try:
        assert [page async for page in client.usage_pages(FEB, MAR)] == [[]]
    finally:
        await client.aclose()
    params = recorder.last.url.params
    assert params["from"].startswith("2026-02-01T00:00:00") and params["to"].startswith("2026-03")

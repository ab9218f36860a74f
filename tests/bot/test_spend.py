"""bot/workflow/spend.py against the sandbox: `/numbers spend` answers from what is stored
and never pages Flowyte's usage itself; the reads happen in the background, one at a time;
a month is final only some days after it ended; charges outside the month asked for make it
unreadable, never the all-time total; `numbot report` may read there and then."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

from bot.kernel.costs import NOT_READ, OUTSIDE_THE_MONTH
from bot.workflow.spend import UNREADABLE_USAGE, month_starts
from tests.bot.conftest import REQUESTER

D = Decimal
MONTHS = [s.strftime("%Y-%m") for s in month_starts(datetime(2026, 3, 1, 12, tzinfo=UTC), 6)]


def slow_usage(env, seconds: float) -> list[str]:
    """Every page of Flowyte's usage takes `seconds`; returns the months asked for."""
    asked: list[str] = []
    pages = env.client.usage_pages

    async def slow(start, end):
        asked.append(start.strftime("%Y-%m"))
        await asyncio.sleep(seconds)
        async for page in pages(start, end):
            yield page

    env.client.usage_pages = slow  # type: ignore[method-assign]
    return asked


async def test_spend_waits_briefly_for_a_read_it_began_then_says_not_read_yet(env):
    env.sandbox.charge("number", D(1), D("115"), "rental", datetime(2026, 2, 2, tzinfo=UTC))
    service = env.new_service()
    service.spend_book.wait = 0.2
    slow_usage(env, 1.0)
    began = time.monotonic()
    report = await service.spend(REQUESTER)
    assert time.monotonic() - began < 0.8  # bounded: never the read itself
    assert [m.month for m in report.months] == MONTHS
    assert all(m.charged is None and m.unreadable == NOT_READ for m in report.months)
    await service.spend_book.start()  # the read it began goes on, in the background
    report = await service.spend(REQUESTER)
    february = report.months[-2]
    assert february.charged == D("1.15") and not february.complete  # ended 12 hours ago
    assert report.months[-1].charged == D(0) and report.months[-1].read_at == env.clock()


async def test_spend_never_reads_flowyte_while_what_is_stored_is_fresh(env):
    service = env.new_service()
    await service.spend(REQUESTER)  # a small organization: read within the wait
    asked = slow_usage(env, 0.0)
    env.clock.advance(minutes=5)
    report = await service.spend(REQUESTER)
    assert asked == [] and all(m.charged is not None for m in report.months)
    env.clock.advance(minutes=15)  # the months not final are read again, in the background
    await service.spend(REQUESTER)
    assert sorted(asked) == ["2026-02", "2026-03"]  # February ended a few hours ago


async def test_the_sweep_s_holder_reads_in_the_background_one_read_at_a_time(env):
    service = env.new_service()
    book = service.spend_book
    asked = slow_usage(env, 0.3)
    began = time.monotonic()
    await book.keep_read()
    await book.keep_read()  # a read under way: not a second one
    assert time.monotonic() - began < 0.2  # the sweep never waits for it
    await book.start()  # (the read under way)
    assert sorted(asked) == MONTHS  # each month once
    assert sorted(await env.storage.run(env.storage.costs.month_usages, MONTHS)) == MONTHS
    await book.keep_read()  # nothing is due
    assert len(asked) == 6
    env.clock.advance(minutes=15)
    await book.keep_read()
    await book.start()
    assert sorted(asked[6:]) == ["2026-02", "2026-03"]  # the months not final, again


async def test_a_month_is_final_only_some_days_after_it_ended(env):
    service = env.new_service()
    book = service.spend_book
    env.clock.now = datetime(2026, 3, 2, 12, tzinfo=UTC)  # February ended 36 hours ago
    await book.read_month(datetime(2026, 2, 1, tzinfo=UTC))
    kept = await env.storage.run(env.storage.costs.month_usage, "2026-02")
    assert kept is not None and not kept.complete  # rental items may post late
    env.sandbox.charge("number", D(1), D("200"), "late rental", datetime(2026, 2, 28, tzinfo=UTC))
    env.clock.advance(days=2)  # 3.5 days after February ended
    await book.read_month(datetime(2026, 2, 1, tzinfo=UTC))
    kept = await env.storage.run(env.storage.costs.month_usage, "2026-02")
    assert kept is not None and kept.complete and kept.number_credits == D("200")
    asked = slow_usage(env, 0.0)
    env.clock.advance(days=30)
    await book.keep_read()
    await book.start()
    assert "2026-02" not in asked  # final: never read again


async def test_charges_outside_the_month_asked_for_make_it_unreadable_never_the_total(env):
    """Flowyte's from/to are inferred: one that ignored them would answer every charge ever."""
    everything = {
        "success": True,
        "data": [
            {"time": "2026-02-10T00:00:00Z", "channel": "number", "credits": "115"},
            {"time": "2025-06-10T00:00:00Z", "channel": "number", "credits": "115"},
        ],
    }
    env.transport.fail("GET", "/billing/usage/items", 200, times=6, body=everything)
    report = await env.service.spend(REQUESTER)
    assert all(m.charged is None for m in report.months)
    assert {m.unreadable for m in report.months} == {OUTSIDE_THE_MONTH}
    assert await env.storage.run(env.storage.costs.month_usages, MONTHS) == {}


async def test_a_failed_read_is_not_tried_again_at_once(env):
    service = env.new_service()
    asked = slow_usage(env, 0.0)
    env.transport.fail("GET", "/billing/usage/items", 503, times=50)
    report = await service.spend(REQUESTER)
    assert len(asked) == 6 and all(m.unreadable and m.charged is None for m in report.months)
    await service.spend_book.keep_read()
    await service.spend(REQUESTER)
    assert len(asked) == 6
    env.clock.advance(minutes=15)
    await service.spend(REQUESTER)
    assert len(asked) == 12


async def test_the_report_reads_a_month_that_is_not_final_there_and_then(env):
    service = env.new_service()
    await service.spend(REQUESTER)  # March, read just now
    env.sandbox.charge("number", D(1), D("115"), "rental", env.clock())
    env.clock.advance(seconds=1)
    stored = await service.spend_book.month(datetime(2026, 3, 1, tzinfo=UTC))
    assert stored.charged == D(0)  # as read a second ago
    month = await service.spend_book.month(datetime(2026, 3, 1, tzinfo=UTC), read=True)
    assert month.charged == D("1.15")


async def test_an_item_numbot_cannot_read_leaves_the_month_unread_and_says_so(env):
    """Not a FlowyteError (a `credits: true` pydantic passes through as a TypeError): the month
    is failed, said so, and not read again at every sweep pass."""
    service = env.new_service()
    asked = slow_usage(env, 0.0)
    odd = {"success": True, "data": [{"channel": "number", "credits": True}]}
    env.transport.fail("GET", "/billing/usage/items", 200, times=6, body=odd)
    report = await service.spend(REQUESTER)
    assert {m.unreadable for m in report.months} == {UNREADABLE_USAGE}
    assert all(m.charged is None for m in report.months)
    assert len(asked) == 6
    await service.spend_book.keep_read()
    await asyncio.sleep(0)
    assert len(asked) == 6  # not read again at the next sweep pass


async def test_the_report_never_passes_an_older_figure_off_as_a_month_it_failed_to_read(env):
    service = env.new_service()
    await service.spend(REQUESTER)  # every month read (March not final)
    env.transport.fail("GET", "/billing/usage/items", 503, times=5)
    month = await service.spend_book.month(datetime(2026, 3, 1, tzinfo=UTC), read=True)
    assert month.charged is None and month.unreadable

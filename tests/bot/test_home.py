"""App Home, headless: the facts the service reads for a person, and who is redrawn when."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.kernel.home import Home
from bot.kernel.outcomes import Decided, Held, Requested
from bot.slack.pace import SlackPacer, background_calls
from bot.workflow.home import HomeReader, month_bounds
from bot.workflow.home_refresh import HomeRefresher, concerned
from storage.requests import AuditNote, Request
from tests.bot.conftest import APPROVER, APPROVERS, REQUESTER, STRANGER, RecordingNotifier
from tests.bot.test_slack_pace import FakeTime

SECOND = APPROVERS[1]


class HomeNotifier(RecordingNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.homes: list[tuple[str, Home]] = []
        self.failing = False

    async def publish_home(self, user_id: str, home: Home) -> None:
        if self.failing:
            raise RuntimeError("Slack said no")
        self.homes.append((user_id, home))

    def of(self, user: str) -> list[Home]:
        return [home for who, home in self.homes if who == user]


async def held(env, index: int = 0, user: str = REQUESTER) -> Request:
    result = await env.service.reserve(user, env.e164(index))
    assert isinstance(result, Held), result
    return result.request


async def pending(env, index: int = 0, user: str = REQUESTER) -> Request:
    hold = await held(env, index, user)
    result = await env.service.request_purchase(user, hold.id, "support line")
    assert isinstance(result, Requested), result
    return result.request


# -- the month ---------------------------------------------------------------------------------


def test_month_bounds_are_the_utc_calendar_month():
    assert month_bounds(datetime(2030, 3, 15, 12, tzinfo=UTC)) == (
        datetime(2030, 3, 1, tzinfo=UTC),
        datetime(2030, 4, 1, tzinfo=UTC),
    )
    assert month_bounds(datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)) == (
        datetime(2030, 12, 1, tzinfo=UTC),
        datetime(2031, 1, 1, tzinfo=UTC),
    )
    # 1 April 01:30 in Paris is still 31 March in UTC.
    paris = datetime(2030, 4, 1, 1, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert month_bounds(paris) == (
        datetime(2030, 3, 1, tzinfo=UTC),
        datetime(2030, 4, 1, tzinfo=UTC),
    )


async def bought_at(env, moment: datetime, setup: str, monthly: str) -> None:
    """A request that became `purchased` at `moment` (the store stamps it by the clock)."""
    store = env.storage.requests
    env.clock.now = moment - timedelta(minutes=1)
    request = store.create(
        AuditNote(REQUESTER, "request_purchase"),
        kind="purchase",
        status="pending",
        e164="+14155550100",
        requester=REQUESTER,
        setup_cost=Decimal(setup),
        monthly_cost=Decimal(monthly),
    )
    env.clock.now = moment
    assert store.transition(
        request.id,
        from_statuses=("pending",),
        to_status="purchased",
        note=AuditNote("numbot", "purchase"),
    )


async def test_this_month_s_spend_counts_purchases_in_the_utc_month_in_decimal(env):
    march = datetime(2030, 3, 1, tzinfo=UTC)
    april = datetime(2030, 4, 1, tzinfo=UTC)
    tick = timedelta(microseconds=1)
    await bought_at(env, march - tick, "100", "100")  # February: not this month
    await bought_at(env, march, "0.10", "0.20")  # the first instant of March
    await bought_at(env, april - tick, "1.10", "0.05")  # the last instant of March
    await bought_at(env, april, "100", "100")  # April
    env.clock.now = datetime(2030, 3, 31, 23, 0, tzinfo=UTC)
    spend = (await env.service.home(APPROVER)).spend
    assert spend.month == march and spend.purchases == 2
    assert isinstance(spend.total, Decimal) and spend.total == Decimal("1.45")
    assert str(spend.total) == "1.45"  # 0.1 + 0.2 in floats would not be 0.3
    env.clock.now = april
    assert (await env.service.home(APPROVER)).spend.total == Decimal("200")


async def test_spend_ignores_requests_that_did_not_buy(env):
    request = await pending(env)
    assert isinstance(await env.service.reject(APPROVER, request.id), Decided)
    await pending(env, 1)
    spend = (await env.service.home(APPROVER)).spend
    assert (spend.total, spend.purchases) == (Decimal(0), 0)


# -- the facts ---------------------------------------------------------------------------------


async def test_a_person_sees_their_holds_and_requests_and_nobody_else_s(env):
    mine = await held(env, 0)
    asked = await pending(env, 1)
    theirs = await held(env, 2, user=STRANGER)
    home = await env.service.home(REQUESTER)
    assert [r.id for r in home.holds.rows] == [mine.id] and home.holds.total == 1
    assert [r.id for r in home.requests] == [asked.id]
    stranger = await env.service.home(STRANGER)
    assert [r.id for r in stranger.holds.rows] == [theirs.id] and stranger.requests == []
    assert not stranger.approver and stranger.waiting.rows == []


async def test_a_lapsed_hold_is_not_offered(env):
    hold = await held(env)
    assert hold.hold_expires_at is not None
    env.clock.now = hold.hold_expires_at
    assert (await env.service.home(REQUESTER)).holds.rows == []


async def test_own_requests_never_wait_for_their_requester(env):
    # REQUESTER is an approver too in these tests: they may approve others', not their own.
    assert REQUESTER in env.service.ctx.approvers.known()
    own = await pending(env, 0, user=REQUESTER)
    other = await pending(env, 1, user=SECOND)
    assert [r.id for r in (await env.service.home(REQUESTER)).waiting.rows] == [other.id]
    waiting = (await env.service.home(APPROVER)).waiting
    assert {r.id for r in waiting.rows} == {own.id, other.id} and waiting.total == 2


async def test_requests_under_way_come_first_then_the_last_settled(env):
    settled = []
    for i in range(7):
        request = await pending(env, i)
        env.clock.advance(seconds=1)
        assert isinstance(await env.service.reject(APPROVER, request.id), Decided)
        settled.append(request.id)
    open_one = await pending(env, 8)
    rows = (await env.service.home(REQUESTER)).requests
    assert [r.id for r in rows] == [open_one.id, *reversed(settled[-5:])]
    assert [r.status for r in rows] == ["pending"] + ["rejected"] * 5


async def test_wallet_from_flowyte_numbers_from_the_index_never_a_walk(env):
    assert await env.service.owned.refresh() is True  # what numbot does in the background
    before = len(env.app.calls("GET", "/numbers"))
    home = await env.service.home(APPROVER)
    assert home.wallet == Decimal("25.00")
    assert home.numbers is not None
    assert len(env.app.calls("GET", "/numbers")) == before  # a redraw walks nothing
    owned = await env.client.list_numbers()
    assert {n.e164 for n in home.numbers} == {n.e164 for n in owned}
    assert home.numbers_total == len(owned)


async def test_home_says_the_numbers_are_still_being_read_before_the_first_read_ends(env):
    """Not "numbot could not reach Flowyte": the index is still being read, N so far."""
    from handlers.blocks.home import build_home

    home = await env.service.home(REQUESTER)
    assert home.numbers is None and home.numbers_reading == 0
    env.storage.owned.refresh_started(env.clock())
    env.storage.owned.refresh_seen(1200)
    env.service.home_reader.forget()
    home = await env.service.home(REQUESTER)
    assert home.numbers_reading == 1200
    text = str(build_home(home, sandbox=False)["blocks"])
    assert "still reading your numbers from Flowyte (1200 so far)" in text
    assert "could not reach Flowyte" not in text


async def test_flowyte_unreachable_leaves_the_rest_of_home(env):
    await held(env)
    env.transport.fail("GET", "/billing/wallet", "connect", times=5)
    env.transport.fail("GET", "/numbers", 503, times=5)
    home = await env.service.home(REQUESTER)
    assert home.wallet is None and home.numbers is None
    assert len(home.holds.rows) == 1  # what SQLite knows is still there


async def test_flowyte_too_slow_is_not_waited_for(env):
    reader = HomeReader(
        env.service.ctx, lambda: env.service.agents(), env.service.owned, flowyte_wait=0.0
    )
    home = await reader.read(REQUESTER)
    assert home.wallet is None


async def test_reads_for_several_homes_at_once_are_shared(env):
    before = len(env.app.calls("GET", "/billing/wallet"))
    homes = await asyncio.gather(*(env.service.home(a) for a in APPROVERS[:5]))
    assert {h.wallet for h in homes} == {Decimal("25.00")}
    assert len(env.app.calls("GET", "/billing/wallet")) - before == 1


# -- who is redrawn, and when ----------------------------------------------------------------


def test_concerned_people():
    approvers = frozenset({"UA", "UB"})
    request = Request(
        id="req_000000000001",
        kind="purchase",
        status="held",
        e164="+14155550100",
        requester="UR",
        created_at="2030-01-01T00:00:00.000000Z",
        updated_at="2030-01-01T00:00:00.000000Z",
    )
    assert concerned(request, (), approvers) == {"UR"}  # a new hold
    pending_ = Request(**{**request.__dict__, "status": "pending"})
    assert concerned(pending_, ("held",), approvers) == {"UR", "UA", "UB"}  # now waiting
    bought = Request(**{**request.__dict__, "status": "purchased"})
    assert concerned(bought, ("purchasing", "checking"), approvers) == {"UR", "UA", "UB"}


@pytest.fixture
async def live(env):
    """A service whose Home redraws run, as in the real app; closed after the test."""
    notifier = HomeNotifier()
    service = env.new_service(notifier=notifier)
    service.homes.start()
    yield service, notifier
    await service.homes.aclose()


async def test_opening_home_draws_it(env, live):
    service, notifier = live
    await service.home_opened(APPROVER)
    [(user, home)] = notifier.homes
    assert user == APPROVER and home.approver and home.wallet == Decimal("25.00")


async def test_a_move_redraws_those_who_opened_home_and_nobody_else(env, live):
    service, notifier = live
    await service.home_opened(REQUESTER)
    await service.home_opened(APPROVER)
    notifier.homes.clear()
    hold = await service.reserve(REQUESTER, env.e164(0))
    assert isinstance(hold, Held)
    await service.homes.drain()
    # A new hold concerns its holder only.
    assert [u for u, _ in notifier.homes] == [REQUESTER]
    assert [r.id for r in notifier.of(REQUESTER)[-1].holds.rows] == [hold.request.id]
    requested = await service.request_purchase(REQUESTER, hold.request.id, "support")
    assert isinstance(requested, Requested)
    await service.homes.drain()
    # Requested: it waits for the approvers now; SECOND never opened Home, so is not drawn.
    assert {u for u, _ in notifier.homes} == {REQUESTER, APPROVER}
    assert [r.id for r in notifier.of(APPROVER)[-1].waiting.rows] == [hold.request.id]
    assert notifier.of(REQUESTER)[-1].holds.rows == []
    decided = await service.approve(APPROVER, hold.request.id)
    assert isinstance(decided, Decided)
    await service.homes.drain()
    assert notifier.of(APPROVER)[-1].waiting.rows == []
    assert [r.status for r in notifier.of(REQUESTER)[-1].requests] == ["purchased"]
    assert notifier.of(APPROVER)[-1].spend.purchases == 1
    assert SECOND not in {u for u, _ in notifier.homes}


async def test_who_opened_home_is_remembered_across_a_restart(env, live):
    service, _ = live
    await service.home_opened(APPROVER)
    notifier = HomeNotifier()
    restarted = env.new_service(notifier=notifier, fresh_db=True)
    restarted.homes.start()
    try:
        await pending(env, 0)  # on the first service: a move the restarted one does not see
        request = await pending(env, 1)
        assert isinstance(await restarted.reject(APPROVER, request.id), Decided)
        await restarted.homes.drain()
        assert [u for u, _ in notifier.homes] == [APPROVER]
    finally:
        await restarted.homes.aclose()


async def test_a_failed_redraw_never_undoes_a_decision(env, live):
    service, notifier = live
    await service.home_opened(APPROVER)
    await service.home_opened(REQUESTER)
    hold = await service.reserve(REQUESTER, env.e164(0))
    assert isinstance(hold, Held)
    await service.request_purchase(REQUESTER, hold.request.id, "support")
    await service.homes.drain()
    notifier.failing = True
    decided = await service.approve(APPROVER, hold.request.id)
    assert isinstance(decided, Decided) and decided.request.status == "purchased"
    await service.homes.drain()
    assert len(env.purchases()) == 1
    notifier.failing = False  # the next change draws again
    await service.home_opened(APPROVER)
    assert notifier.of(APPROVER)[-1].waiting.rows == []


class PacedNotifier(HomeNotifier):
    """Publishes Home through a real SlackPacer on fake time, whose views.publish budget
    people have spent down: a background call waits for it (and the wait is recorded), a
    call for a person goes at once."""

    def __init__(self) -> None:
        super().__init__()
        self.time = FakeTime()
        self.pacer = SlackPacer(clock=self.time.clock, sleep=self.time.sleep)
        self.paced: list[tuple[str, bool]] = []  # (user, waited for the budget)

    async def spend_the_budget(self) -> None:
        for _ in range(60):  # people's calls: never held, they use the bucket up
            await self.pacer.wait("views.publish")

    async def publish_home(self, user_id: str, home: Home) -> None:
        slept = len(self.time.slept)
        await self.pacer.wait("views.publish")
        self.paced.append((user_id, len(self.time.slept) > slept))
        await super().publish_home(user_id, home)


async def test_a_home_redraw_a_click_causes_is_paced_as_background_and_opening_home_is_not(env):
    notifier = PacedNotifier()
    service = env.new_service(notifier=notifier)
    service.ctx.background = background_calls  # as bot/process/runtime.py wires it
    service.homes.start()
    try:
        await service.home_opened(APPROVER)
        await service.home_opened(REQUESTER)
        request = await pending(env, 0)
        await service.homes.drain()
        await notifier.spend_the_budget()
        notifier.paced.clear()
        decided = await service.approve(APPROVER, request.id)  # a click, in a person's context
        assert isinstance(decided, Decided)
        await service.homes.drain()
        assert notifier.paced and all(waited for _, waited in notifier.paced)
        assert {user for user, _ in notifier.paced} == {APPROVER, REQUESTER}
        await notifier.spend_the_budget()
        notifier.paced.clear()
        await service.home_opened(APPROVER)  # they look now: their call, not held
        assert notifier.paced == [(APPROVER, False)]
    finally:
        await service.homes.aclose()


# -- coalescing --------------------------------------------------------------------------------


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


class Draws:
    def __init__(self, seen: set[str] | None = None) -> None:
        self.seen = seen if seen is not None else {"U1", "U2"}
        self.drawn: list[tuple[str, float]] = []
        self.fail = False

    async def publish(self, user: str) -> None:
        self.drawn.append((user, asyncio.get_running_loop().time()))
        if self.fail:
            raise RuntimeError("no")

    async def among(self, users: list[str]) -> set[str]:
        return self.seen & set(users)

    def of(self, user: str) -> list[float]:
        return [at for who, at in self.drawn if who == user]


async def test_a_burst_of_changes_is_drawn_at_most_once_per_interval():
    draws = Draws()
    refresher = HomeRefresher(draws.publish, draws.among, interval=0.3)
    refresher.start()
    try:
        for _ in range(20):
            last_change = asyncio.get_running_loop().time()
            refresher.changed(["U1", "U2", "U3"])
            await asyncio.sleep(0)  # let the lookups run between changes
        await refresher.drain()
        for user in ("U1", "U2"):
            times = draws.of(user)
            assert 1 <= len(times) <= 2  # the first change at once, the rest after the interval
            assert times[-1] >= last_change  # the last draw shows the last change
            assert all(b - a >= 0.25 for a, b in itertools.pairwise(times))
        assert draws.of("U3") == []  # never opened Home
    finally:
        await refresher.aclose()


async def test_a_change_during_a_draw_is_drawn_again():
    gate = asyncio.Event()
    drawn: list[str] = []

    async def slow(user: str) -> None:
        drawn.append(user)
        if len(drawn) == 1:
            await gate.wait()

    async def everyone(users: list[str]) -> set[str]:
        return set(users)

    refresher = HomeRefresher(slow, everyone, interval=0.05)
    refresher.start()
    try:
        refresher.changed(["U1"])
        await until(lambda: drawn == ["U1"])
        refresher.changed(["U1"])  # arrives while the first draw is still out
        await until(lambda: refresher.due == {"U1"})
        gate.set()
        await refresher.drain()
        assert drawn == ["U1", "U1"]
    finally:
        await refresher.aclose()


async def test_a_failing_draw_is_logged_and_the_next_one_still_happens(caplog):
    draws = Draws()
    draws.fail = True
    refresher = HomeRefresher(draws.publish, draws.among, interval=0.01)
    refresher.start()
    try:
        refresher.changed(["U1"])
        await refresher.drain()
        assert "could not redraw the Home of U1" in caplog.text
        draws.fail = False
        refresher.changed(["U1"])
        await refresher.drain()
        assert len(draws.of("U1")) == 2
    finally:
        await refresher.aclose()


async def test_before_start_nothing_runs_in_the_background_and_close_drops_what_is_due():
    draws = Draws()
    refresher = HomeRefresher(draws.publish, draws.among, interval=60)
    refresher.changed(["U1"])  # not started: a service without a running app
    await refresher.drain()
    assert draws.drawn == []
    await refresher.now("U1")  # opening Home still draws it, inline
    assert draws.of("U1")
    refresher.start()
    refresher.changed(["U1"])  # due in a minute (drawn a moment ago)...
    await asyncio.sleep(0.05)
    await refresher.aclose()  # ...and dropped at shutdown
    assert len(draws.of("U1")) == 1

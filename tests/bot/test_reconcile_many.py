"""Settling an unknown outcome at any count of owned numbers (bot/workflow/checking.py):
"bought" as soon as the number is seen in the owned list, however long the list is, by one
look that keeps its claim while it reads; "not bought" only from a refused replay, without
reading the list at all."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from bot.kernel.outcomes import Refused
from bot.workflow import Timing
from tests.bot.conftest import APPROVER
from tests.bot.test_execution import pending, status_of


class SlowPages:
    """Each page of GET /numbers takes `seconds` of the client's clock and of numbot's."""

    def __init__(self, env, monkeypatch, seconds: float, on_page=None) -> None:
        self.now = 1000.0
        self.pages = 0
        self.seconds = seconds
        self.on_page = on_page
        monkeypatch.setattr("bot.flowyte.client.time.monotonic", self.monotonic)
        inner = env.transport.handle_async_request
        self.env = env

        async def handle(request: httpx.Request) -> httpx.Response:
            if request.method == "GET" and request.url.path.endswith("/numbers"):
                self.pages += 1
                self.now += seconds
                env.clock.advance(seconds=seconds)
                if self.on_page is not None:
                    self.on_page(self.pages)
            return await inner(request)

        monkeypatch.setattr(env.transport, "handle_async_request", handle)

    def monotonic(self) -> float:
        return self.now


async def test_bought_is_found_in_a_list_far_longer_than_any_time_budget(env, monkeypatch):
    env.sandbox.configure(page_size=10)
    env.sandbox.seed_owned(300)
    request = await pending(env)
    env.transport.fail("POST", "/numbers/purchase", "lost")  # bought, answer lost
    env.transport.fail("POST", "/numbers/purchase", 503, times=2)  # the replays fail
    slow = SlowPages(env, monkeypatch, seconds=1.0)  # 31 pages: 31 s, past the 6 s budget
    result = await env.service.approve(APPROVER, request.id)
    # The approver's click waits only for a first look of one quiet window (0 s here): it
    # read two pages, proved nothing, and left the list to the sweep.
    assert isinstance(result, Refused) and result.code == "checking"
    assert status_of(env, request.id) == "checking" and slow.pages == 2
    assert await env.service.resume() == 1
    assert status_of(env, request.id) == "purchased"
    assert slow.pages == 2 + 31  # the sandbox lists it last: every page, to where it was seen
    assert await env.storage.run(env.storage.owned.find, request.e164) is not None


async def test_the_claim_moves_forward_while_a_long_list_is_read(env, monkeypatch):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    env.sandbox.configure(page_size=10)
    env.sandbox.seed_owned(300)
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "lost")  # bought, answer lost
    env.transport.fail("POST", "/numbers/purchase", 503, times=2)  # the replays fail
    claims = []
    slow = SlowPages(
        env,
        monkeypatch,
        seconds=2.0,  # 31 pages, 62 s: twice the look's 30 s lease
        on_page=lambda _: claims.append(env.storage.requests.get(request.id).next_check_at),
    )
    result = await service.approve(APPROVER, request.id)
    # The click's own look reads one quiet window's worth of pages (10 s) and leaves the rest.
    assert isinstance(result, Refused) and result.code == "checking"
    first = slow.pages
    assert 0 < first < 31
    claims.clear()
    env.clock.advance(seconds=11)
    assert await service.resume() == 1
    assert slow.pages - first == 31  # read to the page that shows it
    assert status_of(env, request.id) == "purchased"
    assert len(set(claims)) > 2  # the claim moved forward as the pages came


async def test_a_refused_replay_settles_it_without_reading_the_list(env, monkeypatch):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    env.sandbox.configure(page_size=10)
    env.sandbox.seed_owned(300)
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout")  # never reached Flowyte
    refused = {"status": 409, "code": "reservation_expired"}
    env.transport.fail("POST", "/numbers/purchase", 409, body=refused)
    slow = SlowPages(env, monkeypatch, seconds=2.0)
    result = await service.approve(APPROVER, request.id)
    assert isinstance(result, Refused) and result.code == "expired"
    assert slow.pages == 0
    assert env.sandbox.balance == Decimal("25.00")


async def test_a_look_that_lost_its_claim_mid_list_concludes_nothing(env, monkeypatch, caplog):
    service = env.new_service(timing=Timing(quiet=10, grace=0))
    env.sandbox.configure(page_size=10)
    env.sandbox.seed_owned(300)
    request = await pending(env, service=service)
    env.transport.fail("POST", "/numbers/purchase", "timeout")
    env.transport.fail("POST", "/numbers/purchase", 503, times=2)  # the replays fail
    await service.approve(APPROVER, request.id)

    def rival(page: int) -> None:
        if page == 5:  # another process takes the look over (a claim this one let lapse)
            due = env.storage.requests.get(request.id).next_check_at
            later = env.clock() + timedelta(minutes=5)
            assert env.storage.requests.claim_check(request.id, due, later)

    slow = SlowPages(env, monkeypatch, seconds=2.0, on_page=rival)
    env.clock.advance(seconds=11)
    await service.resume()
    assert slow.pages < 30  # it stopped reading
    assert status_of(env, request.id) == "checking"  # and decided nothing
    assert "another process took the look over" in caplog.text
    assert not [e for e in env.audit() if e.subject == request.id and e.outcome == "failed"][1:]

"""bot/workflow/painter.py: card redraws in the background, one worker per request,
coalesced, always ending with the request as it stands."""

from __future__ import annotations

import asyncio

from bot.workflow.painter import Painter


class Slow:
    """A draw that takes as long as the test lets it, recording what it drew."""

    def __init__(self) -> None:
        self.drawn: list[tuple[str, bool, str]] = []
        self.first: list[frozenset[str]] = []
        self.state: dict[str, str] = {}
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def __call__(self, request_id: str, counted: bool, first: frozenset[str]) -> None:
        await self.gate.wait()
        self.first.append(first)
        if self.fail:
            raise ConnectionError("slack down")
        self.drawn.append((request_id, counted, self.state.get(request_id, "?")))


async def test_paint_returns_at_once_and_draws_in_the_background():
    draw = Slow()
    draw.gate.clear()  # Slack is slow
    painter = Painter(draw)
    painter.start()
    painter.paint("req_1")
    assert painter.pending == 1 and draw.drawn == []  # the caller did not wait
    draw.state["req_1"] = "purchased"
    draw.gate.set()
    await painter.drain()
    assert draw.drawn == [("req_1", False, "purchased")]


async def test_moves_while_a_redraw_is_under_way_are_drawn_once_more_ending_with_the_last():
    draw = Slow()
    draw.gate.clear()
    painter = Painter(draw)
    painter.start()
    draw.state["req_1"] = "approved"
    painter.paint("req_1")
    await asyncio.sleep(0)  # the worker has started its first draw and waits on Slack
    for state in ("purchasing", "checking", "purchased"):
        draw.state["req_1"] = state
        painter.paint("req_1", counted=state == "purchasing")
    draw.gate.set()
    await painter.drain()
    assert [d[2] for d in draw.drawn] == ["purchased", "purchased"]  # never an older state
    assert draw.drawn[-1][1] is True  # a counted approval among the coalesced moves is kept
    assert len(draw.drawn) == 2


async def test_each_request_has_its_own_worker_and_a_failure_stops_no_other():
    draw = Slow()
    painter = Painter(draw)
    painter.start()
    draw.fail = True
    painter.paint("req_1")
    await painter.drain()
    draw.fail = False
    painter.paint("req_2")
    painter.paint("req_3")
    await painter.drain()
    assert sorted(d[0] for d in draw.drawn) == ["req_2", "req_3"]
    assert painter.pending == 0


async def test_a_stop_gives_redraws_under_way_a_grace_then_drops_them():
    draw = Slow()
    draw.gate.clear()
    painter = Painter(draw)
    painter.start()
    painter.paint("req_1")
    await painter.aclose(grace=0.05)
    assert painter.pending == 0 and not painter.started and draw.drawn == []


async def test_whoever_clicked_since_the_last_draw_is_drawn_first():
    draw = Slow()
    draw.gate.clear()
    painter = Painter(draw)
    painter.start()
    painter.paint("req_1", first="U0BOB")
    await asyncio.sleep(0)  # the first draw is under way
    painter.paint("req_1", counted=True, first="U0CAROL")
    painter.paint("req_1")  # a move nobody clicked (the purchase settling)
    draw.gate.set()
    await painter.drain()
    assert draw.first == [frozenset({"U0BOB"}), frozenset({"U0CAROL"})]

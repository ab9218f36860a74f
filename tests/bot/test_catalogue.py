"""The agent list behind the type-ahead agent menu: read once for a burst of keystrokes."""

from __future__ import annotations

import asyncio

import pytest

from bot.flowyte.models import Agent


def agent_reads(env) -> int:
    return len(env.app.calls("GET", "/agents"))


async def test_without_max_age_every_call_reads(env) -> None:
    await env.service.agents()
    await env.service.agents()
    assert agent_reads(env) == 2


async def test_a_recent_list_serves_the_next_keystrokes(env) -> None:
    first = await env.service.agents(max_age=20)
    assert {a.id for a in first} >= {"agt_support", "agt_sales"}
    assert await env.service.agents(max_age=20) == first
    assert agent_reads(env) == 1
    env.clock.advance(seconds=21)
    await env.service.agents(max_age=20)
    assert agent_reads(env) == 2


async def test_keystrokes_at_once_share_one_read(env) -> None:
    lists = await asyncio.gather(*(env.service.agents(max_age=20) for _ in range(5)))
    assert agent_reads(env) == 1
    assert all(found == lists[0] for found in lists)


async def test_a_failed_read_is_not_kept(env) -> None:
    env.transport.fail("GET", "/agents", "connect", times=2)  # reads are retried once
    assert await env.service.agents(max_age=20) == []
    assert [a.id for a in await env.service.agents(max_age=20)]  # read again, and found
    assert agent_reads(env) == 1  # the refused connection never reached the sandbox


async def test_a_caller_that_stops_waiting_does_not_cancel_the_read(env, monkeypatch) -> None:
    release = asyncio.Event()
    reads = 0

    async def slow_list_agents() -> list[Agent]:
        nonlocal reads
        reads += 1
        await release.wait()
        return [Agent.model_validate({"id": "agt_late", "name": "Late"})]

    monkeypatch.setattr(env.client, "list_agents", slow_list_agents)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(env.service.agents(max_age=20), 0.05)
    release.set()
    found = await env.service.agents(max_age=20)  # the same read, finished
    assert [a.id for a in found] == ["agt_late"] and reads == 1
    assert [a.id for a in await env.service.agents(max_age=20)] == ["agt_late"] and reads == 1

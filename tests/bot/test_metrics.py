"""bot/ops/metrics.py and the observers that feed it: names, labels, one registry per app."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.flowyte.client import FlowyteClient
from bot.flowyte.errors import FlowyteUnavailable
from bot.flowyte.retry import NO_RETRY
from bot.ops.metrics import Metrics, outcome_of
from bot.slack.bolt_app import request_kind


def samples(text: bytes) -> dict:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        assert family.name.startswith(("numbot_", "process_"))
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_two_apps_in_one_process_keep_their_own_counts():
    one, two = Metrics(), Metrics()
    one.slack_request("command", 200, 0.01)
    one.slack_request("nonsense", 500, 0.01)
    two.slack_request("action", 404, 0.2)
    first = samples((await one.render())[0])
    second = samples((await two.render())[0])
    assert first[("numbot_slack_requests_total", (("kind", "command"), ("outcome", "ok")))] == 1
    assert first[("numbot_slack_requests_total", (("kind", "other"), ("outcome", "error")))] == 1
    assert ("numbot_slack_requests_total", (("kind", "command"), ("outcome", "ok"))) not in second
    assert (
        second[("numbot_slack_requests_total", (("kind", "action"), ("outcome", "unhandled")))] == 1
    )


async def test_ends_of_requests_count_by_outcome_and_gauges_are_read_at_scrape():
    metrics = Metrics(clock=lambda: 1234.0)
    for kind, status in [("purchase", "held"), ("purchase", "purchased"), ("release", "failed")]:
        metrics.request_moved(kind, status)
    metrics.flowyte_call("/numbers/search", "GET", "200", 0.05)

    async def read(m: Metrics) -> None:
        m.requests.labels("pending").set(3)

    async def broken(m: Metrics) -> None:
        raise RuntimeError("the database is away")

    metrics.on_scrape(broken)
    metrics.on_scrape(read)
    metrics.slack_contact(lambda: None)
    got = samples((await metrics.render())[0])
    assert got[("numbot_purchases_total", (("outcome", "purchased"),))] == 1
    assert ("numbot_purchases_total", (("outcome", "held"),)) not in got
    assert got[("numbot_releases_total", (("outcome", "failed"),))] == 1
    assert got[("numbot_requests", (("status", "pending"),))] == 3
    assert got[("numbot_flowyte_last_contact_timestamp_seconds", ())] == 1234.0
    assert got[("numbot_slack_last_contact_timestamp_seconds", ())] == 0.0


def test_request_kinds_and_outcomes():
    assert request_kind({"command": "/numbers"}) == "command"
    assert request_kind({"type": "block_actions"}) == "action"
    assert request_kind({"type": "view_submission"}) == "view"
    assert request_kind({"type": "block_suggestion"}) == "options"
    assert request_kind({"type": "event_callback"}) == "event"
    assert request_kind({"type": "shortcut"}) == "other"
    assert [outcome_of(s) for s in (200, 404, 401, 500)] == ["ok", "unhandled", "error", "error"]


class Seen:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def flowyte_call(self, route: str, method: str, status: str, seconds: float) -> None:
        assert seconds >= 0
        self.calls.append((route, method, status))


def answer_with_a_number(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": {"id": "num_1", "e164": "+14155550123"}})


async def test_the_flowyte_client_reports_route_templates_never_numbers():
    http = httpx.AsyncClient(
        base_url="http://flowyte.test/api/v1/", transport=httpx.MockTransport(answer_with_a_number)
    )
    client = FlowyteClient(http)
    client.observer = seen = Seen()
    await client.get_available("+14155550123")
    await client.get_number("num_1")
    assert seen.calls == [
        ("/numbers/available/{e164}", "GET", "200"),
        ("/numbers/{number_id}", "GET", "200"),
    ]


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


async def test_a_flowyte_out_of_reach_is_reported_as_unreachable():
    http = httpx.AsyncClient(
        base_url="http://flowyte.test/api/v1/", transport=httpx.MockTransport(refuse)
    )
    client = FlowyteClient(http, retry=NO_RETRY)
    client.observer = seen = Seen()
    with pytest.raises(FlowyteUnavailable):
        await client.wallet()
    assert seen.calls == [("/billing/wallet", "GET", "unreachable")]


async def test_a_slow_read_leaves_the_gauges_as_last_read(monkeypatch):
    import asyncio

    import bot.ops.metrics

    monkeypatch.setattr(bot.ops.metrics, "SCRAPE_TIMEOUT", 0.05)
    metrics = Metrics()
    metrics.requests.labels("pending").set(2)

    async def slow(m: Metrics) -> None:
        await asyncio.sleep(5)

    metrics.on_scrape(slow)
    got = samples((await metrics.render())[0])
    assert got[("numbot_requests", (("status", "pending"),))] == 2

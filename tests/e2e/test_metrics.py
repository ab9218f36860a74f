"""GET /metrics: Prometheus text with numbot's own metrics, counting what really happened."""

import re

from prometheus_client.parser import text_string_to_metric_families

from handlers import ids
from tests.e2e.harness import ALICE, APPROVAL_CHANNEL, BOB, SECRETS, BotProcess, reply, texts
from tests.e2e.test_golden_path import hold_number, request_purchase


def scrape(bot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = bot.http.get(bot.url + "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        # Ours are numbot_*; the process collector keeps the names every dashboard knows.
        assert family.name.startswith(("numbot_", "process_")), family.name
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    for secret in SECRETS:
        assert secret not in answer.text
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_a_search_and_a_purchase(bot, slack, flowyte):
    before = scrape(bot)
    assert value(before, "numbot_slack_last_contact_timestamp_seconds") > 0  # auth.test

    e164, request_id = hold_number(bot, slack)
    request_purchase(bot, slack, request_id)
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Bought" in texts(reply(slack, rid))

    after = scrape(bot)
    assert value(after, "numbot_slack_requests_total", kind="command", outcome="ok") == 1
    assert value(after, "numbot_slack_requests_total", kind="action", outcome="ok") >= 3
    assert value(after, "numbot_slack_requests_total", kind="view", outcome="ok") == 1
    assert value(after, "numbot_slack_ack_seconds_count", kind="command") == 1
    search = {"route": "/numbers/search", "method": "GET", "status": "200"}
    assert value(after, "numbot_flowyte_calls_total", **search) == 1
    buy = {"route": "/numbers/purchase", "method": "POST", "status": "200"}
    assert (
        value(after, "numbot_flowyte_calls_total", **buy)
        + value(after, "numbot_flowyte_calls_total", **{**buy, "status": "201"})
        == 1
    )
    assert (
        value(after, "numbot_flowyte_call_seconds_count", route="/numbers/search", method="GET")
        == 1
    )
    assert value(after, "numbot_purchases_total", outcome="purchased") == 1
    assert value(after, "numbot_requests", status="purchased") == 1
    assert value(after, "numbot_audit_entries") > value(before, "numbot_audit_entries")
    assert value(after, "numbot_sweep_seconds_count") >= 1
    assert value(after, "numbot_flowyte_last_contact_timestamp_seconds") > 0
    assert value(after, "process_resident_memory_bytes") > 10_000_000

    # Never a number or an id in a label: routes are templates.
    text = bot.http.get(bot.url + "/metrics").text
    assert e164 not in text and e164.lstrip("+") not in text
    assert request_id not in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert "/numbers/reserve" in routes and all("{" in r or not re.search(r"\d", r) for r in routes)


def test_a_refused_request_is_counted_by_status(bot):
    unsigned = bot.post("command=%2Fnumbers&text=search", headers={})
    assert unsigned.status_code == 401
    assert value(scrape(bot), "numbot_slack_refused_total", status="401") == 1


def test_a_sandbox_run_serves_health_and_metrics(slack, flowyte, tmp_path):
    bot = BotProcess(slack, flowyte.url, tmp_path)
    for name in ("FLOWYTE_API_KEY", "FLOWYTE_BASE_URL", "NUMBOT_AUDIT_KEY"):
        bot.env.pop(name)
    bot.start()
    try:
        assert bot.http.get(bot.url + "/healthz").json()["sandbox"] is True
        _, rid = bot.command("search 415", user=ALICE)
        assert "SANDBOX" in texts(reply(slack, rid))
        search = {"route": "/numbers/search", "method": "GET", "status": "200"}
        figures = scrape(bot)
        assert value(figures, "numbot_flowyte_calls_total", **search) == 1
        assert flowyte.calls() == []  # the sandbox is in the process
        # The standard process figures, and which build is running.
        assert figures[("process_resident_memory_bytes", ())] > 0
        assert figures[("process_start_time_seconds", ())] > 0
        builds = [labels for name, labels in figures if name == "numbot_build_info"]
        assert len(builds) == 1 and dict(builds[0])["version"]
    finally:
        bot.stop()

"""`numbot run` with SLACK_APP_TOKEN joins Socket Mode and serves slash commands over it."""

from tests.e2e.harness import ALICE, BotProcess, texts
from tests.fakes.slack_requests import slash_command_payload, socket_envelope

APP_TOKEN = "xapp-1-A0001-e2e-app-token"


def test_socket_mode_serves_a_slash_command(slack, flowyte, tmp_path):
    bot = BotProcess(slack, flowyte.url, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    bot.env.pop("SLACK_SIGNING_SECRET")  # Socket Mode needs no signing secret
    slack.app_token = APP_TOKEN
    bot.start(ready="socket")
    try:
        opened = slack.calls("apps.connections.open")
        assert opened and opened[0].token == APP_TOKEN
        payload = slash_command_payload(
            "search 415", ALICE, response_url=slack.response_url("sock1")
        )
        envelope_id = slack.socket_send(
            socket_envelope("slash_commands", payload, accepts_response_payload=True)
        )
        ack = slack.wait_for_socket_ack(envelope_id, timeout=10)
        assert "Searching" in texts(ack.get("payload") or {})
        results = slack.wait_for(lambda c: c.response_id == "sock1", timeout=10)[0].body
        assert "Reserve" in texts(results)
        assert len(flowyte.calls("GET", "/numbers/search")) == 1
    finally:
        bot.stop()


def test_socket_mode_serves_healthz_and_metrics_on_port(slack, flowyte, tmp_path):
    bot = BotProcess(slack, flowyte.url, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    bot.env.pop("SLACK_SIGNING_SECRET")
    slack.app_token = APP_TOKEN
    bot.start(ready="socket")
    try:
        payload = slash_command_payload("search 415", ALICE, response_url=slack.response_url("s2"))
        envelope_id = slack.socket_send(
            socket_envelope("slash_commands", payload, accepts_response_payload=True)
        )
        slack.wait_for_socket_ack(envelope_id, timeout=10)
        slack.wait_for(lambda c: c.response_id == "s2", timeout=10)
        health = bot.http.get(bot.url + "/healthz")
        assert health.status_code == 200 and health.json()["ok"] is True
        metrics = bot.http.get(bot.url + "/metrics")
        assert metrics.status_code == 200
        assert 'numbot_slack_requests_total{kind="command",outcome="ok"} 1.0' in metrics.text
        assert "numbot_flowyte_calls_total" in metrics.text
        assert bot.http.post(bot.url + "/slack/events", content="{}").status_code in (404, 405)
    finally:
        bot.stop()
    assert "Traceback" not in bot.output()

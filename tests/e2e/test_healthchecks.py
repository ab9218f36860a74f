"""The health checks the deploy files declare, run as Docker would run them, against a real
`numbot run` (healthy), a server answering 503 (unhealthy) and a closed port (unhealthy)."""

import http.server
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.e2e.harness import BotProcess
from tests.e2e.test_socket_mode import APP_TOKEN
from tests.fakes.serve import free_port
from tests.test_deploy import compose, stages


def image_check() -> list[str]:
    (healthcheck,) = [args for instruction, args in stages()[-1] if instruction == "HEALTHCHECK"]
    return json.loads(healthcheck.split(" CMD ", 1)[1])


def compose_check(port: int) -> list[str]:
    """Compose's check, on `port` instead of the container's 3000."""
    test = compose()["services"]["numbot"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    return [arg.replace("3000", str(port)) for arg in test[1:]]


def run(argv: list[str], port: int) -> subprocess.CompletedProcess[str]:
    assert argv[0] == "python"  # the image's interpreter; here, this one
    return subprocess.run(
        [sys.executable, *argv[1:]],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "PORT": str(port)},
        timeout=30,
    )


@pytest.fixture
def unhealthy_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"ok": false, "reason": "database not writable"}'
            self.send_response(503 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    thread.join()


def test_the_health_checks_pass_on_a_running_numbot(bot):
    for argv in (image_check(), compose_check(bot.port)):
        done = run(argv, bot.port)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith("200 ")


def test_the_health_checks_fail_on_a_503_and_say_why(unhealthy_server):
    for argv in (image_check(), compose_check(unhealthy_server)):
        done = run(argv, unhealthy_server)
        assert (
            done.returncode == 1 and "503" in done.stdout and "database not writable" in done.stdout
        )


def test_the_health_checks_fail_when_nothing_listens():
    port = free_port()
    for argv in (image_check(), compose_check(port)):
        assert run(argv, port).returncode != 0


def test_the_health_checks_pass_on_a_numbot_in_socket_mode(slack, flowyte, tmp_path):
    """compose.yaml runs its replicas in Socket Mode: their health check needs numbot to
    listen on PORT there too."""
    bot = BotProcess(slack, flowyte.url, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    bot.env.pop("SLACK_SIGNING_SECRET")
    slack.app_token = APP_TOKEN
    bot.start(ready="socket")
    try:
        deadline = time.monotonic() + 5
        while (
            done := run(image_check(), bot.port)
        ).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done.returncode == 0, done.stdout + done.stderr
        assert run(compose_check(bot.port), bot.port).returncode == 0
    finally:
        bot.stop()

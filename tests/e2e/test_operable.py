"""numbot as an operator's supervisor sees it, against real processes: Socket Mode failures
that show, SIGTERM obeyed in every state, exit codes 78 and 75, a database that comes up
late, typos named, one start-up line, the policy file watched, one sandbox per database."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    BotProcess,
    calls_made,
    find_element,
    reply,
    texts,
    wait_until,
)
from tests.fakes.serve import free_port

APP_TOKEN = "xapp-1-A0001-operable-app-token"


def socket_mode_bot(slack, flowyte, tmp_path, **env: str) -> BotProcess:
    bot = BotProcess(slack, flowyte.url, tmp_path, SLACK_APP_TOKEN=APP_TOKEN, **env)
    bot.env.pop("SLACK_SIGNING_SECRET")
    return bot


def exits_within(bot: BotProcess, seconds: float) -> int:
    assert bot.proc is not None
    return bot.proc.wait(timeout=seconds)


def gauge(bot: BotProcess) -> str:
    text = bot.http.get(bot.url + "/metrics").text
    return next(
        line.split()[-1]
        for line in text.splitlines()
        if line.startswith("numbot_slack_socket_connected ")
    )


# -- Socket Mode ---------------------------------------------------------------------------


def test_an_app_token_slack_refuses_stops_numbot_with_a_configuration_error(
    slack, flowyte, tmp_path
):
    slack.app_token = "xapp-1-A0001-the-real-one"  # numbot's is not it: invalid_auth
    bot = socket_mode_bot(slack, flowyte, tmp_path)
    with pytest.raises(RuntimeError):
        bot.start(timeout=20, ready="socket")
    assert exits_within(bot, 10) == 78  # EX_CONFIG: systemd does not restart it
    bot.stop()
    output = bot.output()
    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in output
    assert "connections:write" in output
    assert "Traceback" not in output and APP_TOKEN not in output
    assert slack.socket_connection_count == 0


@pytest.mark.parametrize("where", ["slack never answers", "the websocket never opens"])
def test_sigterm_while_connecting_stops_numbot_at_once(slack, flowyte, tmp_path, where):
    slack.app_token = APP_TOKEN
    with contextlib.ExitStack() as stack:
        if where == "slack never answers":
            slack.slow("apps.connections.open", 120)
        else:  # Slack hands out a URL whose server accepts the TCP connection and says nothing
            silent = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
            url = f"ws://127.0.0.1:{silent.getsockname()[1]}/link/?ticket=t"
            slack.set_response("apps.connections.open", {"ok": True, "url": url})
        bot = socket_mode_bot(slack, flowyte, tmp_path)
        bot.start(ready="http")  # /healthz answers while it connects
        health = bot.http.get(bot.url + "/healthz").json()
        assert health["socket"] == "connecting" and gauge(bot) == "0.0"
        if where == "the websocket never opens":
            wait_until(lambda: len(slack.calls("apps.connections.open")) >= 2, timeout=10)
        time.sleep(0.5)
        started = time.monotonic()
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)
        assert exits_within(bot, 10) == 0
        assert time.monotonic() - started < 10
        bot.stop()
    assert "Traceback" not in bot.output()


def test_a_lost_connection_shows_in_health_and_the_gauge_until_it_comes_back(
    slack, flowyte, tmp_path
):
    slack.app_token = APP_TOKEN
    bot = socket_mode_bot(slack, flowyte, tmp_path)
    bot.start(ready="socket")
    try:
        wait_until(lambda: gauge(bot) == "1.0", timeout=15)
        assert bot.http.get(bot.url + "/healthz").json()["socket"] == "connected"
        # Slack drops the connection and refuses new ones for a while.
        slack.fail("apps.connections.open", "internal_error", times=None)
        slack.socket_close()
        wait_until(lambda: gauge(bot) == "0.0", timeout=20)
        health = bot.http.get(bot.url + "/healthz")
        assert health.json()["socket"] == "reconnecting"
        assert (
            health.status_code == 200
        )  # within the grace (503 after it: tests/bot/test_health.py)
        slack.reset()  # Slack takes connections again: slack_sdk reconnects by itself
        wait_until(lambda: gauge(bot) == "1.0", timeout=40)
        assert bot.http.get(bot.url + "/healthz").json()["socket"] == "connected"
    finally:
        bot.stop()
    assert exits_within(bot, 1) == 0


# -- the database at start -----------------------------------------------------------------


def test_a_database_that_stays_down_exits_75_after_the_wait(slack, flowyte, tmp_path):
    port = free_port()  # nothing listens here
    url = f"postgresql://numbot:pw-never-shown@127.0.0.1:{port}/numbot"
    bot = BotProcess(
        slack, flowyte.url, tmp_path, NUMBOT_DATABASE_URL=url, NUMBOT_START_WAIT_SECONDS="4"
    )
    with pytest.raises(RuntimeError):
        bot.start(timeout=30)
    assert exits_within(bot, 10) == 75  # EX_TEMPFAIL: a supervisor tries again later
    bot.stop()
    output = bot.output()
    assert output.count("the database cannot be reached yet") >= 2  # it waited, with backoff
    assert "stayed unreachable for 4s" in output
    assert "pw-never-shown" not in output and "Traceback" not in output


@contextlib.contextmanager
def forwarder(listen_port: int, target_host: str, target_port: int) -> Iterator[None]:
    """A TCP forwarder on 127.0.0.1:listen_port: the database "comes up" when it starts."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def main() -> asyncio.AbstractServer:
        server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
        ready.set()
        return server

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(main(), loop).result(timeout=5)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


@pytest.mark.postgres
def test_a_database_that_comes_up_late_is_waited_for(slack, flowyte, tmp_path, pg_url):
    parts = urlsplit(pg_url)
    port = free_port()
    late = urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{port}")))
    with socket.socket() as probe:  # nothing listens yet: PostgreSQL is still booting
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_DATABASE_URL=late)
    bot.start_in_background()
    try:
        wait_until(lambda: "the database cannot be reached yet" in bot.output(), timeout=15)
        assert bot.proc is not None and bot.proc.poll() is None  # still waiting, not exited
        with forwarder(port, parts.hostname or "127.0.0.1", parts.port or 5432):
            bot.wait_until_ready(timeout=40)
            assert bot.http.get(bot.url + "/healthz").json()["database"] == "writable"
            bot.stop()
    finally:
        bot.stop()


# -- settings at start ---------------------------------------------------------------------


def test_a_typo_is_named_at_start_and_one_line_says_what_is_in_force(slack, flowyte, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('approvers = ["U0BOB"]\n')
    (tmp_path / ".env").write_text("NUMBOT_APPROVAL_CHANEL=C0OTHER\n")
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_POLCY=str(policy))
    bot.start()
    try:
        output = bot.output()
        assert (
            "NUMBOT_POLCY is set but is not one of numbot's settings: ignored; "
            "did you mean NUMBOT_POLICY?" in output
        )
        assert "NUMBOT_APPROVAL_CHANEL is set but" in output
        line = next(line for line in output.splitlines() if "numbot starts: " in line)
        assert "HTTP" in line and "Flowyte live" in line and "approval channel C0" in line
        assert "no spend policy" in line  # the typo left numbot without one, and it says so
        assert str(policy) not in line
    finally:
        bot.stop()


def test_an_edited_policy_is_logged_within_seconds_without_a_click(slack, flowyte, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('approvers = ["U0BOB"]\n')
    bot = BotProcess(slack, flowyte.url, tmp_path, NUMBOT_POLICY=str(policy))
    bot.start()
    try:
        line = next(line for line in bot.output().splitlines() if "numbot starts: " in line)
        assert f"policy {policy} (" in line
        policy.write_text('approvers = ["U0BOB", "U0CAROL"]\nmax_open_holds = 3\n')
        wait_until(lambda: "policy reloaded" in bot.output(), timeout=10)
        policy.write_text("max_open_holds = 0\n")  # refused: the last good one stays
        wait_until(lambda: "max_open_holds: must be at least 1" in bot.output(), timeout=10)
        assert bot.http.get(bot.url + "/healthz").status_code == 200
    finally:
        bot.stop()
    assert "Traceback" not in bot.output()


# -- a click with nowhere to answer ---------------------------------------------------------


def test_a_click_inside_a_modal_is_answered_in_the_persons_dm(slack, flowyte, tmp_path):
    """A button in a modal comes without a response_url: the answer goes by DM, where bolt's
    own respond would raise "respond is unsupported here" and tell nobody."""
    bot = BotProcess(slack, flowyte.url, tmp_path).start()
    try:
        _, rid = bot.command("search 415", user=ALICE)
        e164 = find_element(reply(slack, rid), ids.RESERVE)["value"]
        assert bot.click_in_modal(ids.RESERVE, e164, user=ALICE).status_code == 200
        [dm] = slack.wait_for(
            lambda c: c.method == "chat.postMessage" and c.body.get("channel") == ALICE,
            timeout=15,
        )
        assert "held for you" in texts(dm.body)
        assert len(calls_made(flowyte, "POST", "/numbers/reserve")) == 1
    finally:
        bot.stop()
    output = bot.output()
    assert "respond is unsupported" not in output and "Traceback" not in output


# -- one sandbox per database ----------------------------------------------------------------


def test_a_second_sandbox_process_on_one_database_is_refused_and_says_why(slack, flowyte, tmp_path):
    first = BotProcess(slack, flowyte.url, tmp_path)
    second = BotProcess(slack, flowyte.url, tmp_path)
    for bot in (first, second):
        for name in ("FLOWYTE_API_KEY", "FLOWYTE_BASE_URL"):
            bot.env.pop(name)
    first.start()
    try:
        with pytest.raises(RuntimeError):
            second.start()
        assert exits_within(second, 10) == 78
        second.stop()
        output = second.output()
        assert "another numbot on the sandbox already runs on this database" in output
        assert "set FLOWYTE_API_KEY" in output
        assert first.http.get(first.url + "/healthz").status_code == 200
    finally:
        first.stop()
    # Once the first has stopped, its lease is let go and a sandbox may start at once.
    third = BotProcess(slack, flowyte.url, tmp_path)
    for name in ("FLOWYTE_API_KEY", "FLOWYTE_BASE_URL"):
        third.env.pop(name)
    third.start()
    third.stop()


def test_a_sandbox_killed_with_9_is_followed_by_its_restart_not_refused(slack, flowyte, tmp_path):
    """A supervisor restarts a sandbox numbot killed with -9 within seconds: its lease is
    still on the database, held by a process that no longer exists. The restart waits for
    it to lapse instead of exiting 78 for good."""
    first = BotProcess(slack, flowyte.url, tmp_path)
    second = BotProcess(slack, flowyte.url, tmp_path)
    for bot in (first, second):
        for name in ("FLOWYTE_API_KEY", "FLOWYTE_BASE_URL"):
            bot.env.pop(name)
    first.start()
    first.kill9()
    started = time.monotonic()
    second.start(timeout=60)
    try:
        assert time.monotonic() - started < 45
        assert "waiting up to" in second.output()
        assert second.http.get(second.url + "/healthz").status_code == 200
    finally:
        second.stop()

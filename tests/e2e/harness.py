"""Run `numbot run` as a real process against fake Slack and fake Flowyte on loopback.

    with FakeSlack().serve() ... , FakeFlowyte().serve() ...:
        bot = BotProcess(slack, flowyte_url, tmp_path); bot.start()
        bot.command("search 415", user=ALICE)      # a signed slash command over HTTP
        bot.click(ids.RESERVE, "+14155550123", user=ALICE)

Everything the bot does is observed where it lands: the fake Slack's recorded calls
(messages, card updates, response_url replies) and the fake Flowyte's recorded requests.

Every BotProcess in one work directory shares one database, as processes of one deployment
do: the SQLite file there, or, when the directory holds a `database_url` file (written by
the `engine` fixture's PostgreSQL half, tests/e2e/conftest.py), that PostgreSQL database.
`bot.sql(...)` reads or writes it on either engine.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config.settings import Settings
from handlers import ids
from tests.fakes.serve import free_port
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    app_home_opened_event,
    block_action_body,
    block_suggestion_body,
    event_callback_body,
    home_block_action_body,
    signed_headers,
    slash_command_body,
    subteam_members_changed_event,
    view_submission_body,
)

REPO = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-e2e-bot-token-0000"
FLOWYTE_KEY = "flowyte_sk_test_e2e_key_0000"
AUDIT_KEY = "e2e-audit-key-0123456789abcdef0123456789"
APPROVAL_CHANNEL = "C0APPROVALS"
ALICE, BOB, CAROL, MALLORY = "U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY"
APPROVERS = (ALICE, BOB, CAROL)  # alice approves too, but never her own requests
SECRETS = (SIGNING_SECRET, BOT_TOKEN, FLOWYTE_KEY, AUDIT_KEY)
DATABASE_URL_FILE = "database_url"  # in a work directory: its bots use this PostgreSQL
# The tests that matter for money run on SQLite and on PostgreSQL (tests/conftest.py `engine`).
both_engines = pytest.mark.usefixtures("engine")

_responses = itertools.count(1)
_PG_CONNECTIONS: dict[str, Any] = {}  # database URL -> the tests' own connection to it


def close_test_connections() -> None:
    while _PG_CONNECTIONS:
        _PG_CONNECTIONS.popitem()[1].close()


# numbot's own default for NUMBOT_MAX_LOOP_LAG_MS, which BotProcess turns off for tests.
DEFAULT_LAG_LIMIT_MS = str(Settings.model_fields["NUMBOT_MAX_LOOP_LAG_MS"].default)


class BotProcess:
    def __init__(self, slack: FakeSlack, flowyte_url: str, workdir: Path, **env: str) -> None:
        self.slack = slack
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.db = workdir / "numbot.db"
        url_file = workdir / DATABASE_URL_FILE
        # what `numbot --db` and connect() take: the SQLite file, or the PostgreSQL URL
        self.database = url_file.read_text().strip() if url_file.exists() else str(self.db)
        on_postgres = {"NUMBOT_DATABASE_URL": self.database} if url_file.exists() else {}
        self.log = workdir / f"bot-{self.port}.log"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "FLOWYTE_API_KEY": FLOWYTE_KEY,
            "FLOWYTE_BASE_URL": flowyte_url + "/api/v1",
            "NUMBOT_AUDIT_KEY": AUDIT_KEY,
            "NUMBOT_DB": str(self.db),
            "NUMBOT_APPROVERS": ",".join(APPROVERS),
            "NUMBOT_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
            "NUMBOT_HOST": "127.0.0.1",
            "PORT": str(self.port),
            "NUMBOT_LOG_LEVEL": "DEBUG",
            # No daily digest unless a test asks for one: it would post in the approval
            # channel (and seal an audit entry) at start, whatever the hour.
            "NUMBOT_DIGEST_HOUR": "off",
            # Tests check what numbot does, not how fast the machine is: four test workers
            # share two cores, and a loop measured 50 ms behind twice would answer "busy"
            # where a test expects its command taken. The lag limit is unit-tested
            # (tests/bot/test_workload.py) and measured by the benchmarks, which run with
            # numbot's own default (DEFAULT_LAG_LIMIT_MS).
            "NUMBOT_MAX_LOOP_LAG_MS": "0",
            **on_postgres,
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(timeout=10)

    def start(self, timeout: float = 20, *, ready: str = "http") -> BotProcess:
        """Start the process; ready when /healthz answers ("http") or it joins Socket Mode ("socket")."""
        self.start_in_background()
        return self.wait_until_ready(timeout, ready=ready)

    def start_in_background(self) -> BotProcess:
        """Start the process and return at once (wait_until_ready() waits for it)."""
        self._logfile = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=self.workdir,
            env=self.env,
            stdout=self._logfile,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_until_ready(self, timeout: float = 20, *, ready: str = "http") -> BotProcess:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"numbot exited with {self.proc.returncode}:\n{self.output()}")
            if ready == "socket":
                if self.slack.socket_connected.is_set():
                    return self
            else:
                try:
                    if self.http.get(self.url + "/healthz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"numbot did not come up:\n{self.output()}")

    def wait_for_scope_check(self, timeout: float = 20) -> BotProcess:
        """Wait until numbot has checked its Flowyte key's scopes at start (bot/process/runtime.py), which
        it does with calls of its own to Flowyte."""
        done = ("Flowyte key scopes checked", "lacks the scope", "could not check the Flowyte key")
        deadline = time.monotonic() + timeout
        while not any(line in self.output() for line in done):
            if time.monotonic() > deadline:
                raise RuntimeError(f"numbot never checked its scopes:\n{self.output()}")
            time.sleep(0.05)
        return self

    def wait_for_owned_refresh(self, timeout: float = 20) -> BotProcess:
        """Wait until numbot's first read of the owned numbers into its index (at start, in
        the background: bot/workflow/owned.py) has ended."""
        deadline = time.monotonic() + timeout
        while "owned numbers: " not in self.output():
            if time.monotonic() > deadline:
                raise RuntimeError(f"numbot never read its owned numbers:\n{self.output()}")
            time.sleep(0.05)
        return self

    def wait_for_usage_read(self, months: int = 6, timeout: float = 20) -> BotProcess:
        """Wait until numbot's background read of Flowyte's usage (bot/workflow/spend.py) has
        read `months` months."""
        deadline = time.monotonic() + timeout
        while self.output().count("usage for ") < months:
            if time.monotonic() > deadline:
                raise RuntimeError(f"numbot never read Flowyte's usage:\n{self.output()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._logfile.close()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._logfile.close()

    def sql(
        self, statement: str, params: tuple[Any, ...] | list[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one statement (`?` placeholders) on this bot's database, either engine; its rows."""
        from storage.db import connect

        if not self.database.startswith("postgresql://"):  # SQLite: a connection per call
            db = connect(self.database, migrate_schema=False)
            try:
                cursor = db.execute(statement, tuple(params))
                return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
            finally:
                db.close()
        # PostgreSQL: one connection for all of this test's looks (a new one forks a backend)
        db = _PG_CONNECTIONS.get(self.database)
        if db is None:
            db = _PG_CONNECTIONS[self.database] = connect(self.database, migrate_schema=False)
        cursor = db.execute(statement, tuple(params))
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def value(self, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        """The first column of the first row `statement` returns."""
        return self.sql(statement, params)[0][0]

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # -- what Slack would send ------------------------------------------------------------

    def post(self, body: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        headers = headers if headers is not None else signed_headers(body, SIGNING_SECRET)
        return self.http.post(self.url + "/slack/events", content=body, headers=headers)

    def command(
        self, text: str, *, user: str, response_id: str | None = None
    ) -> tuple[httpx.Response, str]:
        """A signed `/numbers <text>`; returns the HTTP response and its response_url id."""
        rid = response_id or f"cmd{next(_responses)}"
        body = slash_command_body(text, user, response_url=self.slack.response_url(rid))
        return self.post(body), rid

    def click(
        self,
        action_id: str,
        value: str | None,
        *,
        user: str,
        selected: str | None = None,
        block_id: str | None = None,
        channel: str = "C0CHAN",
    ) -> tuple[httpx.Response, str]:
        rid = f"act{next(_responses)}"
        kwargs: dict[str, Any] = {}
        if block_id:
            kwargs["block_id"] = block_id
        body = block_action_body(
            action_id,
            value,
            user,
            response_url=self.slack.response_url(rid),
            channel_id=channel,
            selected_option_value=selected,
            **kwargs,
        )
        return self.post(body), rid

    def open_home(self, user: str, *, tab: str = "home") -> httpx.Response:
        """A signed `app_home_opened` event: `user` opened numbot's Home (or Messages) tab."""
        body = event_callback_body(app_home_opened_event(user, tab=tab))
        headers = signed_headers(body, SIGNING_SECRET, content_type="application/json")
        return self.post(body, headers=headers)

    def usergroup_changed(
        self, group: str, *, added: list[str] = (), removed: list[str] = ()
    ) -> httpx.Response:
        """A signed `subteam_members_changed` event: Slack says `group`'s members changed."""
        event = subteam_members_changed_event(group, added=added, removed=removed)
        body = event_callback_body(event)
        headers = signed_headers(body, SIGNING_SECRET, content_type="application/json")
        return self.post(body, headers=headers)

    def click_on_home(self, action_id: str, value: str, *, user: str) -> httpx.Response:
        """A signed click on a button in `user`'s App Home (no response_url: replies go by DM)."""
        return self.post(home_block_action_body(action_id, value, user))

    def click_in_modal(self, action_id: str, value: str, *, user: str) -> httpx.Response:
        """A signed click on a button inside a modal `user` has open (no response_url)."""
        return self.post(home_block_action_body(action_id, value, user, view_type="modal"))

    def options(
        self, action_id: str, value: str, *, user: str, block_id: str = "b1"
    ) -> httpx.Response:
        """Someone opens or types into an external_select: the options are in the response."""
        return self.post(block_suggestion_body(action_id, value, user, block_id=block_id))

    def submit_view(
        self,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        *,
        user: str,
        private_metadata: str = "",
    ) -> httpx.Response:
        """A signed view_submission of a modal with these `{block_id: {action_id: value}}`."""
        return self.post(
            view_submission_body(callback_id, values, user, private_metadata=private_metadata)
        )

    def submit_reason(self, request_id: str, reason: str, *, user: str) -> httpx.Response:
        body = view_submission_body(
            ids.PURCHASE_REASON_VIEW,
            {ids.REASON_BLOCK: {ids.REASON_INPUT: reason}},
            user,
            private_metadata=request_id,
        )
        return self.post(body)


# -- reading what the bot said ------------------------------------------------------------


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    """Poll `predicate` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def scope_probe(call: Any) -> bool:
    """One of the cheap calls numbot makes at start to check its key's scopes
    (bot/flowyte/scopes.py), which the tests leave out when they count Flowyte calls."""
    if call.method == "GET":
        return call.query.get("limit") == "1" or call.api_path == "/billing/wallet"
    return (call.api_path == "/numbers/reserve" and not call.json) or "scope_check" in call.api_path


def background_read(call: Any) -> bool:
    """A read numbot makes on its own in the background, whatever anyone asks: the months of
    Flowyte's usage (bot/workflow/spend.py), read by the process that holds the sweep."""
    return call.method == "GET" and call.api_path == "/billing/usage/items"


def calls_made(flowyte: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """The fake Flowyte's recorded calls (as `flowyte.calls`), without the start-up probes
    and the background reads."""
    return [
        c for c in flowyte.calls(*args, **kwargs) if not scope_probe(c) and not background_read(c)
    ]


def texts(message: dict[str, Any]) -> str:
    """All visible text of a message: its fallback and every block's text."""
    parts = [str(message.get("text") or "")]
    for block in message.get("blocks") or []:
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"].get("text", ""))
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                parts.append(element["text"])
            elif isinstance(element.get("text"), dict):
                parts.append(element["text"].get("text", ""))
        if "accessory" in block:
            parts.append(block["accessory"].get("text", {}).get("text", ""))
    return "\n".join(parts)


def find_element(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in [block.get("accessory") or {}, *block.get("elements", [])]:
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    raise AssertionError(f"no {action_id} in {texts(message)!r}")


def reply(
    slack: FakeSlack, response_id: str, *, timeout: float = 10.0, contains: str | None = None
) -> dict[str, Any]:
    """The first (or first matching) message the bot sent to a response_url."""

    def match(call: Any) -> bool:
        return call.response_id == response_id and (
            contains is None or contains in texts(call.body)
        )

    return slack.wait_for(match, timeout=timeout)[0].body

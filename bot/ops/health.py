"""What /healthz says, and why.

    health = Health(slack=SlackStatus(), probe=DatabaseProbe(lambda: probe_write(path, 2.0)))
    ok, body = await health.check()   # 200 {"ok": true, ...} or 503 {"ok": false, "reason": ...}

Unhealthy (503) means numbot cannot do its job until someone acts:

- the database cannot be written (a lock held past the probe's timeout, a file that cannot
  be opened for writing): every click would fail;
- Slack rejected the bot token (`invalid_auth`, `token_revoked`, `account_inactive`,
  `not_authed`, `token_expired`): nothing numbot sends reaches anyone;
- in Socket Mode, the connection has been down for longer than LOST_GRACE: nothing reaches
  numbot (slack_sdk keeps reconnecting meanwhile).

A Slack that cannot be reached is not unhealthy: restarting numbot cannot fix Slack's
network, and taking the only replica out of a load balancer would not either. It is
reported in the body (`"slack": "unreachable: …"`) and numbot keeps trying.

Nothing here holds a secret, nor where the database lives: /healthz answers anyone who can
reach it, so a reason is an error code or an exception's type name (passed through `redact`
all the same); what the database said (host, port, user) goes to the log, once per change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from bot.kernel.redact import redact

logger = logging.getLogger("numbot")

# What Slack answers when the token itself is refused: no retry makes these work.
TOKEN_REJECTED = frozenset(
    {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"}
)
PROBE_TIMEOUT = 2.0  # seconds SQLite may wait for the write lock in the probe
PROBE_DEADLINE = 3.0  # seconds /healthz waits for the probe at most


class SlackStatus:
    """What Slack last said about the bot token, from auth.test and every Web API call.

    `state` is "unknown" until Slack first answers, then "ok", "rejected" (the token was
    refused: unhealthy) or "unreachable" (no answer at all: reported, still healthy).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.state = "unknown"
        self.error = ""
        self.last_ok: float | None = None  # unix time of the last answer with ok: true

    def answered(self) -> None:
        self.state, self.error = "ok", ""
        self.last_ok = self._clock()

    def refused(self, error: str) -> None:
        """Slack answered ok: false with `error`; only a refused token changes the state."""
        if error in TOKEN_REJECTED:
            self.state, self.error = "rejected", error

    def unreachable(self, why: str) -> None:
        if self.state != "rejected":  # a network blip does not hide a revoked token
            self.state, self.error = "unreachable", redact(why)

    @property
    def rejected(self) -> bool:
        return self.state == "rejected"


class SocketStatus:
    """Whether the Socket Mode connection is up (only in Socket Mode: `active`). Lost for
    longer than LOST_GRACE seconds, numbot is unhealthy: it receives nothing, and a
    supervisor or load balancer should know."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.active = False  # Socket Mode is in use
        self.up = False
        self.ever_up = False  # connected at least once since start
        self.since = clock()  # when `up` last changed

    def connecting(self) -> None:
        """Socket Mode is in use and not connected yet: down from now, until connected()."""
        self.active, self.up, self.since = True, False, self._clock()

    def connected(self) -> None:
        if not self.up or not self.active:
            self.since = self._clock()
        self.active, self.up, self.ever_up = True, True, True

    def lost(self) -> None:
        if self.up:
            self.since = self._clock()
        self.active, self.up = True, False

    def down_for(self) -> float:
        """Seconds the connection has been down (0 while up, or not in Socket Mode)."""
        if not self.active or self.up:
            return 0.0
        return self._clock() - self.since


LOST_GRACE = 60.0  # seconds a lost Socket Mode connection may take to come back


class DatabaseProbe:
    """Runs a blocking write probe off the event loop, one at a time, within a deadline.

    Callers that arrive while a probe runs share its answer, so a flood of /healthz costs
    one probe; a probe stuck past the deadline is reported and not started again until it
    ends.
    """

    def __init__(self, probe: Callable[[], None], *, deadline: float = PROBE_DEADLINE) -> None:
        self._probe = probe
        self._deadline = deadline
        self._running: asyncio.Future[str | None] | None = None
        self._last_said: str | None = None  # what was last logged, so each change is logged once

    async def problem(self) -> str | None:
        """None when the database can be written; else why not."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(asyncio.to_thread(self._attempt))
        try:
            return await asyncio.wait_for(asyncio.shield(self._running), self._deadline)
        except TimeoutError:
            return f"no answer from the database within {self._deadline:g}s"

    def _attempt(self) -> str | None:
        try:
            self._probe()
        except Exception as exc:
            said = redact(f"{type(exc).__name__}: {exc}")
            if said != self._last_said:
                logger.warning("the health probe could not write to the database: %s", said)
                self._last_said = said
            return type(exc).__name__
        self._last_said = None
        return None


class Health:
    def __init__(
        self,
        *,
        slack: SlackStatus,
        database: DatabaseProbe,
        sandbox: bool,
        socket: SocketStatus | None = None,
    ) -> None:
        self.slack = slack
        self.database = database
        self.sandbox = sandbox
        self.socket = socket or SocketStatus()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        body: dict[str, Any] = {"sandbox": self.sandbox, "slack": self._slack_word()}
        reasons = []
        db_problem = await self.database.problem()
        body["database"] = "writable" if db_problem is None else "not writable"
        if db_problem is not None:
            reasons.append(f"database not writable: {db_problem}")
        if self.slack.rejected:
            reasons.append(f"Slack rejected the bot token: {self.slack.error}")
        if self.socket.active:
            body["socket"] = (
                "connected"
                if self.socket.up
                else "reconnecting"
                if self.socket.ever_up
                else "connecting"
            )
            down = self.socket.down_for()
            if down > LOST_GRACE:
                reasons.append(f"the Socket Mode connection has been down for {down:.0f}s")
        if reasons:
            return False, {"ok": False, "reason": redact("; ".join(reasons)), **body}
        return True, {"ok": True, **body}

    def _slack_word(self) -> str:
        if self.slack.state in ("rejected", "unreachable"):
            return redact(f"{self.slack.state}: {self.slack.error}")
        return self.slack.state

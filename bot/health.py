"""What /healthz says, and why.

    health = Health(slack=SlackStatus(), probe=DatabaseProbe(lambda: probe_write(path, 2.0)))
    ok, body = await health.check()   # 200 {"ok": true, ...} or 503 {"ok": false, "reason": ...}

Unhealthy (503) means numbot cannot do its job until someone acts:

- the database cannot be written (a lock held past the probe's timeout, a file that cannot
  be opened for writing): every click would fail;
- Slack rejected the bot token (`invalid_auth`, `token_revoked`, `account_inactive`,
  `not_authed`, `token_expired`): nothing numbot sends reaches anyone.

A Slack that cannot be reached is not unhealthy: restarting numbot cannot fix Slack's
network, and taking the only replica out of a load balancer would not either. It is
reported in the body (`"slack": "unreachable: …"`) and numbot keeps trying.

Nothing here holds a secret: reasons are error codes and exception type names, passed
through `redact` all the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bot.redact import redact

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
            return f"{type(exc).__name__}: {exc}"
        return None


class Health:
    def __init__(self, *, slack: SlackStatus, database: DatabaseProbe, sandbox: bool) -> None:
        self.slack = slack
        self.database = database
        self.sandbox = sandbox

    async def check(self) -> tuple[bool, dict[str, Any]]:
        body: dict[str, Any] = {"sandbox": self.sandbox, "slack": self._slack_word()}
        reasons = []
        db_problem = await self.database.problem()
        body["database"] = "writable" if db_problem is None else "not writable"
        if db_problem is not None:
            reasons.append(f"database not writable: {db_problem}")
        if self.slack.rejected:
            reasons.append(f"Slack rejected the bot token: {self.slack.error}")
        if reasons:
            return False, {"ok": False, "reason": redact("; ".join(reasons)), **body}
        return True, {"ok": True, **body}

    def _slack_word(self) -> str:
        if self.slack.state in ("rejected", "unreachable"):
            return redact(f"{self.slack.state}: {self.slack.error}")
        return self.slack.state

"""Starting `numbot run` the way a supervisor (systemd, Docker) understands.

    EX_CONFIG (78)    the configuration is wrong: restarting will not help, a person must act
    EX_TEMPFAIL (75)  something numbot needs (the database) stayed down for
                      NUMBOT_START_WAIT_SECONDS: a later start may work

A database that is not up yet at start (a reboot where PostgreSQL comes up later) is waited
for with backoff for up to NUMBOT_START_WAIT_SECONDS (120), then numbot exits 75 and the
supervisor starts it again. What numbot runs with is said in one line at start, and every NUMBOT_, SLACK_ and
FLOWYTE_ name in the environment or .env that is none of its settings is named (a typo such
as NUMBOT_POLCY would otherwise leave numbot without its policy, silently).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

from bot.config.names import env_file_names, unknown_settings
from bot.config.settings import Settings
from storage.engine import UnreachableError

logger = logging.getLogger("numbot")

EX_TEMPFAIL = 75
EX_CONFIG = 78
START_WAIT = 120.0  # seconds waited for the database at start; NUMBOT_START_WAIT_SECONDS
FIRST_WAIT, MAX_WAIT = 1.0, 15.0  # backoff between two tries

T = TypeVar("T")


def waiting_for_the_database(
    build: Callable[[], T],
    *,
    patience: float = START_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> T:
    """`build()`, tried again with backoff while the database cannot be reached, for up to
    `patience` seconds; then the last UnreachableError is raised (exit 75)."""
    started = monotonic()
    wait = FIRST_WAIT
    while True:
        try:
            return build()
        except UnreachableError as exc:
            waited = monotonic() - started
            if waited + wait > patience:
                raise
            logger.warning(
                "the database cannot be reached yet (%s); numbot tries again in %gs (%.0fs of "
                "%gs waited)",
                exc,
                wait,
                waited,
                patience,
            )
            sleep(wait)
            wait = min(MAX_WAIT, wait * 2)


def warn_unknown_settings(environ: dict[str, str] | None = None, dotenv: str = ".env") -> int:
    """Log each name that looks like one of numbot's settings but is not; how many."""
    names = [*(os.environ if environ is None else environ), *env_file_names(dotenv)]
    found = unknown_settings(names)
    for name, close in found:
        hint = f"; did you mean {close}?" if close else ""
        logger.warning("%s is set but is not one of numbot's settings: ignored%s", name, hint)
    return len(found)


def in_force(settings: Settings, approvers: int, groups: int) -> str:
    """One line: what this numbot runs with (no secret in it)."""
    policy = settings.policy()
    rules = (
        f"policy {settings.NUMBOT_POLICY} ({policy.hash})"
        if settings.NUMBOT_POLICY
        else "no spend policy (one approval, no cap, no budget)"
    )
    who = f"{approvers} named approver{'s' if approvers != 1 else ''}"
    if groups:
        who += f" and {groups} user group{'s' if groups != 1 else ''}"
    return (
        f"numbot starts: {'Socket Mode' if settings.socket_mode else 'HTTP'}, "
        f"{'SANDBOX (no real money)' if settings.sandbox else 'Flowyte live'}, database "
        f"{settings.database_label()}, approval channel {settings.NUMBOT_APPROVAL_CHANNEL}, "
        f"approvers told by {settings.NUMBOT_NOTIFY}, {who}, {rules}"
    )

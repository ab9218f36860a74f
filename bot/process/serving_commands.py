"""The commands that run numbot: `numbot run`, `numbot demo`, `numbot config check` and
`numbot report` (bot/cli.py parses them; each returns its exit status)."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import sys
from pathlib import Path

from bot.config.secret_env import forget_secret_environment
from bot.config.settings import (
    Settings,
    SettingsError,
    load_settings,
)
from bot.process.startup import EX_CONFIG
from storage.audit import AuditKeyError


def run(args: argparse.Namespace) -> int:
    """Serve until told to stop. Exit 78 (EX_CONFIG) when the configuration is wrong, 75
    (EX_TEMPFAIL) when the database stayed down at start (bot/process/startup.py)."""
    from bot.ops import logs
    from bot.process.runtime import Runtime
    from bot.process.serve import serve_http, serve_socket_mode
    from bot.process.startup import (
        EX_TEMPFAIL,
        in_force,
        waiting_for_the_database,
        warn_unknown_settings,
    )
    from bot.slack.auth import TokenRejected
    from storage.engine import SchemaError, UnreachableError

    config_error: int = args.config_error_status  # 78 unless a supervisor needs otherwise
    try:
        settings = load_settings()
        settings.require_slack()
    except SettingsError as exc:
        print(f"numbot: {exc}", file=sys.stderr)
        return config_error
    forget_secret_environment()
    logs.configure(settings)
    log = logging.getLogger("numbot")
    warn_unknown_settings()
    try:
        runtime = waiting_for_the_database(
            lambda: Runtime.build(settings), patience=settings.NUMBOT_START_WAIT_SECONDS
        )
    except (SettingsError, AuditKeyError, SchemaError) as exc:
        log.critical("numbot stops: %s", exc)
        return config_error
    except UnreachableError as exc:
        log.critical(
            "numbot stops: the database stayed unreachable for %gs (%s); a supervisor may "
            "start numbot again",
            settings.NUMBOT_START_WAIT_SECONDS,
            exc,
        )
        return EX_TEMPFAIL
    approvers = runtime.service.ctx.approvers
    log.info(in_force(settings, len(approvers.static), len(approvers.groups)))
    try:
        asyncio.run(runtime.check_slack())
        holder = asyncio.run(runtime.claim_sandbox())
    except TokenRejected as exc:  # logged, so it is a JSON line too with NUMBOT_LOG_FORMAT=json
        log.critical("numbot stops: %s", exc)
        runtime.service.storage.close()
        return config_error
    if holder is not None:
        log.critical(
            "numbot stops: another numbot on the sandbox already runs on this database (%s). "
            "The sandbox keeps Flowyte's side in its own memory, so a hold made through one "
            "process could not be bought through another: run one sandbox process, or set "
            "FLOWYTE_API_KEY",
            holder,
        )
        runtime.service.storage.close()
        return config_error
    if settings.socket_mode:
        code = asyncio.run(serve_socket_mode(runtime))
        return config_error if code == EX_CONFIG else code
    serve_http(runtime)
    return 0


def report(args: argparse.Namespace) -> int:
    """A month of spend on numbers as CSV (bot/process/report.py), to stdout or --out."""
    from bot.process.report import MonthError, month_start, write_month
    from bot.process.wiring import build_service

    try:
        start = month_start(args.month)
    except MonthError as exc:
        print(f"numbot: {exc}", file=sys.stderr)
        return 2
    settings = load_settings()
    service = build_service(settings, notifier=None)

    async def write() -> str:
        out = io.StringIO()
        try:
            await write_month(service, start, out)
        finally:
            await service.flowyte.aclose()
            service.storage.close()
        return out.getvalue()

    text = asyncio.run(write())
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def config_check(args: argparse.Namespace) -> int:
    """Print the settings in force, secrets hidden, and every problem; 1 on any problem."""
    import os

    from bot.config.names import env_file_names, unknown_settings

    problems: list[str] = []
    for name, close in unknown_settings([*os.environ, *env_file_names()]):
        hint = f" (did you mean {close}?)" if close else ""
        problems.append(f"{name} is set but is not one of numbot's settings{hint}")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"numbot: {exc}", file=sys.stderr)
        for problem in problems:
            print(f"numbot: {problem}", file=sys.stderr)
        return 1
    secret = {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "FLOWYTE_API_KEY",
        "NUMBOT_AUDIT_KEY",
    }
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name == "NUMBOT_DATABASE_URL" and value is not None:
            shown = settings.database_label()
        elif name in secret:
            shown = "(not set)" if value is None else "*** (set)"
        else:
            shown = "(not set)" if value is None or value == () else str(value)
        print(f"{name} = {shown}")
    try:
        settings.require_slack()
        policy = settings.policy()
        print(
            f"policy: {settings.NUMBOT_POLICY} ({policy.hash})"
            if settings.NUMBOT_POLICY
            else "policy: none (one approval, no cap, no budget)"
        )
        settings.audit_key()
    except SettingsError as exc:
        problems.insert(0, str(exc))
    for problem in problems:
        print(f"numbot: {problem}", file=sys.stderr)
    return 1 if problems else 0


def demo(args: argparse.Namespace) -> int:
    from bot.process.demo import run_demo

    return asyncio.run(run_demo(db_path=args.db))

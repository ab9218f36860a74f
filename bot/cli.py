"""The `numbot` command: run, demo, migrate, backup, audit export|verify|reseal, policy check."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.secret_env import forget_secret_environment
from bot.config.settings import (
    NO_APPROVER,
    Settings,
    SettingsError,
    load_settings,
)
from bot.process.startup import EX_CONFIG
from storage.audit import AuditKey, AuditKeyError, AuditLog
from storage.engine import StorageError

if TYPE_CHECKING:
    from storage.audit import VerifyResult

POLICY_CHECK_SLACK_TIMEOUT = 30.0  # seconds per user group; nobody is waiting on a click

PG_BACKUP = (
    "numbot backup copies a SQLite database, and this numbot keeps its data in PostgreSQL "
    "(NUMBOT_DATABASE_URL). Back that up with pg_dump, the password in ~/.pgpass (mode 0600) "
    "or PGPASSWORD, never on the command line, for example:\n"
    "  (umask 077; pg_dump --format=custom --file numbot-$(date +%F).dump "
    "--host db.example --username numbot numbot)\n"
    "and keep NUMBOT_AUDIT_KEY with your backups, in your secret store rather than next to "
    "the dumps: a restored database's audit log verifies, and numbot starts on it, only with "
    "the key it was sealed with, and whoever holds both a dump and the key can rewrite its "
    "history."
)


def _run(args: argparse.Namespace) -> int:
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


def _report(args: argparse.Namespace) -> int:
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


def _config_check(args: argparse.Namespace) -> int:
    """Print the settings in force, secrets hidden, and every problem; 1 on any problem."""
    import os

    from bot.config.settings import env_file_names, unknown_settings

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


def _demo(args: argparse.Namespace) -> int:
    from bot.process.demo import run_demo

    return asyncio.run(run_demo(db_path=args.db))


def _open_audit(db_path: str | None, *, keyed: bool = True) -> tuple[AuditLog, str]:
    """The audit log at --db, or NUMBOT_DATABASE_URL, or NUMBOT_DB; with the key from
    NUMBOT_AUDIT_KEY when `keyed`. Also returns the database as it may be printed."""
    from storage.db import connect
    from storage.engine import is_postgres_url, redact_url

    settings = load_settings()
    target = db_path or settings.database()
    _no_password_on_the_command_line(db_path)
    label = redact_url(target) if db_path else settings.database_label()
    if not is_postgres_url(target) and not Path(target).exists():
        raise SettingsError(
            f"no numbot database at {target} (set NUMBOT_DB or NUMBOT_DATABASE_URL, or pass --db)"
        )
    key: AuditKey | None = settings.audit_key() if keyed else None
    return AuditLog(connect(target), key), label


def _no_password_on_the_command_line(db: str | None) -> None:
    """`--db` is seen by every local user (`ps`): a URL there must not carry a password."""
    from urllib.parse import urlsplit

    from storage.engine import is_postgres_url

    if db and is_postgres_url(db) and urlsplit(db).password is not None:
        raise SettingsError(
            "--db holds a password, which every user of this machine can read from the "
            "process list: pass the URL without it, and put the password in ~/.pgpass (mode "
            "0600) or PGPASSWORD, or leave out --db to use NUMBOT_DATABASE_URL"
        )


def _migrate(args: argparse.Namespace) -> int:
    from storage.db import connect
    from storage.engine import is_postgres_url, redact_url
    from storage.migrations import migrate
    from storage.roles import RoleError, grant_runtime

    settings = load_settings()
    _no_password_on_the_command_line(args.db)
    target = args.db or settings.database()
    label = redact_url(target) if args.db else settings.database_label()
    if args.grant_to and not is_postgres_url(target):
        raise SettingsError("--grant-to is for PostgreSQL: a SQLite database has no roles")
    db = connect(target, migrate_schema=False)
    try:
        applied = migrate(db)
        print(f"{label}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))
        if args.grant_to:
            try:
                tables = grant_runtime(db, args.grant_to)
            except RoleError as exc:
                raise SettingsError(str(exc)) from None
            print(
                f"granted {args.grant_to} what numbot needs on {len(tables)} tables "
                "(on audit: SELECT and INSERT only)"
            )
    finally:
        db.close()
    return 0


def _audit_export(args: argparse.Namespace) -> int:
    audit, _ = _open_audit(args.db, keyed=False)
    if args.format == "csv":
        audit.export_csv(sys.stdout)
    else:
        audit.export_jsonl(sys.stdout)
    return 0


def _report_verify(result: VerifyResult, path: str | Path) -> int:
    """Print what `audit verify` found (stdout if intact, else stderr); its exit code."""
    if result.ok:
        sealed = (
            f" ({result.legacy} from before the key, sealed by reseal)" if result.legacy else ""
        )
        print(f"audit log intact: {result.entries} entries{sealed} in {path}; head {result.head}")
        return 0
    where = f"entry {result.bad_seq}" if result.bad_seq is not None else "the end of the log"
    print(
        f"audit log TAMPERED at {where}: {result.problem} ({result.entries} entries verified before it)",
        file=sys.stderr,
    )
    return 1


def _audit_verify(args: argparse.Namespace) -> int:
    audit, path = _open_audit(args.db)
    return _report_verify(audit.verify(expect_head=args.expect_head), path)


def _backup(args: argparse.Namespace) -> int:
    from storage.backup import BackupError, backup, check_copy

    settings = load_settings()
    on_postgres = settings.NUMBOT_DATABASE_URL is not None and not args.db
    if on_postgres or str(args.db).startswith(("postgresql://", "postgres://")):
        print(f"numbot: {PG_BACKUP}", file=sys.stderr)
        return 2
    key = settings.audit_key()  # first: a copy nobody can verify is not a backup
    source = args.db or settings.NUMBOT_DB
    if not Path(source).exists():
        raise SettingsError(f"no numbot database at {source} (set NUMBOT_DB or pass --db)")
    try:
        size = backup(source, args.path, force=args.force)
        copy = check_copy(args.path, key)
    except BackupError as exc:
        print(f"numbot: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {source} to {args.path}: {size} bytes; requests: {copy.requests}")
    return _report_verify(copy.audit, args.path)


def _audit_reseal(args: argparse.Namespace) -> int:
    audit, path = _open_audit(args.db)
    entry = audit.reseal(args.legacy_head)
    if entry is None:
        print(f"nothing to reseal in {path}: the log is empty or already sealed with the key")
        return 0
    print(
        f"resealed {path}: the entries written before the audit key are bound by entry "
        f"{entry.seq} ({entry.detail}); head {entry.hash}"
    )
    return 0


async def _read_groups(
    settings: Settings, groups: tuple[str, ...]
) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """Each group's members as Slack has them now, and why a group could not be read."""
    from bot.process.wiring import build_slack_client
    from handlers.directory import DirectoryError, SlackDirectory

    client = build_slack_client(settings)
    directory = SlackDirectory(client, timeout=POLICY_CHECK_SLACK_TIMEOUT)
    members: dict[str, frozenset[str]] = {}
    problems: dict[str, str] = {}
    try:
        for group in groups:
            try:
                members[group] = await directory.group_members(group)
            except DirectoryError as exc:
                problems[group] = str(exc)
    finally:
        if client.connections is not None:
            await client.connections.aclose()
    return members, problems


def _policy_check(args: argparse.Namespace) -> int:
    from bot.config.policy_file import PolicyError, describe, load_policy

    settings = load_settings()
    path = args.file or settings.NUMBOT_POLICY
    if not path:
        raise SettingsError("no policy to check: pass --file F, or set NUMBOT_POLICY")
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        print(f"numbot: {exc}", file=sys.stderr)
        return 1
    members: dict[str, frozenset[str]] | None = None
    problems: dict[str, str] = {}
    if settings.SLACK_BOT_TOKEN is not None and policy.approver_groups:
        members, problems = asyncio.run(_read_groups(settings, policy.approver_groups))
    print(
        describe(
            policy,
            static_approvers=settings.NUMBOT_APPROVERS,
            group_members=members,
            group_problems=problems,
            source=path,
        )
    )
    if not settings.NUMBOT_APPROVERS and not policy.names_approvers:
        print(f"numbot: {NO_APPROVER}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    from bot.ops.metrics import numbot_version

    parser = argparse.ArgumentParser(
        prog="numbot", description="Buy and route Flowyte numbers from Slack, four-eyes."
    )
    parser.add_argument("--version", action="version", version=f"numbot {numbot_version()}")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser(
        "run",
        help="serve the Slack app (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)",
        description=(
            "Serve the Slack app until SIGTERM or SIGINT. Settings come from the environment "
            "and .env (docs/configuration.md says what each means); `numbot config check` "
            "shows what this one would run with. Exit 78 (EX_CONFIG): the configuration is "
            "wrong, restarting will not help. Exit 75 (EX_TEMPFAIL): the database stayed "
            "unreachable at start; a later start may work."
        ),
        epilog="settings: " + ", ".join(Settings.model_fields),
    )
    run.add_argument(
        "--config-error-status",
        type=int,
        choices=range(0, 126),
        default=EX_CONFIG,
        metavar="N",
        help=(
            "exit with N instead of 78 when the configuration is wrong: 0 lets a supervisor "
            "that only knows 'restart on failure' (Docker) leave numbot stopped"
        ),
    )
    run.set_defaults(fn=_run)
    report = sub.add_parser(
        "report",
        help="a month of spend on numbers, as CSV for finance",
        description=(
            "One row per purchase and release numbot completed in the month (the terms sealed "
            "in the audit log), then what Flowyte charged for numbers that month and numbot's "
            "own total. Reads the database and Flowyte; changes nothing."
        ),
    )
    report.add_argument("--month", required=True, help="YYYY-MM (UTC), e.g. 2026-11")
    report.add_argument("--out", help="write the CSV here (default: standard output)")
    report.set_defaults(fn=_report)
    config = sub.add_parser("config", help="numbot's settings").add_subparsers(
        dest="config_command", required=True
    )
    config.add_parser(
        "check",
        help="print the settings in force, secrets hidden; exit 1 on any problem",
        description=(
            "Read the settings as `numbot run` would (environment and .env), print each in "
            "force with secrets hidden, and name every problem: a missing or malformed "
            "setting, an invalid policy, a NUMBOT_/SLACK_/FLOWYTE_ name numbot does not "
            "know (with the closest real one). Exit 0 when `numbot run` would start, 1 if not."
        ),
    ).set_defaults(fn=_config_check)
    demo = sub.add_parser("demo", help="the whole story on the sandbox, in the terminal")
    demo.add_argument("--db", help="keep the demo's database here (default: a temporary file)")
    demo.set_defaults(fn=_demo)
    backup = sub.add_parser(
        "backup",
        help="write a consistent copy of the live SQLite database and verify its audit log",
        description=(
            "Copy the SQLite database (NUMBOT_DB) with SQLite's backup API while numbot runs, "
            "to a temporary file next to PATH moved into place (mode 0600), then verify the "
            "copy's audit log with NUMBOT_AUDIT_KEY. A plain cp of a live database can miss "
            "committed data still in its -wal file. Exit 1 if the copy fails or does not "
            "verify; exit 2 on PostgreSQL (NUMBOT_DATABASE_URL): use pg_dump there."
        ),
    )
    backup.add_argument("path", metavar="PATH", help="the backup file to write")
    backup.add_argument("--db", help="database file (default: NUMBOT_DB)")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    backup.set_defaults(fn=_backup)
    migrate = sub.add_parser(
        "migrate",
        help="bring the database's schema to this version (on PostgreSQL, as the owner role)",
        description=(
            "Apply the schema migrations this numbot knows (numbot run does so too, when its "
            "role may). On PostgreSQL run it as the role that owns numbot's tables, and pass "
            "--grant-to with the role numbot runs as: that role may then read and write "
            "numbot's tables but only read and append to the audit log, so it cannot drop its "
            "append-only triggers. Run it again after every upgrade."
        ),
    )
    migrate.add_argument(
        "--db",
        help="database file or postgresql:// URL without its password (the password: "
        "~/.pgpass or PGPASSWORD; default: NUMBOT_DATABASE_URL, else NUMBOT_DB)",
    )
    migrate.add_argument("--grant-to", metavar="ROLE", help="the runtime role numbot runs as")
    migrate.set_defaults(fn=_migrate)
    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    export = audit.add_parser("export", help="print every entry")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument(
        "--db",
        help="database file or postgresql:// URL without its password (default: "
        "NUMBOT_DATABASE_URL, else NUMBOT_DB)",
    )
    export.set_defaults(fn=_audit_export)
    verify = audit.add_parser(
        "verify", help="check the hash chain; exit 1 naming the first bad entry"
    )
    verify.add_argument(
        "--db",
        help="database file or postgresql:// URL without its password (default: "
        "NUMBOT_DATABASE_URL, else NUMBOT_DB)",
    )
    verify.add_argument(
        "--expect-head", help="the head hash recorded earlier, to catch a truncated tail"
    )
    verify.set_defaults(fn=_audit_verify)
    reseal = audit.add_parser(
        "reseal",
        help="take over a log written before NUMBOT_AUDIT_KEY: seal it with the key, once",
    )
    reseal.add_argument(
        "--db",
        help="database file or postgresql:// URL without its password (default: "
        "NUMBOT_DATABASE_URL, else NUMBOT_DB)",
    )
    reseal.add_argument(
        "--legacy-head",
        required=True,
        metavar="HASH",
        help="the head of the unkeyed log as you recorded it before the upgrade (the hash "
        "`numbot audit verify` printed, or its first 16 hex characters): numbot seals only "
        "that log",
    )
    reseal.set_defaults(fn=_audit_reseal)
    policy = sub.add_parser("policy", help="the spend policy (NUMBOT_POLICY)").add_subparsers(
        dest="policy_command", required=True
    )
    check = policy.add_parser(
        "check",
        help="validate the policy file and print what it means; exit 1 naming every bad key",
        description=(
            "Validate the spend policy and print the effective policy: who may approve "
            "(each user group's members, read from Slack when SLACK_BOT_TOKEN is set), the "
            "cap, the monthly budget, the quorum tiers, the hold limit and the policy's hash."
        ),
    )
    check.add_argument("--file", help="policy file (default: NUMBOT_POLICY)")
    check.set_defaults(fn=_policy_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `numbot`: what it can do
        parser.print_help()
        return 0
    try:
        return int(args.fn(args))
    except (SettingsError, AuditKeyError, StorageError) as exc:
        print(f"numbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

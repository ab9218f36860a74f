"""The commands an operator runs beside numbot: `numbot migrate`, `numbot backup`, `numbot
audit export|verify|reseal` and `numbot policy check` (bot/cli.py parses them; each returns
its exit status)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.settings import (
    NO_APPROVER,
    Settings,
    SettingsError,
    load_settings,
)
from storage.audit import AuditKey, AuditLog

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


def migrate(args: argparse.Namespace) -> int:
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


def audit_export(args: argparse.Namespace) -> int:
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


def audit_verify(args: argparse.Namespace) -> int:
    audit, path = _open_audit(args.db)
    return _report_verify(audit.verify(expect_head=args.expect_head), path)


def backup(args: argparse.Namespace) -> int:
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


def audit_reseal(args: argparse.Namespace) -> int:
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


def policy_check(args: argparse.Namespace) -> int:
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

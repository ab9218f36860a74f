"""The `numbot` command: its parser, and the exit status of the command it ran.

The commands themselves live in bot/process/serving_commands.py (run, demo, config check,
report) and bot/process/admin_commands.py (migrate, backup, audit, policy check)."""

from __future__ import annotations

import argparse
import sys

from bot.config.settings import Settings, SettingsError
from bot.process import admin_commands as admin
from bot.process import serving_commands as serving
from bot.process.startup import EX_CONFIG
from storage.audit import AuditKeyError
from storage.engine import StorageError


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
    run.set_defaults(fn=serving.run)
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
    report.set_defaults(fn=serving.report)
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
    ).set_defaults(fn=serving.config_check)
    demo = sub.add_parser("demo", help="the whole story on the sandbox, in the terminal")
    demo.add_argument("--db", help="keep the demo's database here (default: a temporary file)")
    demo.set_defaults(fn=serving.demo)
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
    backup.set_defaults(fn=admin.backup)
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
    migrate.set_defaults(fn=admin.migrate)
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
    export.set_defaults(fn=admin.audit_export)
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
    verify.set_defaults(fn=admin.audit_verify)
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
    reseal.set_defaults(fn=admin.audit_reseal)
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
    check.set_defaults(fn=admin.policy_check)
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

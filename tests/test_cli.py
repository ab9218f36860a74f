"""The `numbot` command line: audit export/verify, and run's refusal to start misconfigured."""

import json
import os
import sqlite3
import subprocess
import sys

from storage.audit import AuditKey, AuditLog
from storage.db import connect

AUDIT_KEY = "cli-test-audit-key-0123456789abcdef0123"


def numbot(*args, cwd, env=None):
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": os.getcwd(), "NUMBOT_AUDIT_KEY": AUDIT_KEY}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **(env or {})},
        timeout=30,
    )


def make_log(path, n=4):
    audit = AuditLog(connect(path), AuditKey(AUDIT_KEY))
    for i in range(n):
        audit.append(actor=f"U{i}", action="approve", subject=f"req_{i}", outcome="ok")
    audit.db.close()


def test_verify_passes_then_names_the_edited_entry(tmp_path):
    db = tmp_path / "numbot.db"
    make_log(db)
    ok = numbot("audit", "verify", "--db", str(db), cwd=tmp_path)
    assert ok.returncode == 0 and "4 entries" in ok.stdout
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET outcome = 'refused' WHERE seq = 2")
    bad = numbot("audit", "verify", "--db", str(db), cwd=tmp_path)
    assert bad.returncode == 1 and "entry 2" in bad.stderr


def test_verify_with_expected_head_catches_a_cut_tail(tmp_path):
    db = tmp_path / "numbot.db"
    make_log(db)
    head = numbot("audit", "verify", "--db", str(db), cwd=tmp_path).stdout.split("head ")[1].strip()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("DELETE FROM audit WHERE seq = 4")
    cut = numbot("audit", "verify", "--db", str(db), "--expect-head", head, cwd=tmp_path)
    assert cut.returncode == 1 and "removed from the end" in cut.stderr


def test_export_jsonl_and_csv(tmp_path):
    db = tmp_path / "numbot.db"
    make_log(db, 3)
    jsonl = numbot("audit", "export", "--db", str(db), cwd=tmp_path)
    assert [json.loads(line)["seq"] for line in jsonl.stdout.splitlines()] == [1, 2, 3]
    csv_out = numbot("audit", "export", "--format", "csv", "--db", str(db), cwd=tmp_path)
    assert csv_out.stdout.splitlines()[0].startswith("seq,at,actor")


def test_missing_database_is_a_clear_error(tmp_path):
    done = numbot("audit", "verify", "--db", str(tmp_path / "nope.db"), cwd=tmp_path)
    assert done.returncode == 2 and "no numbot database" in done.stderr
    assert not (tmp_path / "nope.db").exists()


def test_run_refuses_to_start_without_settings_and_names_them(tmp_path):
    done = numbot("run", cwd=tmp_path)
    assert done.returncode == 78  # EX_CONFIG
    for name in (
        "SLACK_BOT_TOKEN",
        "NUMBOT_APPROVAL_CHANNEL",
        "SLACK_SIGNING_SECRET",
        "NUMBOT_APPROVERS",
    ):
        assert name in done.stderr


def test_invalid_settings_are_explained_without_echoing_secrets(tmp_path):
    secret = "not-a-key-but-secret-123456"
    done = numbot("run", cwd=tmp_path, env={"FLOWYTE_API_KEY": secret, "NUMBOT_APPROVERS": "bob"})
    assert done.returncode == 78  # EX_CONFIG
    assert "FLOWYTE_API_KEY" in done.stderr and "NUMBOT_APPROVERS" in done.stderr
    assert secret not in done.stderr + done.stdout


def test_run_refuses_a_blank_signing_secret_in_http_mode_by_name(tmp_path):
    env = {
        "SLACK_BOT_TOKEN": "xoxb-cli-test",
        "SLACK_SIGNING_SECRET": "",
        "NUMBOT_APPROVERS": "U0BOB",
        "NUMBOT_APPROVAL_CHANNEL": "C0APPROVALS",
    }
    done = numbot("run", cwd=tmp_path, env=env)
    assert done.returncode == 78  # EX_CONFIG
    assert "SLACK_SIGNING_SECRET is set but blank" in done.stderr


def test_run_refuses_plain_http_to_a_remote_flowyte(tmp_path):
    env = {
        "FLOWYTE_API_KEY": "flowyte_sk_cli_test",
        "FLOWYTE_BASE_URL": "http://flowyte.example/api/v1",
    }
    done = numbot("run", cwd=tmp_path, env=env)
    assert done.returncode == 78  # EX_CONFIG
    assert "FLOWYTE_BASE_URL" in done.stderr and "https://" in done.stderr
    assert "flowyte_sk_cli_test" not in done.stderr


# -- numbot policy check ---------------------------------------------------------------------

POLICY = """
approvers = ["U0AAA"]
approver_groups = ["S0FINANCE", "S0GONE"]
max_purchase_usd = "25.00"
monthly_budget_usd = "100.00"
max_open_holds = 3

[[quorum]]
above_usd = "20.00"
approvals = 2
"""

BAD_POLICY = """
approvers = ["bob"]
max_purchase_usd = 25.0

[[quorum]]
above_usd = "20.00"
approvals = 2

[[quorum]]
above_usd = "50.00"
approvals = 0
"""


def test_policy_check_prints_the_effective_policy(tmp_path):
    (tmp_path / "policy.toml").write_text(POLICY)
    done = numbot(
        "policy", "check", "--file", "policy.toml", cwd=tmp_path, env={"NUMBOT_APPROVERS": "U0ZZZ"}
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("Spend policy policy.toml, hash ")
    assert "U0AAA (policy)" in out and "U0ZZZ (NUMBOT_APPROVERS)" in out
    assert "user group S0FINANCE: members read from Slack in the background" in out
    assert "above $20.00: 2 approvals" in out and "$25.00" in out and "$100.00" in out
    assert "at most 3 open per person" in out


def test_policy_check_reads_numbot_policy_by_default(tmp_path):
    (tmp_path / "policy.toml").write_text('approvers = ["U0AAA"]')
    done = numbot("policy", "check", cwd=tmp_path, env={"NUMBOT_POLICY": "policy.toml"})
    assert done.returncode == 0 and "U0AAA (policy)" in done.stdout


def test_policy_check_names_every_bad_key_and_run_refuses_with_the_same_message(tmp_path):
    (tmp_path / "policy.toml").write_text(BAD_POLICY)
    checked = numbot("policy", "check", "--file", "policy.toml", cwd=tmp_path)
    assert checked.returncode == 1 and checked.stdout == ""
    assert checked.stderr.splitlines() == [
        "numbot: invalid policy in policy.toml (3 problems):",
        '  approvers[0]: "bob" is not a Slack user id (U… or W…)',
        '  max_purchase_usd: write amounts as strings, e.g. "25.00" (a TOML float is not exact)',
        "  quorum[1].approvals: must be at least 1",
    ]
    env = {
        "SLACK_BOT_TOKEN": "xoxb-cli-test",
        "SLACK_APP_TOKEN": "xapp-cli-test",
        "NUMBOT_APPROVERS": "U0BOB",
        "NUMBOT_APPROVAL_CHANNEL": "C0APPROVALS",
        "NUMBOT_POLICY": "policy.toml",
    }
    refused = numbot("run", cwd=tmp_path, env=env)
    assert refused.returncode == 78  # EX_CONFIG
    assert refused.stderr == checked.stderr


def test_policy_check_says_when_the_file_is_not_toml(tmp_path):
    (tmp_path / "policy.toml").write_text('approvers = ["U0AAA"]\nmax_open_holds = = 3\n')
    done = numbot("policy", "check", "--file", "policy.toml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("numbot: the policy file policy.toml is not valid TOML: ")
    assert "(at line 2, column 18)" in done.stderr


def test_policy_check_without_a_file_is_a_usage_error(tmp_path):
    done = numbot("policy", "check", cwd=tmp_path)
    assert done.returncode == 2 and "pass --file F, or set NUMBOT_POLICY" in done.stderr


def test_policy_check_fails_when_no_approver_can_exist(tmp_path):
    (tmp_path / "policy.toml").write_text('max_purchase_usd = "25.00"')
    done = numbot("policy", "check", "--file", "policy.toml", cwd=tmp_path)
    assert done.returncode == 1
    assert "nobody: numbot run refuses to start" in done.stdout
    assert "No approver can exist" in done.stderr


def test_policy_check_reads_group_members_from_slack(tmp_path):
    from tests.fakes.slack_api import FakeSlack

    (tmp_path / "policy.toml").write_text(POLICY)
    slack = FakeSlack(bot_token="xoxb-cli-test")
    slack.set_group("S0FINANCE", ["U0BOB", "U0CAROL"])
    with slack.serve():
        env = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": slack.api_url}
        done = numbot("policy", "check", "--file", "policy.toml", cwd=tmp_path, env=env)
        asked = sorted(c.body["usergroup"] for c in slack.calls("usergroups.users.list"))
    assert done.returncode == 0, done.stderr
    assert asked == ["S0FINANCE", "S0GONE"]
    assert (
        "user group S0FINANCE: U0BOB, U0CAROL (now; numbot reads them again in the background"
        in done.stdout
    )
    assert (
        "user group S0GONE: could not read its members now (could not read the members of "
        "user group S0GONE: Slack has no such user group (or it is disabled))"
    ) in done.stdout


def test_run_refuses_a_policy_that_names_no_approver_without_numbot_approvers(tmp_path):
    (tmp_path / "policy.toml").write_text('max_purchase_usd = "25.00"')
    env = {
        "SLACK_BOT_TOKEN": "xoxb-cli-test",
        "SLACK_APP_TOKEN": "xapp-cli-test",
        "NUMBOT_APPROVAL_CHANNEL": "C0APPROVALS",
        "NUMBOT_POLICY": "policy.toml",
    }
    refused = numbot("run", cwd=tmp_path, env=env)
    assert refused.returncode == 78  # EX_CONFIG
    assert "No approver can exist" in refused.stderr and "NUMBOT_APPROVERS" in refused.stderr


def test_audit_verify_export_and_a_newer_schema_on_either_engine(db_target, engine, tmp_path):
    """NUMBOT_DATABASE_URL (PostgreSQL, its password never printed) or NUMBOT_DB (SQLite)."""
    make_log(db_target, 3)
    if engine == "postgresql":  # trust auth ignores the password: it only has to stay unseen
        target = db_target.replace("://numbot@", "://numbot:pw-s3cret-42@")
        env = {"NUMBOT_DATABASE_URL": target, "NUMBOT_DB": str(tmp_path / "unused.db")}
    else:
        env = {"NUMBOT_DB": db_target}
    ok = numbot("audit", "verify", cwd=tmp_path, env=env)
    assert ok.returncode == 0 and "3 entries" in ok.stdout, ok.stderr
    exported = numbot("audit", "export", cwd=tmp_path, env=env)
    assert [json.loads(line)["seq"] for line in exported.stdout.splitlines()] == [1, 2, 3]
    resealed = numbot("audit", "reseal", "--legacy-head", "0" * 16, cwd=tmp_path, env=env)
    assert resealed.returncode == 0 and "nothing to reseal" in resealed.stdout, resealed.stderr
    db = connect(db_target)
    db.execute("INSERT INTO migrations (name, applied_at) VALUES ('999_next', 'x')", ())
    db.close()
    refused = numbot("audit", "verify", cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "999_next" in refused.stderr and "newer" in refused.stderr
    for out in (ok, exported, resealed, refused):
        assert "pw-s3cret-42" not in out.stdout + out.stderr


def test_a_keyed_log_forged_as_an_unkeyed_one_is_never_resealed(tmp_path):
    """Someone holding only the database file rewrites the whole audit log as numbot's old
    unkeyed chain, relabelling who approved. numbot will not start on it, and `reseal`
    refuses it: whatever head is given, the database holds what only keyed numbot writes."""
    from storage.audit_seal import GENESIS, legacy_hash

    db = tmp_path / "numbot.db"
    make_log(db, 3)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO leases (name, holder, until) VALUES ('sweep', 'h:1:x', 'x')")
        conn.execute("DROP TRIGGER audit_no_update")
        prev = GENESIS
        for seq, at, action, subject, outcome, detail in conn.execute(
            "SELECT seq, at, action, subject, outcome, detail FROM audit ORDER BY seq"
        ).fetchall():
            digest = legacy_hash(prev, seq, at, "U_MALLORY", action, subject, outcome, detail)
            conn.execute(
                "UPDATE audit SET actor='U_MALLORY', state=NULL, prev_hash=?, hash=? WHERE seq=?",
                (prev, digest, seq),
            )
            prev = digest
    refused = numbot("audit", "verify", "--db", str(db), cwd=tmp_path)
    assert refused.returncode == 1 and "reseal" in refused.stderr
    forged = numbot("audit", "reseal", "--db", str(db), "--legacy-head", prev, cwd=tmp_path)
    assert forged.returncode == 2 and "tampering" in forged.stderr, forged.stderr
    assert "rewritten without the key" in forged.stderr
    still = numbot("audit", "verify", "--db", str(db), cwd=tmp_path)
    assert still.returncode == 1  # nothing was sealed
    bare = numbot("audit", "reseal", "--db", str(db), cwd=tmp_path)
    assert bare.returncode == 2 and "--legacy-head" in bare.stderr


def test_migrate_as_the_owner_grants_the_runtime_role_and_run_warns_the_owner(pg_roles, tmp_path):
    owner_url, runtime_url, runtime = pg_roles
    env = {"NUMBOT_DATABASE_URL": owner_url}
    done = numbot("migrate", "--grant-to", runtime, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "applied 001_requests" in done.stdout and f"granted {runtime}" in done.stdout
    again = numbot("migrate", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "up to date" in again.stdout
    as_app = numbot("audit", "verify", cwd=tmp_path, env={"NUMBOT_DATABASE_URL": runtime_url})
    assert as_app.returncode == 0, as_app.stderr


def test_a_password_on_the_command_line_is_refused(tmp_path):
    url = "postgresql://numbot:pw-s3cret-42@127.0.0.1:9/numbot"
    for args in (("audit", "verify", "--db", url), ("migrate", "--db", url)):
        refused = numbot(*args, cwd=tmp_path)
        assert refused.returncode == 2 and "~/.pgpass" in refused.stderr, refused.stderr
        assert "pw-s3cret-42" not in refused.stdout + refused.stderr


def test_grant_to_is_for_postgresql(tmp_path):
    refused = numbot(
        "migrate",
        "--grant-to",
        "numbot_app",
        cwd=tmp_path,
        env={"NUMBOT_DB": str(tmp_path / "n.db")},
    )
    assert refused.returncode == 2 and "PostgreSQL" in refused.stderr


def test_version_and_bare_numbot_print_what_they_should(tmp_path):
    from bot.ops.metrics import numbot_version

    done = numbot("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"numbot {numbot_version()}"
    done = numbot(cwd=tmp_path)  # no command: the help, not an error
    assert done.returncode == 0 and "usage: numbot" in done.stdout
    for command in ("run", "audit", "config", "policy", "backup"):
        assert command in done.stdout


def test_run_help_names_the_settings_and_where_they_are_documented(tmp_path):
    done = numbot("run", "--help", cwd=tmp_path)
    assert done.returncode == 0
    for name in ("SLACK_BOT_TOKEN", "NUMBOT_APPROVAL_CHANNEL", "NUMBOT_POLICY", "NUMBOT_NOTIFY"):
        assert name in done.stdout
    assert "docs/configuration.md" in done.stdout
    assert "78" in done.stdout and "75" in done.stdout


CONFIGURED = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-config-check-secret",
    "SLACK_SIGNING_SECRET": "f" * 32,
    "NUMBOT_APPROVERS": "U0BOB",
    "NUMBOT_APPROVAL_CHANNEL": "C0APPROVALS",
}


def test_config_check_prints_the_settings_hiding_secrets(tmp_path):
    done = numbot("config", "check", cwd=tmp_path, env=CONFIGURED)
    assert done.returncode == 0, done.stderr
    assert "NUMBOT_APPROVAL_CHANNEL" in done.stdout and "C0APPROVALS" in done.stdout
    assert "SLACK_BOT_TOKEN" in done.stdout
    for secret in (CONFIGURED["SLACK_BOT_TOKEN"], CONFIGURED["SLACK_SIGNING_SECRET"], AUDIT_KEY):
        assert secret not in done.stdout + done.stderr


def test_config_check_names_a_typo_and_fails(tmp_path):
    (tmp_path / ".env").write_text("NUMBOT_APPROVAL_CHANEL=C0OTHER\n")
    done = numbot("config", "check", cwd=tmp_path, env={**CONFIGURED, "NUMBOT_POLCY": "p.toml"})
    assert done.returncode == 1
    assert (
        "NUMBOT_POLCY is set but is not one of numbot's settings (did you mean NUMBOT_POLICY?)"
        in (done.stderr + done.stdout)
    )
    assert "did you mean NUMBOT_APPROVAL_CHANNEL?" in done.stderr + done.stdout


def test_config_check_fails_on_a_bad_value(tmp_path):
    done = numbot("config", "check", cwd=tmp_path, env={**CONFIGURED, "NUMBOT_APPROVERS": "bob"})
    assert done.returncode == 1 and "NUMBOT_APPROVERS" in done.stderr


def test_run_refuses_the_examples_placeholders(tmp_path):
    env = {
        **CONFIGURED,
        "SLACK_BOT_TOKEN": "xoxb-replace-me",
        "NUMBOT_APPROVAL_CHANNEL": "C0123456789",
    }
    done = numbot("run", cwd=tmp_path, env=env)
    assert done.returncode == 78
    assert "SLACK_BOT_TOKEN" in done.stderr and "placeholder" in done.stderr
    assert "NUMBOT_APPROVAL_CHANNEL" in done.stderr and "xoxb-replace-me" not in done.stderr


def test_a_supervisor_that_only_knows_failure_can_have_a_wrong_configuration_exit_0(tmp_path):
    done = numbot("run", "--config-error-status", "0", cwd=tmp_path)
    assert done.returncode == 0 and "SLACK_BOT_TOKEN" in done.stderr
    done = numbot("run", "--config-error-status", "300", cwd=tmp_path)
    assert done.returncode == 2  # argparse: not a valid status

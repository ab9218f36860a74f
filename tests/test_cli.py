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
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=cwd,
                          env={**base, **(env or {})}, timeout=30)


def make_log(path, n=4):
    audit = AuditLog(connect(path), AuditKey(AUDIT_KEY))
    for i in range(n):
        audit.append(actor=f"U{i}", action="approve", subject=f"req_{i}", outcome="ok")
    audit.db.conn.close()


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
    assert done.returncode == 2
    for name in ("SLACK_BOT_TOKEN", "NUMBOT_APPROVAL_CHANNEL", "SLACK_SIGNING_SECRET", "NUMBOT_APPROVERS"):
        assert name in done.stderr


def test_invalid_settings_are_explained_without_echoing_secrets(tmp_path):
    secret = "not-a-key-but-secret-123456"
    done = numbot("run", cwd=tmp_path, env={"FLOWYTE_API_KEY": secret, "NUMBOT_APPROVERS": "bob"})
    assert done.returncode == 2
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
    assert done.returncode == 2
    assert "SLACK_SIGNING_SECRET is set but blank" in done.stderr


def test_run_refuses_plain_http_to_a_remote_flowyte(tmp_path):
    env = {"FLOWYTE_API_KEY": "flowyte_sk_cli_test", "FLOWYTE_BASE_URL": "http://flowyte.example/api/v1"}
    done = numbot("run", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "FLOWYTE_BASE_URL" in done.stderr and "https://" in done.stderr
    assert "flowyte_sk_cli_test" not in done.stderr

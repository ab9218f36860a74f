"""storage/roles.py on a real PostgreSQL: the owner migrates, numbot runs as a runtime role,
and the runtime role is refused anything that could undo the audit log's guarantees."""

from __future__ import annotations

import psycopg
import pytest

from storage.audit import AuditKey, AuditLog
from storage.db import connect
from storage.engine import SchemaError
from storage.migrations import MIGRATIONS_PG
from storage.roles import RoleError, can_alter_audit, grant_runtime

pytestmark = pytest.mark.postgres
KEY = AuditKey("roles-test-audit-key-0123456789abcdef012")


def test_the_runtime_role_runs_numbot_and_cannot_touch_the_audit_log_s_guards(pg_roles):
    owner_url, runtime_url, runtime = pg_roles
    owner = connect(owner_url)
    assert can_alter_audit(owner)  # the owner could: numbot warns when it runs as it
    tables = grant_runtime(owner, runtime)
    assert "audit" in tables and "requests" in tables
    AuditLog(owner, KEY).append(actor="U1", action="reserve", subject="req_1", outcome="ok")
    owner.close()

    app = connect(runtime_url)  # at this version: nothing to migrate, only read
    assert not can_alter_audit(app)
    log = AuditLog(app, KEY)
    log.append(actor="U2", action="approve", subject="req_1", outcome="ok")
    app.execute("INSERT INTO leases (name, holder, until) VALUES ('sweep', 'h', 'x')")
    app.execute("UPDATE leases SET holder = 'h2' WHERE name = 'sweep'")
    assert log.verify().ok and log.count() == 2
    raw = psycopg.connect(runtime_url, autocommit=True)
    for attack in (
        "DROP TRIGGER audit_no_update ON audit",
        "ALTER TABLE audit DISABLE TRIGGER ALL",
        "UPDATE audit SET actor = 'U_EVIL'",
        "DELETE FROM audit",
        "TRUNCATE audit",
        "DROP TABLE audit",
        "INSERT INTO migrations (name, applied_at) VALUES ('999_next', 'x')",
        "CREATE TABLE audit_copy (seq INTEGER)",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute(attack)
    raw.close()
    assert log.verify().ok and log.count() == 2
    app.close()


def test_a_runtime_role_facing_a_due_migration_is_told_to_run_numbot_migrate(pg_roles):
    owner_url, runtime_url, runtime = pg_roles
    owner = connect(owner_url)
    grant_runtime(owner, runtime)
    last = MIGRATIONS_PG[-1][0]
    owner.execute("DELETE FROM migrations WHERE name = ?", (last,))  # as if an upgrade brought it
    owner.close()
    with pytest.raises(SchemaError) as refused:
        connect(runtime_url)
    assert "numbot migrate" in str(refused.value) and last in str(refused.value)


def test_a_role_name_is_checked_before_any_grant(pg_roles):
    owner_url, _, _ = pg_roles
    owner = connect(owner_url)
    for bad in ('app"; DROP TABLE audit; --', "App", "", "x" * 64):
        with pytest.raises(RoleError):
            grant_runtime(owner, bad)
    assert owner.execute("SELECT count(*) FROM audit").fetchone()[0] == 0
    owner.close()


def test_sqlite_has_no_roles(tmp_path):
    db = connect(tmp_path / "numbot.db")
    assert not can_alter_audit(db)
    with pytest.raises(RoleError, match="PostgreSQL"):
        grant_runtime(db, "numbot_app")
    db.close()

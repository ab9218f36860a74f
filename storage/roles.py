"""PostgreSQL roles: an owner that migrates, and a runtime role numbot runs as.

The audit log's triggers refuse UPDATE, DELETE and TRUNCATE, but whoever owns the `audit`
table can drop them (or the table). So on PostgreSQL the schema belongs to an owner role
that only `numbot migrate` uses, and numbot runs as a runtime role granted what it needs:

    numbot migrate --grant-to numbot_app      # as the owner: migrate, then grant
    numbot run                                # as numbot_app

The runtime role may read and write numbot's tables, only read `migrations`, and only read
and append to `audit`:
it cannot drop the triggers, alter or truncate the table. Grants cover the tables that exist,
so `numbot migrate --grant-to` runs again after each upgrade that adds tables.
"""

from __future__ import annotations

import re

from storage.engine import Database

AUDIT_TABLE = "audit"
# What the runtime role may do to each table; any other table: read and write.
RIGHTS = {AUDIT_TABLE: "SELECT, INSERT", "migrations": "SELECT"}
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(Exception):
    """A role name numbot will not put into a GRANT."""


def grant_runtime(db: Database, role: str) -> list[str]:
    """Grant `role` what numbot needs at run time on every table of the current schema (and
    no more on `audit` than SELECT and INSERT); return the tables granted. PostgreSQL only."""
    if db.dialect != "postgresql":
        raise RoleError(
            "roles are PostgreSQL's: a SQLite database is one file, guarded by its mode"
        )
    if not ROLE_NAME.fullmatch(role):
        raise RoleError(
            f"{role[:64]!r} is not a role name numbot will grant to (lowercase letters, digits "
            "and _, starting with a letter or _)"
        )
    tables = [
        str(name)
        for (name,) in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
    ]
    quoted = f'"{role}"'
    with db.transaction() as tx:
        tx.execute(f"GRANT USAGE ON SCHEMA {_schema(tx)} TO {quoted}")
        for table in tables:
            tx.execute(f'REVOKE ALL ON "{table}" FROM {quoted}')
            rights = RIGHTS.get(table, "SELECT, INSERT, UPDATE, DELETE")
            tx.execute(f'GRANT {rights} ON "{table}" TO {quoted}')
        tx.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_schema(tx)} TO {quoted}")
    return tables


def _schema(db: Database) -> str:
    name = db.execute("SELECT current_schema()").fetchone()[0]
    return '"' + str(name).replace('"', '""') + '"'


def can_alter_audit(db: Database) -> bool:
    """Whether numbot's own role could drop the audit log's triggers: it is a superuser, or a
    member of the role that owns the table. Always False on SQLite (no roles)."""
    if db.dialect != "postgresql":
        return False
    row = db.execute(
        "SELECT r.rolsuper OR pg_has_role(current_user, t.tableowner, 'MEMBER') "
        "FROM pg_tables t, pg_roles r "
        "WHERE t.schemaname = current_schema() AND t.tablename = ? AND r.rolname = current_user",
        (AUDIT_TABLE,),
    ).fetchone()
    return bool(row and row[0])

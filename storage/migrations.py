"""Schema migrations, applied in order, each once, at start, on either engine.

SQLite's are here (MIGRATIONS); PostgreSQL's, under the same names, in storage/migrations_pg.py.
Append new migrations to both; never edit one that has shipped.

The `migrations` table records each one applied. A database that records a migration this
numbot does not know was migrated by a newer numbot: this one refuses to run against it
(SchemaError) rather than misread or damage what the newer one wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from storage.engine import Database, SchemaError
from storage.migrations_pg import (
    COSTS_SQL,
    IDLE_BASELINE_SQL,
    MIGRATIONS_PG,
    OWNED_SQL,
    SCALE_INDEXES_SQL,
    UNFUNDED_SQL,
)


def _m001_requests(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE requests (
            id              TEXT PRIMARY KEY,
            kind            TEXT NOT NULL CHECK (kind IN ('purchase', 'release')),
            status          TEXT NOT NULL,
            e164            TEXT NOT NULL,
            number_id       TEXT,
            reservation_id  TEXT,
            setup_cost      TEXT,
            monthly_cost    TEXT,
            requester       TEXT NOT NULL,
            reason          TEXT NOT NULL DEFAULT '',
            decided_by      TEXT,
            card_channel    TEXT,
            card_ts         TEXT,
            hold_expires_at TEXT,
            detail          TEXT NOT NULL DEFAULT '',
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX requests_status ON requests (status)")


def _m002_audit(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE audit (
            seq       INTEGER PRIMARY KEY,
            at        TEXT NOT NULL,
            actor     TEXT NOT NULL,
            action    TEXT NOT NULL,
            subject   TEXT NOT NULL,
            outcome   TEXT NOT NULL,
            detail    TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash      TEXT NOT NULL
        )
        """
    )
    db.execute(
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    )


def _m003_money_truth(db: Database) -> None:
    """Sealed transitions in the audit log; checks of unknown outcomes; cards to repair."""
    db.execute("ALTER TABLE audit ADD COLUMN state TEXT")
    db.execute("CREATE INDEX audit_subject ON audit (subject, seq)")
    db.execute("ALTER TABLE requests ADD COLUMN card_drawn TEXT")
    db.execute("ALTER TABLE requests ADD COLUMN next_check_at TEXT")
    db.execute("ALTER TABLE requests ADD COLUMN check_attempts INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE requests ADD COLUMN last_sent_at TEXT")  # the last spending call
    # Work is found by what is due, not by walking every open request.
    db.execute(
        "CREATE INDEX requests_stale_cards ON requests (updated_at) "
        "WHERE card_ts IS NOT NULL AND (card_drawn IS NULL OR card_drawn != status)"
    )
    db.execute("CREATE INDEX requests_checks ON requests (next_check_at) WHERE status = 'checking'")
    db.execute("CREATE INDEX requests_status_changed ON requests (status, updated_at)")
    db.execute(
        "CREATE INDEX requests_hold_expiry ON requests (hold_expires_at) "
        "WHERE status IN ('held', 'pending')"
    )


def _m004_home(db: Database) -> None:
    """App Home: whose Home numbot has drawn (only theirs is redrawn when something changes),
    and each person's requests found by requester."""
    db.execute(
        """
        CREATE TABLE home_seen (
            user_id       TEXT PRIMARY KEY,
            first_seen_at TEXT NOT NULL,
            last_seen_at  TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX requests_requester ON requests (requester, updated_at)")


def _m005_digest(db: Database) -> None:
    """The daily digest, and a person's own open requests, found by index."""
    # The digest reads one day of the entries that moved a request or refused someone.
    db.execute(
        "CREATE INDEX audit_digest_facts ON audit (at) "
        "WHERE state IS NOT NULL OR outcome = 'refused'"
    )
    # One row per summarised UTC day, written with its sealed `digest` entry (the claim);
    # posted_at stays NULL until Slack took the post, and lease_until keeps a second
    # process from posting it while one is (or may still be) trying.
    db.execute(
        """
        CREATE TABLE digests (
            day         TEXT PRIMARY KEY,
            seq         INTEGER NOT NULL,
            lease_until TEXT NOT NULL,
            attempts    INTEGER NOT NULL DEFAULT 1,
            posted_at   TEXT,
            channel     TEXT,
            ts          TEXT
        )
        """
    )
    db.execute("CREATE INDEX digests_unposted ON digests (lease_until) WHERE posted_at IS NULL")
    db.execute(
        "CREATE INDEX requests_open_by_requester ON requests (requester, e164) "
        "WHERE status IN ('held', 'pending')"
    )


def _m006_approvers_told(db: Database) -> None:
    """Every copy of a request's card (approvers' DMs), and reminders sent once."""
    db.execute(
        """
        CREATE TABLE request_messages (
            request_id TEXT NOT NULL REFERENCES requests (id),
            recipient  TEXT NOT NULL,
            channel    TEXT NOT NULL,
            ts         TEXT NOT NULL,
            drawn      TEXT,
            PRIMARY KEY (request_id, channel, ts)
        )
        """
    )
    db.execute("ALTER TABLE requests ADD COLUMN reminded_at TEXT")
    db.execute(
        "CREATE INDEX requests_reminders ON requests (hold_expires_at) "
        "WHERE status = 'pending' AND reminded_at IS NULL"
    )


def _m007_quorum(db: Database) -> None:
    """Approvals counted toward a quorum: one row per distinct approver of a request."""
    db.execute(
        """
        CREATE TABLE approvals (
            request_id TEXT NOT NULL REFERENCES requests (id),
            approver   TEXT NOT NULL,
            at         TEXT NOT NULL,
            PRIMARY KEY (request_id, approver)
        )
        """
    )
    db.execute("ALTER TABLE requests ADD COLUMN approvals_needed INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE requests ADD COLUMN approved_by TEXT NOT NULL DEFAULT ''")
    db.execute(
        "CREATE INDEX requests_month_spend ON requests (status, updated_at) WHERE kind = 'purchase'"
    )


def _m008_leases(db: Database) -> None:
    """Leases on work that one process at a time should do (the sweep), taken over once the
    holder stops renewing them (storage/leases.py)."""
    db.execute(
        """
        CREATE TABLE leases (
            name   TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            until  TEXT NOT NULL
        )
        """
    )


def _m009_owned(db: Database) -> None:
    """An index of the organization's owned numbers (storage/owned.py): kept fresh by what
    numbot does and by background reads of Flowyte's list, so nothing a person waits for
    walks every page of it."""
    for sql in OWNED_SQL:
        db.execute(sql.replace("{T}", "TEXT"))


def _m010_scale_indexes(db: Database) -> None:
    """Indexes of the pending requests whose card was never posted (the sweep), of each
    number's requests and of one person's requests by status, so none of these reads every
    open request, or everything a person ever asked for."""
    for sql in SCALE_INDEXES_SQL:
        db.execute(sql)


def _m011_unfunded(db: Database) -> None:
    """A purchase refused for want of balance keeps its hold (`unfunded`): lapsed holds are
    found in that status too; and the wallet as the card first showed it."""
    for sql in UNFUNDED_SQL:
        db.execute(sql)


def _m012_costs(db: Database) -> None:
    """What the numbers keep costing: the low-wallet warning's state, the numbers that reach
    nobody and since when, and Flowyte's number charges by month (storage/costs.py)."""
    for sql in COSTS_SQL:
        db.execute(sql.replace("{T}", "TEXT"))


def _m013_idle_baseline(db: Database) -> None:
    """When numbot first noted the numbers that reach nobody: the digest does not call the
    ones it found then new (storage/costs.py)."""
    for sql in IDLE_BASELINE_SQL:
        db.execute(sql)


MIGRATIONS: list[tuple[str, Callable[[Database], None]]] = [
    ("001_requests", _m001_requests),
    ("002_audit", _m002_audit),
    ("003_money_truth", _m003_money_truth),
    ("004_home", _m004_home),
    ("005_digest", _m005_digest),
    ("006_approvers_told", _m006_approvers_told),
    ("007_quorum", _m007_quorum),
    ("008_leases", _m008_leases),
    ("009_owned", _m009_owned),
    ("010_scale_indexes", _m010_scale_indexes),
    ("011_unfunded", _m011_unfunded),
    ("012_costs", _m012_costs),
    ("013_idle_baseline", _m013_idle_baseline),
]


def _steps(db: Database) -> list[tuple[str, Callable[[Database], None]]]:
    if db.dialect == "sqlite":
        return MIGRATIONS

    def run(statements: list[str]) -> Callable[[Database], None]:
        def apply(db: Database) -> None:
            for sql in statements:
                db.execute(sql)

        return apply

    return [(name, run(statements)) for name, statements in MIGRATIONS_PG]


def latest() -> str:
    """The newest schema version this numbot knows."""
    return MIGRATIONS[-1][0]


def _refuse_newer(recorded: set[str], known: list[str]) -> None:
    unknown = sorted(recorded - set(known))
    if unknown:
        raise SchemaError(
            f"this database's schema is at version {unknown[-1]}, newer than this numbot knows "
            f"(up to {known[-1]}): a newer numbot migrated it. Run that version of numbot or a "
            "later one; this one refuses to start rather than misread or damage its data"
        )


def migrate(db: Database) -> list[str]:
    """Apply the migrations not yet applied; return their names. Refuses (SchemaError) a
    database a newer numbot has migrated. Several processes starting at once take turns
    (the write transaction's lock) and each migration is applied once.

    A database already at this version is only read: on PostgreSQL numbot may run as a
    runtime role that cannot create or alter tables (storage/roles.py); when migrations are
    due and its role may not apply them, SchemaError says to run `numbot migrate` as the
    owner role."""
    steps = _steps(db)
    recorded = _recorded(db)
    if recorded is not None:
        _refuse_newer(recorded, [name for name, _ in steps])
        if all(name in recorded for name, _ in steps):
            return []
    try:
        return _apply(db, steps)
    except Exception as exc:
        if not _insufficient_privilege(exc):
            raise
        due = [name for name, _ in steps if recorded is None or name not in recorded]
        raise SchemaError(
            f"this database needs migrating to {due[-1]} ({len(due)} migration(s) due), and "
            "numbot's database role may not change its tables: run `numbot migrate` with the "
            "owner role first (docs: operations, PostgreSQL roles)"
        ) from None


def _insufficient_privilege(exc: BaseException) -> bool:
    """PostgreSQL's SQLSTATE 42501 (psycopg.errors.InsufficientPrivilege), without importing
    psycopg where it is not installed."""
    return getattr(exc, "sqlstate", None) == "42501"


def _recorded(db: Database) -> set[str] | None:
    """The migrations recorded as applied; None before the first one (no table yet)."""
    if db.dialect == "sqlite":
        exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    else:
        exists = (
            "SELECT 1 FROM pg_tables "
            "WHERE schemaname = current_schema() AND tablename = 'migrations'"
        )
    if db.execute(exists).fetchone() is None:
        return None
    return {row[0] for row in db.execute("SELECT name FROM migrations")}


def _apply(db: Database, steps: list[tuple[str, Callable[[Database], None]]]) -> list[str]:
    with db.transaction() as tx:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in tx.execute("SELECT name FROM migrations")}
        _refuse_newer(done, [name for name, _ in steps])
        applied = []
        for name, apply in steps:
            if name in done:
                continue
            apply(tx)
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            tx.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now))
            applied.append(name)
    return applied


def check_version(db: Database) -> None:
    """Without migrating: refuse a database a newer numbot has migrated."""
    recorded = _recorded(db)
    if recorded is not None:
        _refuse_newer(recorded, [name for name, _ in _steps(db)])

"""PostgreSQL's schema migrations: the same names, tables, columns and indexes as SQLite's
(storage/migrations.py), in PostgreSQL's words.

Every text column compares byte by byte (COLLATE "C"), as SQLite's do, so UTC timestamps in
text order are in time order whatever the database's locale. The audit log's append-only rule
is a trigger that raises on UPDATE, DELETE and TRUNCATE.

Append new migrations to MIGRATIONS_PG, under the same name as SQLite's; never edit one that
has shipped.
"""

from __future__ import annotations

T = 'TEXT COLLATE "C"'

_M001 = [
    f"""
    CREATE TABLE requests (
        id              {T} PRIMARY KEY,
        kind            {T} NOT NULL CHECK (kind IN ('purchase', 'release')),
        status          {T} NOT NULL,
        e164            {T} NOT NULL,
        number_id       {T},
        reservation_id  {T},
        setup_cost      {T},
        monthly_cost    {T},
        requester       {T} NOT NULL,
        reason          {T} NOT NULL DEFAULT '',
        decided_by      {T},
        card_channel    {T},
        card_ts         {T},
        hold_expires_at {T},
        detail          {T} NOT NULL DEFAULT '',
        created_at      {T} NOT NULL,
        updated_at      {T} NOT NULL
    )
    """,
    "CREATE INDEX requests_status ON requests (status)",
]

_M002 = [
    f"""
    CREATE TABLE audit (
        seq       BIGINT PRIMARY KEY,
        at        {T} NOT NULL,
        actor     {T} NOT NULL,
        action    {T} NOT NULL,
        subject   {T} NOT NULL,
        outcome   {T} NOT NULL,
        detail    {T} NOT NULL,
        prev_hash {T} NOT NULL,
        hash      {T} NOT NULL
    )
    """,
    """
    CREATE FUNCTION numbot_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only';
    END
    $$
    """,
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION numbot_audit_append_only()",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION numbot_audit_append_only()",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION numbot_audit_append_only()",
]

_M003 = [
    f"ALTER TABLE audit ADD COLUMN state {T}",
    "CREATE INDEX audit_subject ON audit (subject, seq)",
    f"ALTER TABLE requests ADD COLUMN card_drawn {T}",
    f"ALTER TABLE requests ADD COLUMN next_check_at {T}",
    "ALTER TABLE requests ADD COLUMN check_attempts INTEGER NOT NULL DEFAULT 0",
    f"ALTER TABLE requests ADD COLUMN last_sent_at {T}",
    "CREATE INDEX requests_stale_cards ON requests (updated_at) "
    "WHERE card_ts IS NOT NULL AND (card_drawn IS NULL OR card_drawn != status)",
    "CREATE INDEX requests_checks ON requests (next_check_at) WHERE status = 'checking'",
    "CREATE INDEX requests_status_changed ON requests (status, updated_at)",
    "CREATE INDEX requests_hold_expiry ON requests (hold_expires_at) "
    "WHERE status IN ('held', 'pending')",
]

_M004 = [
    f"""
    CREATE TABLE home_seen (
        user_id       {T} PRIMARY KEY,
        first_seen_at {T} NOT NULL,
        last_seen_at  {T} NOT NULL
    )
    """,
    "CREATE INDEX requests_requester ON requests (requester, updated_at)",
]

_M005 = [
    "CREATE INDEX audit_digest_facts ON audit (at) WHERE state IS NOT NULL OR outcome = 'refused'",
    f"""
    CREATE TABLE digests (
        day         {T} PRIMARY KEY,
        seq         BIGINT NOT NULL,
        lease_until {T} NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 1,
        posted_at   {T},
        channel     {T},
        ts          {T}
    )
    """,
    "CREATE INDEX digests_unposted ON digests (lease_until) WHERE posted_at IS NULL",
    "CREATE INDEX requests_open_by_requester ON requests (requester, e164) "
    "WHERE status IN ('held', 'pending')",
]

_M006 = [
    f"""
    CREATE TABLE request_messages (
        request_id {T} NOT NULL REFERENCES requests (id),
        recipient  {T} NOT NULL,
        channel    {T} NOT NULL,
        ts         {T} NOT NULL,
        drawn      {T},
        PRIMARY KEY (request_id, channel, ts)
    )
    """,
    f"ALTER TABLE requests ADD COLUMN reminded_at {T}",
    "CREATE INDEX requests_reminders ON requests (hold_expires_at) "
    "WHERE status = 'pending' AND reminded_at IS NULL",
]

_M007 = [
    f"""
    CREATE TABLE approvals (
        request_id {T} NOT NULL REFERENCES requests (id),
        approver   {T} NOT NULL,
        at         {T} NOT NULL,
        PRIMARY KEY (request_id, approver)
    )
    """,
    "ALTER TABLE requests ADD COLUMN approvals_needed INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE requests ADD COLUMN approved_by TEXT COLLATE \"C\" NOT NULL DEFAULT ''",
    "CREATE INDEX requests_month_spend ON requests (status, updated_at) WHERE kind = 'purchase'",
]

_M008 = [
    f"""
    CREATE TABLE leases (
        name   {T} PRIMARY KEY,
        holder {T} NOT NULL,
        until  {T} NOT NULL
    )
    """,
]

# 009: the same statements on both engines ({T} is each engine's text type); SQLite's
# migrations.py takes them from here.
OWNED_SQL = [
    """
    CREATE TABLE owned_numbers (
        e164         {T} PRIMARY KEY,
        number_id    {T} NOT NULL,
        agent_id     {T},
        monthly_cost {T},
        status       {T},
        seen_at      {T} NOT NULL
    )
    """,
    "CREATE INDEX owned_numbers_by_id ON owned_numbers (number_id)",
    "CREATE INDEX owned_numbers_unrouted ON owned_numbers (e164) WHERE agent_id IS NULL",
    """
    CREATE TABLE owned_refresh (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        started_at     {T},
        finished_at    {T},
        complete       INTEGER NOT NULL DEFAULT 0,
        seen           INTEGER NOT NULL DEFAULT 0,
        complete_at    {T},
        complete_count INTEGER
    )
    """,
    "INSERT INTO owned_refresh (id) VALUES (1)",
]

_M009 = [sql.replace("{T}", T) for sql in OWNED_SQL]

# 010: the same statements on both engines; SQLite's migrations.py takes them from here.
SCALE_INDEXES_SQL = [
    # Pending requests whose card was never posted, by when they last changed: the sweep's
    # `cardless` (storage/due.py) reads this instead of every pending request.
    "CREATE INDEX requests_cardless ON requests (updated_at) "
    "WHERE status = 'pending' AND card_ts IS NULL",
    # A number's requests (storage/people.py's open_for_number): a release request looks
    # for one already waiting without reading every open request.
    "CREATE INDEX requests_by_number ON requests (e164)",
    # One person's requests by status (App Home: their holds, their requests under way),
    # without reading every request they ever made (each lapsed hold is one).
    "CREATE INDEX requests_requester_status ON requests (requester, status, created_at)",
]

# 011: the same statements on both engines. A purchase approved but refused for want of
# balance waits as `unfunded` for a retry, until its hold lapses: the sweep finds lapsed
# holds of every status that still has one through this index. And the wallet's balance
# as the card first showed it, with when it was read, so every redraw can say it again.
UNFUNDED_SQL = [
    "DROP INDEX requests_hold_expiry",
    "CREATE INDEX requests_hold_expiry ON requests (hold_expires_at) "
    "WHERE status IN ('held', 'pending', 'unfunded')",
    "ALTER TABLE requests ADD COLUMN wallet_usd TEXT",
    "ALTER TABLE requests ADD COLUMN wallet_seen_at TEXT",
]

# 012: what the numbers keep costing (storage/costs.py). One row says whether the wallet is
# low and the day it was last said, so the warning goes once a day and its clearing once;
# the numbers that reach nobody, with since when, so the digest names the new ones; and
# Flowyte's number charges a month, read once for a month that has ended; and the wallet as
# last read, so App Home and the cards say it without asking Flowyte.
COSTS_SQL = [
    """
    CREATE TABLE wallet_seen (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        balance_usd      {T} NOT NULL,
        reload_enabled   INTEGER,
        reload_threshold {T},
        reload_amount    {T},
        seen_at          {T} NOT NULL
    )
    """,
    """
    CREATE TABLE runway_alert (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        low        INTEGER NOT NULL DEFAULT 0,
        warned_on  {T},
        changed_at {T}
    )
    """,
    "INSERT INTO runway_alert (id) VALUES (1)",
    """
    CREATE TABLE idle_numbers (
        e164  {T} PRIMARY KEY,
        since {T} NOT NULL
    )
    """,
    "CREATE INDEX idle_numbers_since ON idle_numbers (since)",
    """
    CREATE TABLE usage_months (
        month          {T} PRIMARY KEY,
        number_credits {T} NOT NULL,
        items          INTEGER NOT NULL,
        read_at        {T} NOT NULL,
        complete       INTEGER NOT NULL
    )
    """,
]

# 013: when numbot first noted the numbers that reach nobody. Those it found then were there
# before it looked: the digest names as new only the ones noted after.
IDLE_BASELINE_SQL = [
    "ALTER TABLE runway_alert ADD COLUMN idle_baseline_at TEXT",
]

MIGRATIONS_PG: list[tuple[str, list[str]]] = [
    ("001_requests", _M001),
    ("002_audit", _M002),
    ("003_money_truth", _M003),
    ("004_home", _M004),
    ("005_digest", _M005),
    ("006_approvers_told", _M006),
    ("007_quorum", _M007),
    ("008_leases", _M008),
    ("009_owned", _M009),
    ("010_scale_indexes", SCALE_INDEXES_SQL),
    ("011_unfunded", UNFUNDED_SQL),
    ("012_costs", [sql.replace("{T}", T) for sql in COSTS_SQL]),
    ("013_idle_baseline", IDLE_BASELINE_SQL),
]

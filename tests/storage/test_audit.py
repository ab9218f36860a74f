import io
import json
import sqlite3

import pytest

from storage.audit import GENESIS, AuditLog
from storage.db import connect


@pytest.fixture
def audit():
    return AuditLog(connect(":memory:"))


def fill(audit, n=5):
    for i in range(n):
        audit.append(actor=f"U{i}", action="approve", subject=f"req_{i}", outcome="ok", detail=json.dumps({"i": i}))


def test_entries_chain_from_genesis(audit):
    fill(audit, 3)
    entries = list(audit.entries())
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].hash
    assert audit.verify().ok and audit.verify().entries == 3


def test_update_and_delete_are_refused_by_triggers(audit):
    fill(audit, 2)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        audit.db.execute("UPDATE audit SET outcome = 'ok' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        audit.db.execute("DELETE FROM audit WHERE seq = 1")


def drop_triggers(audit):
    audit.db.execute("DROP TRIGGER audit_no_update")
    audit.db.execute("DROP TRIGGER audit_no_delete")


def test_verify_names_an_edited_entry(audit):
    fill(audit, 5)
    drop_triggers(audit)
    audit.db.execute("UPDATE audit SET actor = 'U_EVIL' WHERE seq = 3")
    result = audit.verify()
    assert not result.ok and result.bad_seq == 3 and "edited" in result.problem
    assert result.entries == 2


def test_verify_names_the_entry_after_a_deletion(audit):
    fill(audit, 5)
    drop_triggers(audit)
    audit.db.execute("DELETE FROM audit WHERE seq = 2")
    result = audit.verify()
    assert not result.ok and result.bad_seq == 3


def test_verify_catches_an_entry_inserted_out_of_order(audit):
    fill(audit, 3)
    last = list(audit.entries())[-1]
    audit.db.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, outcome, detail, prev_hash, hash) VALUES (10, ?, 'U9', 'approve', 'x', 'ok', '', ?, ?)",
        [last.at, last.hash, "f" * 64],
    )
    result = audit.verify()
    assert not result.ok and result.bad_seq == 10


def test_verify_catches_a_rehashed_edit_by_its_successor(audit):
    """Whoever edits a row and recomputes its hash still breaks the next row's link."""
    from storage.audit import entry_hash

    fill(audit, 4)
    drop_triggers(audit)
    e = list(audit.entries())[1]
    forged = entry_hash(e.prev_hash, e.seq, e.at, "U_EVIL", e.action, e.subject, e.outcome, e.detail)
    audit.db.execute("UPDATE audit SET actor = 'U_EVIL', hash = ? WHERE seq = 2", [forged])
    result = audit.verify()
    assert not result.ok and result.bad_seq == 3


def test_expect_head_catches_a_truncated_tail(audit):
    fill(audit, 4)
    head = audit.verify().head
    drop_triggers(audit)
    audit.db.execute("DELETE FROM audit WHERE seq = 4")
    assert audit.verify().ok  # a shorter chain is still a chain...
    result = audit.verify(expect_head=head)
    assert not result.ok and "removed from the end" in result.problem  # ...but not the recorded one


def test_exports(audit):
    fill(audit, 2)
    out = io.StringIO()
    assert audit.export_jsonl(out) == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0]["actor"] == "U0" and rows[1]["prev_hash"] == rows[0]["hash"]
    out = io.StringIO()
    audit.export_csv(out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("seq,at,actor,action") and len(lines) == 3


def test_database_file_is_owner_only(tmp_path):
    path = tmp_path / "numbot.db"
    db = connect(path)
    AuditLog(db).append(actor="U1", action="search", subject="415", outcome="ok")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_are_idempotent(tmp_path):
    from storage.migrations import migrate

    db = connect(tmp_path / "x.db")
    assert migrate(db) == []

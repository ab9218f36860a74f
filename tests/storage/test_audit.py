"""The sealed audit chain: append-only, keyed, verifiable, exportable, and taken over once
from a log written before the key."""

import csv
import hashlib
import io
import json
import sqlite3

import pytest

from storage.audit import (
    GENESIS,
    RESEALED,
    AuditKey,
    AuditKeyError,
    AuditLog,
    legacy_hash,
)
from storage.db import connect

KEY = AuditKey("storage-test-audit-key-0123456789abcdef")
OTHER_KEY = AuditKey("another-audit-key-nobody-should-have-0000")


@pytest.fixture
def audit():
    return AuditLog(connect(":memory:"), KEY)


def fill(audit, n=5, start=0):
    for i in range(start, start + n):
        audit.append(
            actor=f"U{i}",
            action="approve",
            subject=f"req_{i}",
            outcome="ok",
            detail=json.dumps({"i": i}),
        )


def drop_triggers(audit):
    audit.db.execute("DROP TRIGGER audit_no_update")
    audit.db.execute("DROP TRIGGER audit_no_delete")


def sha_forge(audit, seq, **changes):
    """What someone with the file and the source, but not the key, can compute: the old
    unkeyed link (and, for lack of the key, nothing better)."""
    e = next(x for x in audit.entries() if x.seq == seq)
    fields = {**e.__dict__, **changes}
    return legacy_hash(
        fields["prev_hash"],
        fields["seq"],
        fields["at"],
        fields["actor"],
        fields["action"],
        fields["subject"],
        fields["outcome"],
        fields["detail"],
    )


def test_entries_chain_from_genesis(audit):
    fill(audit, 3)
    entries = list(audit.entries())
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].hash
    assert audit.verify().ok and audit.verify().entries == 3
    assert all(KEY.authentic(e) for e in entries)
    assert not any(OTHER_KEY.authentic(e) for e in entries)


def test_the_key_never_shows_in_a_repr():
    assert "0123456789" not in repr(KEY)


def test_a_short_key_is_refused():
    with pytest.raises(AuditKeyError, match="at least 32"):
        AuditKey("short")


def test_update_and_delete_are_refused_by_triggers(audit):
    fill(audit, 2)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        audit.db.execute("UPDATE audit SET outcome = 'ok' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        audit.db.execute("DELETE FROM audit WHERE seq = 1")


@pytest.mark.parametrize(
    "column,value",
    [
        ("actor", "'U_EVIL'"),
        ("outcome", "'refused'"),
        ("detail", "'{\"i\": 99}'"),
        ("action", "'reject'"),
        ("subject", "'req_x'"),
        ("at", "'2020-01-01T00:00:00.000000Z'"),
        ("state", "'approved'"),
    ],
)
@pytest.mark.parametrize("seq", [1, 3, 5])
def test_verify_names_an_edited_entry_whatever_field_and_wherever(audit, column, value, seq):
    fill(audit, 5)
    drop_triggers(audit)
    audit.db.execute(f"UPDATE audit SET {column} = {value} WHERE seq = {seq}")
    result = audit.verify()
    assert not result.ok and result.bad_seq == seq and "not sealed" in result.problem
    assert result.entries == seq - 1


def test_verify_compares_the_stored_link_not_just_the_hash(audit):
    fill(audit, 4)
    drop_triggers(audit)
    audit.db.execute("UPDATE audit SET prev_hash = ? WHERE seq = 3", ["a" * 64])
    result = audit.verify()
    assert not result.ok and result.bad_seq == 3 and "link" in result.problem


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


def test_an_entry_appended_without_the_key_is_named(audit):
    """The attack the unkeyed chain allowed: append a well-linked entry with a recomputed hash."""
    fill(audit, 3)
    head = audit.head()
    at = "2030-01-01T00:00:00.000000Z"
    forged = legacy_hash(head.hash, 4, at, "U_BOB", "approve", "req_x", "ok", "")
    audit.db.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, outcome, detail, prev_hash, hash) VALUES (4, ?, 'U_BOB', 'approve', 'req_x', 'ok', '', ?, ?)",
        [at, head.hash, forged],
    )
    result = audit.verify()
    assert not result.ok and result.bad_seq == 4
    with pytest.raises(AuditKeyError, match="not sealed"):
        audit.check_key()


def test_a_rewritten_chain_without_the_key_fails_at_its_first_entry(audit):
    """Rewriting every entry from the first with plain SHA-256 links verifies as unkeyed
    entries after a keyed one... unless all are rewritten: then nothing seals them."""
    fill(audit, 3)
    drop_triggers(audit)
    prev = GENESIS
    for e in list(audit.entries()):
        digest = legacy_hash(prev, e.seq, e.at, "U_EVIL", e.action, e.subject, e.outcome, e.detail)
        audit.db.execute(
            "UPDATE audit SET actor='U_EVIL', state=NULL, prev_hash=?, hash=? WHERE seq=?",
            [prev, digest, e.seq],
        )
        prev = digest
    result = audit.verify()
    assert not result.ok and "nothing seals them" in result.problem


def test_an_edit_sealed_with_another_key_is_named(audit):
    fill(audit, 3)
    drop_triggers(audit)
    e = list(audit.entries())[1]
    other = AuditLog(audit.db, OTHER_KEY)
    from storage.audit import _payload

    forged = OTHER_KEY.seal(
        e.prev_hash,
        _payload(e.seq, e.at, "U_EVIL", e.action, e.subject, e.outcome, e.detail, e.state),
    )
    audit.db.execute("UPDATE audit SET actor='U_EVIL', hash=? WHERE seq=2", [forged])
    assert not audit.verify().ok and audit.verify().bad_seq == 2
    assert (
        not other.verify().ok and other.verify().bad_seq == 1
    )  # the wrong key fails from the start


def test_expect_head_passes_on_a_live_log_and_fails_once_cut(audit):
    fill(audit, 4)
    head = audit.verify().head
    fill(audit, 3, start=10)  # honest entries keep arriving
    assert audit.verify(expect_head=head).ok
    drop_triggers(audit)
    audit.db.execute("DELETE FROM audit WHERE seq >= 4")
    assert audit.verify().ok  # a shorter chain is still a chain...
    result = audit.verify(expect_head=head)
    assert not result.ok and "removed from the end" in result.problem  # ...but not the recorded one


def test_expect_head_of_garbage_fails(audit):
    fill(audit, 2)
    assert not audit.verify(expect_head="0" * 63 + "1").ok


def test_state_is_sealed_and_read_back_as_transitions(audit):
    audit.append(actor="U1", action="reserve", subject="req_a", outcome="ok", state="held")
    audit.append(actor="U1", action="search", subject="req_a", outcome="ok")
    audit.append(actor="U2", action="approve", subject="req_a", outcome="ok", state="approved")
    steps = audit.transitions("req_a")
    assert [(s.actor, s.state) for s in steps] == [("U1", "held"), ("U2", "approved")]
    assert audit.has(subject="req_a", action="approve") and not audit.has(
        subject="req_a", action="reject"
    )


def test_a_lone_surrogate_in_a_detail_is_still_written_and_verifies(audit):
    audit.append(
        actor="U1",
        action="request_purchase",
        subject="req_a",
        outcome="refused",
        detail='{"reason": "\ud800"}',
    )
    assert audit.verify().ok


# -- taking over a log written before the key ---------------------------------------------------


def legacy_log(db, n=3):
    """Entries as numbot wrote them before the audit key: plain SHA-256 links."""
    prev = GENESIS
    for seq in range(1, n + 1):
        at = f"2026-01-0{seq}T00:00:00.000000Z"
        digest = legacy_hash(prev, seq, at, f"U{seq}", "approve", f"req_{seq}", "ok", "")
        db.execute(
            "INSERT INTO audit (seq, at, actor, action, subject, outcome, detail, prev_hash, hash) VALUES (?, ?, ?, 'approve', ?, 'ok', '', ?, ?)",
            [seq, at, f"U{seq}", f"req_{seq}", prev, digest],
        )
        prev = digest
    return prev


def test_an_unsealed_legacy_log_does_not_verify_and_numbot_will_not_start_on_it():
    audit = AuditLog(connect(":memory:"), KEY)
    legacy_log(audit.db)
    result = audit.verify()
    assert not result.ok and "reseal" in result.problem
    with pytest.raises(AuditKeyError, match="reseal"):
        audit.check_key()


def test_reseal_binds_the_legacy_entries_then_the_chain_goes_on_keyed():
    audit = AuditLog(connect(":memory:"), KEY)
    head = legacy_log(audit.db)
    sealed = audit.reseal()
    assert sealed.action == RESEALED and sealed.seq == 4
    assert json.loads(sealed.detail) == {"legacy_entries": 3, "legacy_head": head}
    assert audit.reseal() is None  # once
    fill(audit, 2)
    result = audit.verify()
    assert result.ok and result.entries == 6 and result.legacy == 3
    audit.check_key()


def test_after_reseal_an_edit_of_a_legacy_entry_is_still_named():
    audit = AuditLog(connect(":memory:"), KEY)
    legacy_log(audit.db)
    audit.reseal()
    drop_triggers(audit)
    # Even recomputing the whole unkeyed prefix cannot reach the sealed link.
    prev = GENESIS
    for e in [x for x in audit.entries() if x.seq <= 3]:
        digest = legacy_hash(prev, e.seq, e.at, "U_EVIL", e.action, e.subject, e.outcome, e.detail)
        audit.db.execute(
            "UPDATE audit SET actor='U_EVIL', prev_hash=?, hash=? WHERE seq=?",
            [prev, digest, e.seq],
        )
        prev = digest
    result = audit.verify()
    assert not result.ok and result.bad_seq == 4


def test_reseal_refuses_a_broken_legacy_log():
    audit = AuditLog(connect(":memory:"), KEY)
    legacy_log(audit.db)
    drop_triggers(audit)
    audit.db.execute("UPDATE audit SET actor='U_EVIL' WHERE seq = 2")
    with pytest.raises(AuditKeyError, match="broken at entry 2"):
        audit.reseal()


def test_the_wrong_key_is_caught_at_start(audit):
    fill(audit, 2)
    with pytest.raises(AuditKeyError, match="not the one"):
        AuditLog(audit.db, OTHER_KEY).check_key()
    AuditLog(audit.db, KEY).check_key()
    AuditLog(connect(":memory:"), OTHER_KEY).check_key()  # an empty log fits any key


# -- export ---------------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
)
def test_csv_export_neutralises_spreadsheet_formulas(audit, cell):
    audit.append(actor="U1", action="request_purchase", subject="req_a", outcome="ok", detail=cell)
    out = io.StringIO()
    audit.export_csv(out)
    row = next(iter(csv.DictReader(io.StringIO(out.getvalue()))))
    assert row["detail"] == "'" + cell
    assert row["seq"] == "1"  # numbers stay numbers


def test_database_file_is_owner_only(tmp_path):
    path = tmp_path / "numbot.db"
    db = connect(path)
    AuditLog(db, KEY).append(actor="U1", action="search", subject="415", outcome="ok")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_existing_world_readable_database_is_made_owner_only(tmp_path):
    path = tmp_path / "numbot.db"
    connect(path).conn.close()
    path.chmod(0o644)
    connect(path).conn.close()
    assert (path.stat().st_mode & 0o777) == 0o600


def test_migrations_are_idempotent(tmp_path):
    from storage.migrations import migrate

    db = connect(tmp_path / "x.db")
    assert migrate(db) == []


def test_the_sha256_used_for_legacy_links_is_sha256():
    assert (
        legacy_hash(GENESIS, 1, "t", "a", "b", "c", "d", "e")
        == hashlib.sha256(
            (
                GENESIS + json.dumps([1, "t", "a", "b", "c", "d", "e"], separators=(",", ":"))
            ).encode()
        ).hexdigest()
    )

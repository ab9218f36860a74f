"""The sealed audit chain: append-only, keyed, verifiable, exportable, and taken over once
from a log written before the key."""

import csv
import hashlib
import hmac
import io
import json
import sqlite3

import psycopg
import pytest

from storage.audit import (
    GENESIS,
    RESEALED,
    AuditKey,
    AuditKeyError,
    AuditLog,
    legacy_hash,
)
from storage.audit_seal import AuditEntry, seals_legacy
from storage.db import connect

KEY = AuditKey("storage-test-audit-key-0123456789abcdef")
OTHER_KEY = AuditKey("another-audit-key-nobody-should-have-0000")


@pytest.fixture
def audit(db_target):
    return AuditLog(connect(db_target), KEY)


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
    """What someone who owns the database can do: take the append-only rule away."""
    if audit.db.dialect == "sqlite":
        audit.db.execute("DROP TRIGGER audit_no_update")
        audit.db.execute("DROP TRIGGER audit_no_delete")
    else:
        audit.db.execute("ALTER TABLE audit DISABLE TRIGGER USER")


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


def test_update_and_delete_are_refused_by_the_database(audit):
    fill(audit, 2)
    refused = sqlite3.IntegrityError if audit.db.dialect == "sqlite" else psycopg.Error
    with pytest.raises(refused, match="append-only"):
        audit.db.execute("UPDATE audit SET outcome = 'ok' WHERE seq = 1")
    with pytest.raises(refused, match="append-only"):
        audit.db.execute("DELETE FROM audit WHERE seq = 1")
    if audit.db.dialect == "postgresql":
        with pytest.raises(refused, match="append-only"):
            audit.db.execute("TRUNCATE audit")
    assert audit.count() == 2 and audit.verify().ok


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
    from storage.audit_seal import sealed_payload as _payload

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


def test_an_unsealed_legacy_log_does_not_verify_and_numbot_will_not_start_on_it(db_target):
    audit = AuditLog(connect(db_target), KEY)
    legacy_log(audit.db)
    result = audit.verify()
    assert not result.ok and "reseal" in result.problem
    with pytest.raises(AuditKeyError, match="reseal"):
        audit.check_key()


def test_reseal_binds_the_legacy_entries_then_the_chain_goes_on_keyed(db_target):
    audit = AuditLog(connect(db_target), KEY)
    head = legacy_log(audit.db)
    sealed = audit.reseal(head)
    assert sealed.action == RESEALED and sealed.seq == 4
    assert json.loads(sealed.detail) == {"legacy_entries": 3, "legacy_head": head}
    assert audit.reseal(head) is None  # once
    fill(audit, 2)
    result = audit.verify()
    assert result.ok and result.entries == 6 and result.legacy == 3
    audit.check_key()


def test_after_reseal_an_edit_of_a_legacy_entry_is_still_named(db_target):
    audit = AuditLog(connect(db_target), KEY)
    audit.reseal(legacy_log(audit.db))
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


def test_reseal_refuses_a_broken_legacy_log(db_target):
    audit = AuditLog(connect(db_target), KEY)
    head = legacy_log(audit.db)
    drop_triggers(audit)
    audit.db.execute("UPDATE audit SET actor='U_EVIL' WHERE seq = 2")
    with pytest.raises(AuditKeyError, match="broken at entry 2"):
        audit.reseal(head)


def test_reseal_takes_over_only_the_log_the_operator_names(db_target):
    audit = AuditLog(connect(db_target), KEY)
    head = legacy_log(audit.db)
    for wrong in ("", head[:15], "0" * 64, head[:16] + "0"):
        with pytest.raises(AuditKeyError, match="tampering"):
            audit.reseal(wrong)
    assert audit.count() == 3  # nothing written
    assert audit.reseal(f"  {head[:20].upper()} ") is not None


@pytest.mark.parametrize(
    "trace",
    [
        "INSERT INTO owned_numbers (e164, number_id, seen_at) VALUES ('+14155550100', 'n', 'x')",
        "INSERT INTO leases (name, holder, until) VALUES ('sweep', 'h', 'x')",
        "INSERT INTO home_seen (user_id, first_seen_at, last_seen_at) VALUES ('U1', 'x', 'x')",
    ],
)
def test_a_keyed_log_rewritten_as_unkeyed_is_not_resealed(db_target, trace):
    """Someone with the database but not the key rewrites the whole log as the old unkeyed
    chain; what keyed numbot wrote elsewhere in the database gives it away."""
    audit = AuditLog(connect(db_target), KEY)
    head = legacy_log(audit.db)
    audit.db.execute(trace)
    with pytest.raises(AuditKeyError, match="rewritten without the key") as refused:
        audit.reseal(head)
    assert "tampering" in str(refused.value)
    assert audit.count() == 3
    with pytest.raises(AuditKeyError, match="someone rewrote it without the key"):
        audit.check_key()


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
    assert audit.export_csv(out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("seq,at,actor,action") and len(lines) == 3
    assert audit.export_csv(io.StringIO()) == audit.export_jsonl(io.StringIO()) == 2


def test_exports_keep_text_as_written(audit):
    audit.append(
        actor="U1", action="request_purchase", subject="req_a", outcome="ok", detail="café ☎ 東京"
    )
    out = io.StringIO()
    audit.export_jsonl(out)
    assert "café ☎ 東京" in out.getvalue()  # readable, not \u escapes
    assert json.loads(out.getvalue())["detail"] == "café ☎ 東京"


def test_an_entry_by_number_or_none(audit):
    fill(audit, 2)
    assert audit.entry(2).actor == "U1"
    assert audit.entry(3) is None and audit.entry(0) is None


def test_only_the_reseal_entry_with_both_facts_seals_a_legacy_log():
    def entry(action, **detail):
        return AuditEntry(
            1, "t", "numbot", action, "audit", "ok", json.dumps(detail), None, "p", "h"
        )

    assert seals_legacy(entry(RESEALED, legacy_entries=3, legacy_head="abc"), 3, "abc")
    assert not seals_legacy(entry(RESEALED, legacy_entries=2, legacy_head="abc"), 3, "abc")
    assert not seals_legacy(entry(RESEALED, legacy_entries=3, legacy_head="abd"), 3, "abc")
    assert not seals_legacy(entry("approve", legacy_entries=3, legacy_head="abc"), 3, "abc")


def test_the_key_never_shows_in_its_repr():
    assert repr(KEY) == str(KEY) == "AuditKey(**********)"


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
    connect(path).close()
    path.chmod(0o644)
    connect(path).close()
    assert (path.stat().st_mode & 0o777) == 0o600


def test_migrations_are_idempotent(db_target):
    from storage.migrations import latest, migrate

    db = connect(db_target)
    assert migrate(db) == []
    assert db.execute("SELECT max(name) FROM migrations").fetchone()[0] == latest()


def test_a_database_a_newer_numbot_migrated_is_refused(db_target):
    """An older numbot must not run against a schema it does not know (issue 10)."""
    from storage.db import SchemaError

    db = connect(db_target)
    db.execute("INSERT INTO migrations (name, applied_at) VALUES ('999_from_the_future', 'x')")
    db.close()
    for migrate_schema in (True, False):
        with pytest.raises(SchemaError, match=r"999_from_the_future.*newer than this numbot"):
            connect(db_target, migrate_schema=migrate_schema)


def test_the_sha256_used_for_legacy_links_is_sha256():
    assert (
        legacy_hash(GENESIS, 1, "t", "a", "b", "c", "d", "e")
        == hashlib.sha256(
            (
                GENESIS + json.dumps([1, "t", "a", "b", "c", "d", "e"], separators=(",", ":"))
            ).encode()
        ).hexdigest()
    )


# -- the seal's format is fixed: a log written today must verify under the next version -------


def test_a_seal_is_hmac_sha256_over_the_documented_fields():
    """hash[n] = HMAC(key, "numbot-audit-v2" || hash[n-1] || canonical_json([seq, at, ...,
    state])): compact separators, UTF-8 text as itself (not \\u-escaped)."""
    secret = "known-answer-audit-key-0123456789abcdef"
    log = AuditLog(connect(":memory:"), AuditKey(secret))
    entry = log.append(
        actor="U1",
        action="request_purchase",
        subject="req_a",
        outcome="ok",
        detail='{"reason": "für den Empfang ☎"}',
        state="pending",
    )
    payload = json.dumps(
        [
            1,
            entry.at,
            "U1",
            "request_purchase",
            "req_a",
            "ok",
            '{"reason": "für den Empfang ☎"}',
            "pending",
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    expected = hmac.new(
        secret.encode(), b"numbot-audit-v2" + GENESIS.encode() + payload, hashlib.sha256
    )
    assert entry.hash == expected.hexdigest()


def test_legacy_links_are_the_sha256_chain_numbot_wrote_before_the_key():
    payload = json.dumps(
        [1, "t", "a", "b", "c", "d", "é ☎"], ensure_ascii=False, separators=(",", ":")
    )
    assert (
        legacy_hash(GENESIS, 1, "t", "a", "b", "c", "d", "é ☎")
        == hashlib.sha256((GENESIS + payload).encode("utf-8")).hexdigest()
    )


@pytest.mark.parametrize("secret", ["k" * 32, b"k" * 32, "k" * 64])
def test_a_key_of_32_characters_or_more_seals(secret):
    key = AuditKey(secret)
    log = AuditLog(connect(":memory:"), key)
    entry = log.append(actor="U1", action="search", subject="415", outcome="ok")
    assert key.authentic(entry) and log.verify().ok
    assert not AuditKey("k" * 33).authentic(entry)


def test_a_key_of_31_characters_is_refused():
    with pytest.raises(AuditKeyError, match="at least 32"):
        AuditKey("k" * 31)


def test_entries_are_stamped_in_utc_whatever_the_hosts_zone(monkeypatch, audit):
    import time
    from datetime import UTC, datetime, timedelta

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        entry = audit.append(actor="U1", action="search", subject="415", outcome="ok")
    finally:
        monkeypatch.undo()
        time.tzset()
    at = datetime.strptime(entry.at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - at) < timedelta(minutes=1)


def test_a_single_entry_legacy_log_is_resealed_too():
    audit = AuditLog(connect(":memory:"), KEY)
    head = legacy_log(audit.db, n=1)
    sealed = audit.reseal(head[:16])  # as numbot prints a head in short
    assert sealed is not None and json.loads(sealed.detail) == {
        "legacy_entries": 1,
        "legacy_head": head,
    }
    assert audit.verify().ok


def test_a_legacy_log_taken_over_without_reseal_is_named():
    """Entries from before the key must be bound by the reseal entry, which records that they
    were taken over; a keyed entry simply appended after them is not that."""
    audit = AuditLog(connect(":memory:"), KEY)
    legacy_log(audit.db)
    fill(audit, 1)
    result = audit.verify()
    assert not result.ok and result.bad_seq == 4 and "reseal entry" in result.problem


def test_a_legacy_entry_whose_stored_link_was_edited_is_not_resealed():
    audit = AuditLog(connect(":memory:"), KEY)
    head = legacy_log(audit.db)
    drop_triggers(audit)
    audit.db.execute("UPDATE audit SET prev_hash=? WHERE seq = 2", ["f" * 64])
    with pytest.raises(AuditKeyError, match="broken at entry 2"):
        audit.reseal(head)


@pytest.mark.parametrize(
    ("detail", "fields"),
    [("", {}), ("not json", {}), ("[1, 2]", {}), ('"x"', {}), ('{"a": 1}', {"a": 1})],
)
def test_a_detail_reads_as_fields_only_when_it_is_a_json_object(audit, detail, fields):
    entry = audit.append(actor="U1", action="x", subject="s", outcome="ok", detail=detail)
    assert entry.detail_fields() == fields


def test_a_lone_surrogate_is_kept_as_the_replacement_character(audit):
    entry = audit.append(actor="U\ud800", action="x", subject="s", outcome="ok", detail="a\udfffb")
    assert (entry.actor, entry.detail) == ("U\ufffd", "a\ufffdb")
    assert next(audit.entries()).detail == "a\ufffdb"


def test_expect_head_takes_the_head_as_numbot_prints_it_in_short(audit):
    fill(audit, 3)
    head = audit.head().hash
    assert audit.verify(expect_head=head[:16]).ok
    assert audit.verify(expect_head=head[:16].upper()).ok
    assert not audit.verify(expect_head=head[:15]).ok  # too short to name one entry
    assert not audit.verify(expect_head="f" * 16).ok

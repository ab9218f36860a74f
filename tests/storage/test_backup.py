"""`storage.backup`: a consistent copy of a live WAL database, where a plain copy misses data."""

import os
import shutil
import sqlite3
import stat
import threading

import pytest

from storage import backup as backup_mod
from storage.audit import AuditKey, AuditLog
from storage.backup import BackupError, backup, check_copy
from storage.db import connect
from storage.requests import AuditNote, RequestStore
from tests.storage.test_requests import make

KEY = AuditKey("backup-test-audit-key-0123456789abcdef0")


def live_store(path):
    """A numbot database as a running numbot holds it: WAL, and (as can happen between two
    checkpoints) its latest commits only in the -wal file."""
    db = connect(path)
    db.conn.execute("PRAGMA wal_autocheckpoint=0")
    store = RequestStore(db, AuditLog(db, KEY))
    for i in range(5):
        make(store, e164=f"+1415555010{i}", reservation_id=f"rsv_{i}")
    return store


def test_a_plain_copy_of_a_live_wal_database_misses_what_backup_keeps(tmp_path):
    """The reason for `numbot backup`: the commits are in numbot.db-wal, not numbot.db."""
    store = live_store(tmp_path / "numbot.db")
    shutil.copy(tmp_path / "numbot.db", tmp_path / "cp.db")
    with sqlite3.connect(tmp_path / "cp.db") as copied:
        tables = {r[0] for r in copied.execute("SELECT name FROM sqlite_master")}
    assert "requests" not in tables  # everything numbot committed is missing from the copy

    size = backup(tmp_path / "numbot.db", tmp_path / "backup.db")
    copy = check_copy(tmp_path / "backup.db", KEY)
    assert size == (tmp_path / "backup.db").stat().st_size
    assert copy.requests == 5
    assert copy.audit.ok and copy.audit.entries == store.audit.count()
    assert copy.audit.head == store.audit.head().hash


def test_the_copy_is_one_private_file_renamed_into_place(tmp_path):
    live_store(tmp_path / "numbot.db")
    os.umask(0o022)
    backup(tmp_path / "numbot.db", tmp_path / "backup.db")
    assert stat.S_IMODE((tmp_path / "backup.db").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("backup")) == [
        "backup.db"
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".numbot-backup-")]
    with open(tmp_path / "backup.db", "rb") as f:
        assert f.read(20)[18:20] == b"\x01\x01"  # a rollback journal: no -wal to carry along


def test_refuses_to_overwrite_unless_forced_and_never_the_database_itself(tmp_path):
    store = live_store(tmp_path / "numbot.db")
    (tmp_path / "backup.db").write_text("yesterday's backup")
    with pytest.raises(BackupError, match="exists; pass --force"):
        backup(tmp_path / "numbot.db", tmp_path / "backup.db")
    assert (tmp_path / "backup.db").read_text() == "yesterday's backup"
    backup(tmp_path / "numbot.db", tmp_path / "backup.db", force=True)
    assert check_copy(tmp_path / "backup.db", KEY).requests == 5
    with pytest.raises(BackupError, match="is the database itself"):
        backup(tmp_path / "numbot.db", tmp_path / "numbot.db", force=True)
    with pytest.raises(BackupError, match="is a directory"):
        backup(tmp_path / "numbot.db", tmp_path, force=True)
    with pytest.raises(BackupError, match="no numbot database"):
        backup(tmp_path / "nope.db", tmp_path / "other.db")
    assert store.audit.verify().ok  # the live database was never written to


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_never_onto_the_live_database_s_own_files(tmp_path, suffix):
    """`numbot backup --force numbot.db-wal` while numbot runs would leave a database that
    no connection can open ("file is not a database"): refused, existing or not, by any path."""
    store = live_store(tmp_path / "numbot.db")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "numbot.db", tmp_path / "sub" / "link.db")
    for dest in (tmp_path / f"numbot.db{suffix}", tmp_path / "sub" / ".." / f"numbot.db{suffix}"):
        with pytest.raises(BackupError, match="live database's own files"):
            backup(tmp_path / "numbot.db", dest, force=True)
        with pytest.raises(BackupError, match="live database's own files"):
            backup(tmp_path / "sub" / "link.db", dest, force=True)
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    reopened = connect(tmp_path / "numbot.db")
    assert AuditLog(reopened, KEY).verify().ok


def test_a_tampered_log_is_copied_faithfully_and_fails_verification(tmp_path):
    live_store(tmp_path / "numbot.db")
    with sqlite3.connect(tmp_path / "numbot.db") as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET outcome = 'refused' WHERE seq = 2")
    backup(tmp_path / "numbot.db", tmp_path / "backup.db")
    copy = check_copy(tmp_path / "backup.db", KEY)
    assert not copy.audit.ok and copy.audit.bad_seq == 2
    assert not check_copy(
        tmp_path / "backup.db", AuditKey("another-key-0123456789abcdef01234")
    ).audit.ok


def test_a_copy_finishes_while_another_connection_keeps_writing(tmp_path, monkeypatch):
    """Between steps the writer gets the database, and each of its commits starts the
    stepwise copy over; past MAX_RESTARTS the rest goes in one step (one WAL read snapshot,
    which does not block writers), so neither side starves the other."""
    monkeypatch.setattr(backup_mod, "MAX_RESTARTS", 0)
    restarts = []
    copy_pages = backup_mod._copy

    def spy(*args, **kwargs):
        restarts.append(copy_pages(*args, **kwargs))
        return restarts[-1]

    monkeypatch.setattr(backup_mod, "_copy", spy)
    live_store(tmp_path / "numbot.db")
    stop, writing = threading.Event(), threading.Event()

    def writer():
        db = connect(tmp_path / "numbot.db")
        store = RequestStore(db, AuditLog(db, KEY))
        while not stop.is_set():  # a commit every step or so, for as long as the copy runs
            store.create(
                AuditNote("U2", "request_purchase"),
                kind="purchase",
                status="pending",
                e164="+14155550199",
                requester="U2",
            )
            writing.set()
        db.conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert writing.wait(10)
    try:
        backup(tmp_path / "numbot.db", tmp_path / "backup.db", pages=1, sleep=0.02)
    finally:
        stop.set()
        thread.join()
    copy = check_copy(tmp_path / "backup.db", KEY)
    assert copy.audit.ok and copy.requests >= 5
    assert restarts == [1]  # the writer's commit restarted it, and the one step finished it


def test_a_file_that_appears_during_the_copy_is_not_replaced_unasked(tmp_path, monkeypatch):
    live_store(tmp_path / "numbot.db")
    copy_pages = backup_mod._copy

    def someone_writes_dest_meanwhile(*args, **kwargs):
        (tmp_path / "backup.db").write_text("written meanwhile")
        return copy_pages(*args, **kwargs)

    monkeypatch.setattr(backup_mod, "_copy", someone_writes_dest_meanwhile)
    with pytest.raises(BackupError, match="exists; pass --force"):
        backup(tmp_path / "numbot.db", tmp_path / "backup.db")
    assert (tmp_path / "backup.db").read_text() == "written meanwhile"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".numbot-backup-")]

"""`numbot backup`: a verified copy of the SQLite database, and pg_dump's advice on PostgreSQL."""

import sqlite3
import stat

from tests.test_cli import make_log, numbot


def test_backup_writes_a_private_copy_and_prints_what_it_verified(tmp_path):
    db = tmp_path / "numbot.db"
    make_log(db, 3)
    head = numbot("audit", "verify", "--db", str(db), cwd=tmp_path).stdout.split("head ")[1].strip()
    done = numbot("backup", "--db", str(db), str(tmp_path / "copy.db"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "requests: 0" in done.stdout
        and "3 entries" in done.stdout
        and f"head {head}" in done.stdout
    )
    assert stat.S_IMODE((tmp_path / "copy.db").stat().st_mode) == 0o600
    again = numbot(
        "audit", "verify", "--db", str(tmp_path / "copy.db"), "--expect-head", head, cwd=tmp_path
    )
    assert again.returncode == 0


def test_backup_refuses_an_existing_file_unless_forced(tmp_path):
    db = tmp_path / "numbot.db"
    make_log(db)
    (tmp_path / "copy.db").write_text("keep me")
    refused = numbot("backup", "--db", str(db), str(tmp_path / "copy.db"), cwd=tmp_path)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert (tmp_path / "copy.db").read_text() == "keep me"
    forced = numbot("backup", "--db", str(db), str(tmp_path / "copy.db"), "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "4 entries" in forced.stdout


def test_backup_of_a_tampered_log_says_so_and_fails(tmp_path):
    db = tmp_path / "numbot.db"
    make_log(db)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET actor = 'U9' WHERE seq = 3")
    done = numbot("backup", "--db", str(db), str(tmp_path / "copy.db"), cwd=tmp_path)
    assert done.returncode == 1 and "TAMPERED at entry 3" in done.stderr
    assert (tmp_path / "copy.db").exists()  # a faithful copy of what is there, as evidence


def test_backup_needs_the_audit_key_before_it_writes_anything(tmp_path):
    db = tmp_path / "numbot.db"
    make_log(db)
    done = numbot(
        "backup",
        "--db",
        str(db),
        str(tmp_path / "copy.db"),
        cwd=tmp_path,
        env={"NUMBOT_AUDIT_KEY": "", "FLOWYTE_API_KEY": "flowyte_sk_live_0000"},
    )
    assert done.returncode == 2 and "NUMBOT_AUDIT_KEY" in done.stderr
    assert not (tmp_path / "copy.db").exists()


def test_backup_on_postgresql_points_to_pg_dump_and_the_audit_key(tmp_path):
    url = "postgresql://numbot:hunter2-db-password@db:5432/numbot"
    done = numbot(
        "backup", str(tmp_path / "copy.db"), cwd=tmp_path, env={"NUMBOT_DATABASE_URL": url}
    )
    assert done.returncode == 2
    assert "pg_dump" in done.stderr and "NUMBOT_AUDIT_KEY" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert not (tmp_path / "copy.db").exists()


def test_backup_of_a_missing_database_is_a_clear_error(tmp_path):
    done = numbot(
        "backup", "--db", str(tmp_path / "nope.db"), str(tmp_path / "copy.db"), cwd=tmp_path
    )
    assert done.returncode == 2 and "no numbot database" in done.stderr
    assert not (tmp_path / "nope.db").exists()


def test_backup_of_a_postgresql_url_given_as_db_points_to_pg_dump_without_echoing_it(tmp_path):
    url = "postgresql://numbot:hunter2-db-password@db:5432/numbot"
    done = numbot("backup", "--db", url, str(tmp_path / "copy.db"), cwd=tmp_path)
    assert done.returncode == 2 and "pg_dump" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout

"""`numbot backup` against a real `numbot run` that keeps committing: each copy verifies and
holds every request committed before the backup began."""

import sqlite3
import subprocess
import sys
import threading

from storage.audit import AuditKey
from storage.backup import check_copy
from tests.e2e.harness import AUDIT_KEY, BotProcess
from tests.e2e.test_golden_path import hold_number


def committed_ids(path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM requests")}


def numbot_backup(bot: BotProcess, dest) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "backup", str(dest)],
        capture_output=True,
        text=True,
        cwd=bot.workdir,
        env=bot.env,
        timeout=60,
    )


def test_backups_taken_while_numbot_writes_verify_and_hold_every_committed_request(
    bot, slack, tmp_path
):
    held = [hold_number(bot, slack, area=area)[1] for area in ("415", "212", "303")]
    stop, problems = threading.Event(), []
    during: list[str] = []

    def keep_holding():
        """Alice keeps holding numbers (each hold: a request row and its sealed audit entry)."""
        try:
            for area in range(401, 499):
                if stop.is_set():
                    return
                during.append(hold_number(bot, slack, area=str(area))[1])
        except Exception as exc:  # the test fails on it below, with the bot's log
            problems.append(exc)

    writer = threading.Thread(target=keep_holding)
    writer.start()
    try:
        copies = []
        for n in range(3):
            before = set(held) | set(during)  # each of these was answered, so committed
            dest = tmp_path / f"backup-{n}.db"
            done = numbot_backup(bot, dest)
            assert done.returncode == 0, done.stdout + done.stderr + bot.output()
            assert "audit log intact" in done.stdout
            copies.append((dest, before))
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not problems, f"{problems!r}\n{bot.output()}"
    assert during, "numbot made no hold while the backups ran"

    for dest, before in copies:
        assert before <= committed_ids(dest)
        copy = check_copy(dest, AuditKey(AUDIT_KEY))
        assert copy.audit.ok, copy.audit.problem
        assert copy.requests == len(committed_ids(dest))
    assert committed_ids(copies[-1][0]) <= committed_ids(bot.db)  # nothing the bot never wrote
    # numbot went on serving throughout
    assert hold_number(bot, slack, area="512")[1] in committed_ids(bot.db)

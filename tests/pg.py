"""A throwaway PostgreSQL for the tests: one cluster per test session, one database per test.

With NUMBOT_TEST_DATABASE_URL set, its server is used instead (the role needs CREATEDB).
Otherwise the cluster is made with PostgreSQL's own tools (initdb into a temporary directory,
pg_ctl start on a free loopback port and a private unix socket), as the `postgres` user when
the tests run as root (initdb refuses root). When none can be started, the PostgreSQL half is
skipped with the reason, unless NUMBOT_REQUIRE_POSTGRES=1 (CI) turns that into a failure.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REQUIRE_ENV = "NUMBOT_REQUIRE_POSTGRES"
URL_ENV = "NUMBOT_TEST_DATABASE_URL"


class Unavailable(Exception):
    """No PostgreSQL could be started for the tests."""


def _bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not candidates:
        raise Unavailable(
            "no initdb on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class Cluster:
    """A PostgreSQL server the tests may create and drop databases on."""

    def __init__(
        self,
        admin_url: str,
        *,
        owned: Path | None = None,
        bin_dir: Path | None = None,
        as_user: list[str] | None = None,
    ):
        self.admin_url = admin_url  # connects to the maintenance database
        self._owned = owned  # the cluster's directory, when the tests started it
        self._bin = bin_dir
        self._as_user = as_user or []  # runuser -u postgres --, when run as root
        # DROP DATABASE waits for a checkpoint: done off the test's clock, one at a time
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drop")

    @classmethod
    def start(cls) -> Cluster:
        bin_dir = _bin_dir()
        root = Path(tempfile.mkdtemp(prefix="numbot-pg-"))
        as_user: list[str] = []
        # run from the cluster's own directory: pg_ctl fails where it cannot read its cwd
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no `postgres` user") from None
            os.chown(root, pw.pw_uid, pw.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        data, port = root / "data", _free_port()
        try:
            subprocess.run(
                [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "numbot",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                check=True, capture_output=True, timeout=120, cwd=root,
            )  # fmt: skip
            options = (
                f"-h 127.0.0.1 -p {port} -k {root} -F -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200"
            )
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                 "-l", str(root / "log"), "-w", "-t", "60", "start"],
                check=True, capture_output=True, timeout=90, cwd=root,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", b"") or b""
            shutil.rmtree(root, ignore_errors=True)
            raise Unavailable(
                f"could not start PostgreSQL from {bin_dir}: {error} {detail.decode(errors='replace')}"
            ) from None
        cluster = cls(
            f"postgresql://numbot@127.0.0.1:{port}/postgres",
            owned=root,
            bin_dir=bin_dir,
            as_user=as_user,
        )
        atexit.register(cluster.stop)  # also when the session ends without its teardown
        return cluster

    def create_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return with_database(self.admin_url, name)

    def drop_database(self, url: str) -> None:
        """Drop it in the background (the next test need not wait)."""
        self._dropper.submit(self._drop, urlsplit(url).path.lstrip("/"))

    def _drop(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self._dropper.shutdown(wait=True)
        if self._owned is None:
            return
        subprocess.run(
            [*self._as_user, str(self._bin / "pg_ctl"), "-D", str(self._owned / "data"),
             "-m", "immediate", "-w", "stop"],
            capture_output=True, timeout=60, check=False, cwd=self._owned,
        )  # fmt: skip
        shutil.rmtree(self._owned, ignore_errors=True)
        self._owned = None  # stopped once, whoever asks again


def cluster_for_session() -> Cluster:
    """The server the tests use: NUMBOT_TEST_DATABASE_URL's, or a throwaway cluster."""
    url = os.environ.get(URL_ENV)
    if url:
        return Cluster(url)
    return Cluster.start()


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")

"""Drive the fakes process (tests/bench/fakes.py) from the benchmark process.

`RemoteSlack` quacks enough like `FakeSlack` for `tests.e2e.harness.BotProcess` (api_url,
response_url, socket_connected) and reads what the fake Slack recorded over HTTP;
`RemoteFlowyte` does the same for the fake Flowyte's /_control/* endpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import httpx

from tests.e2e.harness import REPO


class FakesProcess:
    """`python -m tests.bench.fakes`: both fakes on one event loop, in their own process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.slack_url = ""
        self.flowyte_url = ""

    def start(self, timeout: float = 20.0) -> FakesProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.fakes"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip():
            self.stop()
            raise RuntimeError("the fakes process did not start")
        urls = json.loads(line[0])
        self.slack_url, self.flowyte_url = urls["slack"], urls["flowyte"]
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                stream.close()  # type: ignore[union-attr]


class RemoteSlack:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.socket_connected = threading.Event()  # never: the benchmark uses HTTP mode
        self.http = httpx.Client(timeout=60)

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def response_url(self, response_id: str) -> str:
        return f"{self.base_url}/response/{response_id}"

    def _params(
        self, method: str | None, prefix: str | None, full: bool, **more: Any
    ) -> dict[str, str]:
        params = {k: str(v) for k, v in more.items() if v is not None}
        if method:
            params["method"] = method
        if prefix:
            params["prefix"] = prefix
        if full:
            params["full"] = "1"
        return params

    def calls(
        self, method: str | None = None, *, prefix: str | None = None, full: bool = True
    ) -> list[dict[str, Any]]:
        r = self.http.get(
            self.base_url + "/_bench/calls", params=self._params(method, prefix, full)
        )
        r.raise_for_status()
        return list(r.json()["calls"])

    def wait(
        self,
        method: str | None = None,
        *,
        prefix: str | None = None,
        count: int = 1,
        timeout: float = 10.0,
        full: bool = True,
    ) -> tuple[bool, list[dict[str, Any]]]:
        """Long poll the fakes process; (all `count` arrived, the matching calls)."""
        params = self._params(method, prefix, full, count=count, timeout=timeout)
        r = self.http.get(self.base_url + "/_bench/wait", params=params, timeout=timeout + 30)
        r.raise_for_status()
        data = r.json()
        return bool(data["complete"]), list(data["calls"])

    async def async_wait(
        self,
        client: httpx.AsyncClient,
        method: str | None = None,
        *,
        prefix: str | None = None,
        count: int = 1,
        timeout: float = 10.0,
        full: bool = False,
    ) -> tuple[bool, list[dict[str, Any]]]:
        params = self._params(method, prefix, full, count=count, timeout=timeout)
        r = await client.get(self.base_url + "/_bench/wait", params=params, timeout=timeout + 30)
        r.raise_for_status()
        data = r.json()
        return bool(data["complete"]), list(data["calls"])

    def reply(self, response_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first message the bot sent to /response/<response_id>."""
        params = self._params("response_url", None, True, rid=response_id, timeout=timeout)
        r = self.http.get(self.base_url + "/_bench/wait", params=params, timeout=timeout + 30)
        r.raise_for_status()
        found = r.json()["calls"]
        if not found:
            raise AssertionError(f"no reply to {response_id} within {timeout}s")
        return dict(found[0]["body"])


class RemoteFlowyte:
    def __init__(self, base_url: str) -> None:
        self.url = base_url.rstrip("/")
        self.http = httpx.Client(timeout=30)

    def set_latency(self, seconds: float) -> None:
        self.http.post(self.url + "/_control/latency", json={"seconds": seconds}).raise_for_status()

    def calls(self, method: str | None = None, path_suffix: str | None = None) -> list[dict]:
        r = self.http.get(self.url + "/_control/calls")
        r.raise_for_status()
        found = r.json()["calls"]
        if method:
            found = [c for c in found if c["method"] == method]
        if path_suffix:
            found = [c for c in found if c["path"].endswith(path_suffix)]
        return list(found)

"""A headless numbot: NumbersService over the in-memory sandbox, SQLite and a recording notifier."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.flowyte.client import FlowyteClient
from bot.flowyte.retry import RetryPolicy
from bot.sandbox import SandboxFlowyte
from bot.workflow import NumbersService, Timing
from bot.workflow.storage_runner import Storage
from storage.audit import AuditEntry, AuditKey
from storage.db import connect
from storage.requests import Request

API_KEY = "flowyte_sk_test_WORKFLOWKEY"
REQUESTER = "UREQUESTER1"
STRANGER = "USTRANGER1"
APPROVERS = tuple(f"UAPPROVER{i:02d}" for i in range(1, 13))
APPROVER = APPROVERS[0]
CARD = ("C0APPROVALS", "1.0001")
AUDIT_KEY = AuditKey("unit-test-audit-key-0123456789abcdef")


class FakeClock:
    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start
        self._real_since: float | None = None

    def __call__(self) -> datetime:
        if self._real_since is None:
            return self.now
        return self.now + timedelta(seconds=time.monotonic() - self._real_since)

    def run_with_real_time(self) -> None:
        """From now on the clock also moves as real time passes (for races between tasks)."""
        self._real_since = time.monotonic()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class RecordingNotifier:
    def __init__(self) -> None:
        self.posted: list[tuple[Request, Decimal | None]] = []
        self.updated: list[Request] = []
        self.told: list[tuple[Request, str, list[Any] | None]] = []
        self.alerts: list[str] = []
        self.budgets: list[str | None] = []
        self.notified: list[Request] = []
        self.notified_balances: list[Decimal | None] = []
        self.reminded: list[Request] = []
        self.reminded_copies: list[list[Any]] = []
        self.copies_updated: list[tuple[Request, str, str]] = []
        self.narrated: list[Request] = []
        self.notices: list[str] = []
        self.bills: list[str | None] = []
        self.updated_lines: list[tuple[str | None, str | None]] = []  # (budget, bill) redrawn

    async def post_card(
        self,
        request: Request,
        *,
        balance: Decimal | None,
        budget: str | None = None,
        bill: str | None = None,
    ) -> tuple[str, str]:
        self.posted.append((request, balance))
        self.budgets.append(budget)
        self.bills.append(bill)
        return CARD

    async def update_card(
        self, request: Request, *, budget: str | None = None, bill: str | None = None
    ) -> None:
        self.updated.append(request)
        self.updated_lines.append((budget, bill))

    async def notify_approvers(self, request: Request, *, balance: Decimal | None) -> list[Any]:
        self.notified.append(request)
        self.notified_balances.append(balance)
        return [(user, f"D{user}", f"2.{len(self.notified):04d}") for user in APPROVERS[:2]]

    async def remind(self, request: Request, copies: list[Any]) -> None:
        self.reminded.append(request)
        self.reminded_copies.append(copies)

    async def update_copy(self, request: Request, recipient: str, channel: str, ts: str) -> None:
        self.copies_updated.append((request, channel, ts))

    async def narrate(self, request: Request) -> None:
        self.narrated.append(request)

    async def tell_requester(
        self, request: Request, text: str, *, agents: list[Any] | None = None
    ) -> None:
        self.told.append((request, text, agents))

    async def alert(self, text: str) -> None:
        self.alerts.append(text)

    async def post_notice(self, text: str) -> None:
        self.notices.append(text)

    @property
    def texts(self) -> list[str]:
        return [text for _, text, _ in self.told]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class CountingApp:
    """ASGI middleware: records every request that reaches the sandbox."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[Seen] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.seen.append(Seen(scope["method"], scope["path"], headers))
        await self.app(scope, receive, send)

    def calls(self, method: str, path_suffix: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.endswith(path_suffix)]


@dataclass
class Fault:
    method: str
    path_suffix: str
    mode: str | int  # "lost", "garbled", "timeout", "reset", "connect", or an HTTP status
    times: int = 1
    body: Any = None  # with a status: a dict is sent as JSON, a str as an HTML page


class FaultyTransport(httpx.AsyncBaseTransport):
    """The sandbox over ASGI, with one-shot faults.

    "lost": the sandbox handles the call (money moves), then the answer times out;
    "garbled": the sandbox handles the call, the answer is a 2xx numbot cannot parse;
    "timeout"/"reset": the call fails before reaching the sandbox, after being sent;
    "connect": the connection is refused; an int: that status, the sandbox never sees it.
    """

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.faults: list[Fault] = []

    def fail(
        self, method: str, path_suffix: str, mode: str | int, times: int = 1, body: Any = None
    ) -> None:
        self.faults.append(Fault(method, path_suffix, mode, times, body))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == request.method
                and request.url.path.endswith(fault.path_suffix)
            ):
                fault.times -= 1
                return await self._inject(fault.mode, request, fault.body)
        return await self.inner.handle_async_request(request)

    async def _inject(
        self, mode: str | int, request: httpx.Request, body: Any = None
    ) -> httpx.Response:
        if mode == "lost":
            response = await self.inner.handle_async_request(request)
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("timed out after the sandbox answered", request=request)
        if mode == "garbled":  # handled by the sandbox, answered with an unexpected shape
            response = await self.inner.handle_async_request(request)
            await response.aread()
            await response.aclose()
            body = {"success": True, "data": {"unexpected": "shape"}}
            return httpx.Response(response.status_code, json=body, request=request)
        if mode == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if mode == "reset":
            raise httpx.ReadError("Connection reset by peer", request=request)
        if mode == "connect":
            raise httpx.ConnectError("Connection refused", request=request)
        assert isinstance(mode, int)
        if isinstance(body, str):
            return httpx.Response(
                mode, text=body, headers={"Content-Type": "text/html"}, request=request
            )
        body = body or {"status": mode, "code": "injected", "title": "injected"}
        return httpx.Response(mode, json=body, request=request)


async def _no_sleep(_seconds: float) -> None:
    return None


@dataclass
class Env:
    db_path: Path
    clock: FakeClock
    sandbox: SandboxFlowyte
    app: CountingApp
    transport: FaultyTransport
    client: FlowyteClient
    notifier: RecordingNotifier
    storage: Storage
    service: NumbersService
    _storages: list[Storage] = field(default_factory=list)

    def new_service(
        self, *, notifier: RecordingNotifier | None = None, fresh_db: bool = False, **kw: Any
    ) -> NumbersService:
        """Another service over the same sandbox; `fresh_db` opens the DB file again (a restart)."""
        storage = self.storage
        if fresh_db:
            storage = Storage(connect(self.db_path), AUDIT_KEY, clock=self.clock)
            self._storages.append(storage)
        options: dict[str, Any] = {
            "flowyte": self.client,
            "storage": storage,
            "approvers": (REQUESTER, *APPROVERS),
            "notifier": notifier if notifier is not None else self.notifier,
            "sandbox": True,
            "clock": self.clock,
            "timing": Timing(quiet=0.0, grace=0.0),
        }
        options.update(kw)
        return NumbersService(**options)

    def e164(self, index: int = 0, area_code: str = "415") -> str:
        return self.sandbox.inventory_for(area_code)[index].e164

    def purchases(self) -> list[Seen]:
        return self.app.calls("POST", "/numbers/purchase")

    def audit(self, storage: Storage | None = None) -> list[AuditEntry]:
        return list((storage or self.storage).audit.entries())

    def refused(self, actor: str, action: str) -> list[dict[str, Any]]:
        """The detail of every `refused` audit row by `actor` for `action`."""
        return [
            json.loads(e.detail)
            for e in self.audit()
            if e.outcome == "refused" and e.actor == actor and e.action == action
        ]

    async def get(self, request_id: str) -> Request:
        request = await self.service.request(request_id)
        assert request is not None
        return request

    def verify(self) -> None:
        for storage in (self.storage, *self._storages):
            result = storage.audit.verify()
            assert result.ok, result.problem


@pytest.fixture
async def env(tmp_path):
    clock = FakeClock()
    sandbox = SandboxFlowyte(clock=clock, balance=Decimal("25.00"), seed=7)
    app = CountingApp(sandbox.asgi())
    transport = FaultyTransport(app)
    http = httpx.AsyncClient(
        base_url="http://sandbox/api/v1/",
        headers={"Authorization": f"Bearer {API_KEY}"},
        transport=transport,
    )
    client = FlowyteClient(http, retry=RetryPolicy(attempts=2), sleep=_no_sleep)
    db_path = tmp_path / "numbot.db"
    storage = Storage(connect(db_path), AUDIT_KEY, clock=clock)
    notifier = RecordingNotifier()
    environment = Env(
        db_path=db_path,
        clock=clock,
        sandbox=sandbox,
        app=app,
        transport=transport,
        client=client,
        notifier=notifier,
        storage=storage,
        service=None,  # type: ignore[arg-type]
    )
    environment.service = environment.new_service()
    yield environment
    try:
        environment.verify()  # every test ends with an intact audit chain
    finally:
        await client.aclose()
        for s in (storage, *environment._storages):
            s.close()


def binds(request) -> dict[str, str]:
    """What numbot's approval of `request` commits to, as sealed (bot/workflow/authority.py)."""

    def text(value) -> str:
        return "" if value is None else str(value)

    return {
        "kind": request.kind,
        "e164": request.e164,
        "requester": request.requester,
        "reservation": text(request.reservation_id),
        "number": text(request.number_id),
        "setup": text(request.setup_cost),
        "monthly": text(request.monthly_cost),
    }


def sealed_approval(request, *, needed: int = 1) -> str:
    """The detail of numbot's final approval of `request`, as it seals it."""
    return json.dumps({"binds": binds(request), "count": needed, "needed": needed})

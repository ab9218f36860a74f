"""The fake Flowyte over real HTTP: recording, faults, latency and the control endpoints."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.sandbox import loads_json
from tests.fakes.flowyte_server import FakeFlowyte

KEY = {"Authorization": "Bearer flowyte_sk_test_123"}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeFlowyte, str]]:
    fake = FakeFlowyte()
    with fake.serve() as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeFlowyte, str]) -> FakeFlowyte:
    served[0].reset()
    return served[0]


@pytest.fixture
def root(served: tuple[FakeFlowyte, str]) -> str:
    return served[1]


@pytest.fixture
def api(fake: FakeFlowyte, root: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{root}/api/v1", headers=KEY, timeout=5) as client:
        yield client


def data(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return loads_json(response.content)["data"]


def a_number(api: httpx.Client, area_code: str) -> str:
    e164: str = data(api.get("/numbers/search", params={"areaCode": area_code, "limit": 1}))[0][
        "e164"
    ]
    return e164


def test_every_api_call_is_recorded(fake: FakeFlowyte, api: httpx.Client, root: str) -> None:
    e164 = a_number(api, "617")
    bought = api.post("/numbers/purchase", json={"e164": e164}, headers={"Idempotency-Key": "k1"})
    assert bought.status_code == 201
    assert api.get("/billing/wallet", headers={"Authorization": ""}).status_code == 401

    search, purchase, wallet = fake.calls()
    assert (search.method, search.path, search.query) == (
        "GET",
        "/api/v1/numbers/search",
        {"areaCode": "617", "limit": "1"},
    )
    assert search.status == 200 and search.authorization and search.json is None
    assert purchase.json == {"e164": e164} and purchase.idempotency_key == "k1"
    assert purchase.status == purchase.handled_status == 201
    assert wallet.status == 401 and not wallet.authorization
    assert fake.calls("POST", "/numbers/purchase") == [purchase]
    assert fake.calls(path="/api/v1/numbers/search") == [search]
    assert fake.calls(path_regex="wallet$") == [wallet]

    listed = httpx.get(f"{root}/_control/calls").json()["calls"]
    assert [(c["method"], c["status"]) for c in listed] == [
        ("GET", 200),
        ("POST", 201),
        ("GET", 401),
    ]
    assert listed[1]["idempotencyKey"] == "k1" and listed[1]["json"] == {"e164": e164}
    assert "authorization" not in listed[1]["headers"]  # presence only, never the key

    assert httpx.post(f"{root}/_control/reset").status_code == 200
    assert fake.calls() == []


def test_delay_fault_slows_matching_calls_only(fake: FakeFlowyte, api: httpx.Client) -> None:
    fake.add_fault("GET", r"/billing/wallet$", times=1, delay_s=0.3)
    started = time.monotonic()
    assert api.get("/billing/wallet").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert api.get("/billing/wallet").status_code == 200
    assert time.monotonic() - started < 0.25
    fake.add_fault("GET", r"/agents$", times=1, delay_s=0.5)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/agents", timeout=0.1)
    assert [c.fault for c in fake.calls()] == [0, None, 1]


def test_status_fault_answers_instead_of_the_sandbox(fake: FakeFlowyte, api: httpx.Client) -> None:
    balance = fake.sandbox.balance
    fake.add_fault("POST", r"/numbers/purchase$", times=1, status=429, headers={"Retry-After": "2"})
    e164 = a_number(api, "305")
    limited = api.post("/numbers/purchase", json={"e164": e164})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["code"] == "rate_limited"
    assert fake.sandbox.balance == balance  # the sandbox never saw it
    assert fake.calls("POST")[0].handled_status is None

    fake.add_fault(path_regex=r"/billing/", times=1, status=502, body="<html>Bad gateway</html>")
    gateway = api.get("/billing/wallet")
    assert gateway.status_code == 502 and gateway.text == "<html>Bad gateway</html>"
    assert api.post("/numbers/purchase", json={"e164": e164}).status_code == 201


def test_drop_closes_the_connection_without_a_response(
    fake: FakeFlowyte, api: httpx.Client
) -> None:
    balance = fake.sandbox.balance
    e164 = a_number(api, "702")
    fake.add_fault("POST", r"/numbers/purchase$", times=1, drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/numbers/purchase", json={"e164": e164}, headers={"Idempotency-Key": "d"})
    assert fake.sandbox.balance == balance and fake.calls("POST")[0].dropped
    assert api.post("/numbers/purchase", json={"e164": e164}).status_code == 201


def test_after_delay_apply_drop_runs_the_purchase_then_loses_the_answer(
    fake: FakeFlowyte, api: httpx.Client
) -> None:
    balance = fake.sandbox.balance
    e164 = a_number(api, "202")
    fake.add_fault(
        "POST", r"/numbers/purchase$", times=1, delay_s=0.1, drop=True, after_delay_apply=True
    )
    key = {"Idempotency-Key": "late-1"}
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/numbers/purchase", json={"e164": e164}, headers=key)
    lost = fake.calls("POST")[0]
    assert lost.handled_status == 201 and lost.status is None and lost.dropped
    assert fake.sandbox.balance == balance - Decimal("2.15")
    replay = api.post("/numbers/purchase", json={"e164": e164}, headers=key)  # same key: replay
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert fake.sandbox.balance == balance - Decimal("2.15")


def test_late_answer_arrives_after_a_client_timeout(fake: FakeFlowyte, api: httpx.Client) -> None:
    fake.add_fault("POST", r"/publish$", times=1, delay_s=0.4, after_delay_apply=True)
    with pytest.raises(httpx.ReadTimeout):
        api.post("/agents/agt_sales/publish", timeout=0.1)
    assert fake.sandbox.agents["agt_sales"].version == 2  # it happened all the same


def test_control_endpoints(fake: FakeFlowyte, api: httpx.Client, root: str) -> None:
    rules = [{"method": "GET", "path_regex": "/agents$", "times": 1, "status": 503}]
    listed = httpx.post(f"{root}/_control/faults", json=rules).json()["faults"]
    assert listed[0]["status"] == 503 and listed[0]["hits"] == 0
    assert api.get("/agents").status_code == 503
    assert api.get("/agents").status_code == 200
    bad = httpx.post(f"{root}/_control/faults", json={"path_regex": "(", "status": 500})
    assert bad.status_code == 400

    assert httpx.post(f"{root}/_control/wallet", json={"balanceUsd": "3.00"}).status_code == 200
    assert fake.sandbox.balance == Decimal("3.00")
    assert data(api.get("/billing/wallet"))["balanceUsd"] == Decimal("3.00")

    e164 = a_number(api, "404")
    hold = data(api.post("/numbers/reserve", json={"e164": e164}))
    httpx.post(f"{root}/_control/clock", json={"advance_seconds": 1900})
    expired = api.post("/numbers/purchase", json={"e164": e164, "reservationId": hold["id"]})
    assert expired.status_code == 409 and expired.json()["code"] == "reservation_expired"
    state = httpx.get(f"{root}/_control/state").json()
    assert state["reservations"][-1]["status"] == "expired"

    httpx.post(f"{root}/_control/latency", json={"seconds": 0.2})
    started = time.monotonic()
    api.get("/billing/wallet")
    assert time.monotonic() - started >= 0.2
    httpx.post(f"{root}/_control/reset")
    assert fake.latency == 0 and fake.faults() == [] and fake.calls() == []


async def test_drop_in_process_raises_what_httpx_would() -> None:
    fake = FakeFlowyte()
    fake.add_fault(drop=True)
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://f/api/v1") as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/billing/wallet", headers=KEY)

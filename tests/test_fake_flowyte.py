"""The fake Flowyte over real HTTP: recording, faults, latency and the control endpoints."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.flowyte import errors as fe
from bot.flowyte.client import FlowyteClient
from bot.flowyte.retry import RetryPolicy
from bot.sandbox import Variants, loads_json
from tests.fakes.flowyte_server import MAINTENANCE_PAGE, FakeFlowyte

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
    assert limited.json()["type"] == "https://docs.flowyte.com/errors/rate_limited"
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
    assert expired.status_code == 409
    assert expired.json()["type"] == "https://docs.flowyte.com/errors/reservation_expired"
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


# --- documented variants in a running fake --------------------------------------------------------


def switch(root: str, **variants: Any) -> dict[str, Any]:
    response = httpx.post(f"{root}/_control/variants", json=variants)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = loads_json(response.content)
    return result


def test_control_variants_switch_a_running_fake(fake: FakeFlowyte, api: httpx.Client, root: str):
    defaults = httpx.get(f"{root}/_control/variants").json()
    assert (defaults["problems"], defaults["replays"], defaults["envelope"]) == (
        "type_only",
        "wait",
        "documented",
    )
    assert defaults["best_effort_flag"] is False
    shown = switch(root, problems="code", reservations="id_only", page_size=1)
    assert (shown["problems"], shown["reservations"], shown["page_size"]) == ("code", "id_only", 1)
    e164 = a_number(api, "303")
    hold = api.post("/numbers/reserve", json={"e164": e164})
    assert hold.status_code == 201 and data(hold).keys() == {"id"}
    again = api.post("/numbers/reserve", json={"e164": e164})
    assert again.status_code == 409 and again.json()["code"] == "number_unavailable"
    assert again.json()["type"] == "https://docs.flowyte.com/errors/number_unavailable"
    assert len(data(api.get("/agents"))) == 1

    bad = httpx.post(f"{root}/_control/variants", json={"page_size": 0})
    assert bad.status_code == 400 and "page_size" in bad.json()["error"]
    assert httpx.post(f"{root}/_control/variants", json={"nope": 1}).status_code == 400
    assert httpx.post(f"{root}/_control/variants", json=[1]).status_code == 400

    httpx.post(f"{root}/_control/reset")  # back to the constructor's variants
    assert fake.sandbox.variants == Variants()


def test_control_rate_limit_and_402_without_amounts(
    fake: FakeFlowyte, api: httpx.Client, root: str
):
    switch(root, rate_limit=1, rate_window=30, amounts_on_402=False)
    first = api.get("/billing/wallet")
    assert first.headers["ratelimit-limit"] == "1" and first.headers["ratelimit-remaining"] == "0"
    limited = api.get("/billing/wallet")
    assert limited.status_code == 429 and limited.headers["retry-after"]
    assert limited.headers["ratelimit-reset"] == limited.headers["retry-after"]
    switch(root, rate_limit=None)
    fake.set_balance("0.50")
    poor = api.post("/numbers/purchase", json={"e164": a_number(api, "312")})
    assert poor.status_code == 402 and "balanceUsd" not in poor.json()


def test_control_scopes_take_a_scope_from_one_key(fake: FakeFlowyte, root: str):
    key = "flowyte_sk_test_no_agents_read"
    granted = ["numbers:read", "numbers:write", "billing:read", "agents:write"]
    shown = httpx.post(f"{root}/_control/scopes", json={"key": key, "scopes": granted})
    assert shown.json()["scopes"] == sorted(granted)
    auth = {"Authorization": f"Bearer {key}"}
    refused = httpx.get(f"{root}/api/v1/agents", headers=auth)
    assert refused.status_code == 403 and refused.json()["requiredScope"] == "agents:read"
    assert httpx.get(f"{root}/api/v1/numbers", headers=auth).status_code == 200
    httpx.post(f"{root}/_control/scopes", json={"key": key, "scopes": None})
    assert httpx.get(f"{root}/api/v1/agents", headers=auth).status_code == 200
    bad = httpx.post(f"{root}/_control/scopes", json={"key": key, "scopes": ["root:all"]})
    assert bad.status_code == 400
    assert httpx.post(f"{root}/_control/scopes", json={"scopes": []}).status_code == 400


def test_an_injected_problem_follows_the_problem_style(fake: FakeFlowyte, api: httpx.Client):
    fake.configure(problems="type_only")
    fake.add_fault("GET", r"/billing/wallet$", times=1, status=503)
    unavailable = api.get("/billing/wallet")
    assert unavailable.status_code == 503 and "code" not in unavailable.json()
    assert unavailable.json()["type"].endswith("/service_unavailable")


@pytest.fixture
async def client(root: str) -> AsyncIterator[FlowyteClient]:
    """numbot's own client over real HTTP (aiohttp) to the running fake."""
    flowyte = FlowyteClient.connect(
        f"{root}/api/v1", "flowyte_sk_test_123", timeout=5, retry=RetryPolicy(attempts=1)
    )
    yield flowyte
    await flowyte.aclose()


async def test_a_200_maintenance_page_is_an_unexpected_answer_not_no_numbers(
    fake: FakeFlowyte, client: FlowyteClient
):
    fake.add_fault(
        "GET",
        r"/numbers$",
        times=1,
        status=200,
        body=MAINTENANCE_PAGE,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    with pytest.raises(fe.UnexpectedAnswer):
        await client.list_numbers()
    assert fake.calls("GET", "/numbers")[0].status == 200
    fake.add_fault("GET", r"/numbers$", times=1, status=200, body={"success": True})
    with pytest.raises(fe.UnexpectedAnswer):
        await client.list_numbers()
    owned = await client.list_numbers()  # the real answer, read in full
    assert {n.id for n in owned} == set(fake.sandbox.numbers)


async def test_a_200_html_answer_to_a_purchase_is_outcome_unknown(
    fake: FakeFlowyte, api: httpx.Client, client: FlowyteClient
):
    e164 = a_number(api, "206")
    fake.set_balance("25.00")
    fake.add_fault(
        "POST",
        r"/numbers/purchase$",
        times=1,
        status=200,
        body=MAINTENANCE_PAGE,
        headers={"Content-Type": "text/html"},
        after_delay_apply=True,  # it went through; the answer is a proxy's page
    )
    with pytest.raises(fe.OutcomeUnknown):
        await client.purchase(e164, None, idempotency_key="html-1")
    # the documented way to learn the outcome: the same body and key replay the result
    owned = await client.purchase(e164, None, idempotency_key="html-1")
    assert owned.e164 == e164
    assert fake.calls("POST", "/numbers/purchase")[1].status == 201


@pytest.mark.parametrize("style", ["next_cursor", "items", "pagination", "meta"])
async def test_the_client_reads_every_readable_pagination_of_the_fake(
    fake: FakeFlowyte, client: FlowyteClient, style: str
):
    fake.configure(page_size=1, pagination=style)
    agents = await client.list_agents()
    assert [a.id for a in agents] == ["agt_support", "agt_sales", "agt_draft"]
    assert len(fake.calls("GET", "/agents")) == 3


@pytest.mark.parametrize("style", ["has_more", "links", "repeat"])
async def test_the_client_refuses_every_unreadable_pagination_of_the_fake(
    fake: FakeFlowyte, client: FlowyteClient, style: str
):
    fake.configure(page_size=1, pagination=style)
    with pytest.raises(fe.UnexpectedAnswer):
        await client.list_agents()


async def test_a_short_page_without_any_cursor_is_the_end_of_the_fake_s_list(
    fake: FakeFlowyte, client: FlowyteClient
):
    """`no_cursor`: three agents on one page of the 100 numbot asks for, no cursor: the end.
    (A full page without a cursor is unreadable: test_flowyte_client.py has that one.)"""
    fake.configure(pagination="no_cursor")
    agents = await client.list_agents()
    assert [a.id for a in agents] == ["agt_support", "agt_sales", "agt_draft"]
    assert len(fake.calls("GET", "/agents")) == 1


async def test_a_flowyte_that_pages_below_the_limit_without_a_cursor_is_read_short(
    fake: FakeFlowyte, client: FlowyteClient
):
    """The short-page rule's one blind spot, pinned so it stays a known one: a Flowyte that
    serves fewer items than the limit asked while more remain (`page_size` 1 against
    numbot's 100) and gives no cursor looks exactly like a short last page. The rule trusts
    Flowyte to fill a page whenever it does not give a cursor (bot/flowyte/envelope.py)."""
    fake.configure(page_size=1, pagination="no_cursor")
    agents = await client.list_agents()
    assert [a.id for a in agents] == ["agt_support"]  # agt_sales and agt_draft unseen


async def test_a_list_that_decides_about_money_needs_a_stated_end(
    fake: FakeFlowyte, client: FlowyteClient
):
    """The blind spot above never decides money: the reconcile's list (`proof=True`) ends only
    on a page that says it is the last, so a short page without a cursor is unreadable."""
    await client.import_number("+14155550100")
    fake.configure(page_size=1, pagination="no_cursor")
    assert len(await client.list_numbers()) == 1  # read short, for a person's list
    with pytest.raises(fe.UnexpectedAnswer):
        await client.list_numbers(proof=True)
    fake.configure(page_size=1, pagination="next_cursor")
    await client.import_number("+14155550101")
    full = await client.list_numbers(proof=True)  # a stated end: every page read
    assert {"+14155550100", "+14155550101"} <= {n.e164 for n in full}  # a page each


def test_many_owned_numbers_are_seeded_at_once_and_listed_in_pages():
    fake = FakeFlowyte()
    with fake.serve() as url:
        made = httpx.post(f"{url}/_control/owned", json={"count": 250}).json()
        assert made == {"count": 250, "first": "+16460000000", "last": "+16460000249"}
        assert httpx.post(f"{url}/_control/owned", json={"count": 0}).status_code == 400
        headers = {"Authorization": "Bearer flowyte_sk_test_x"}
        seen, cursor = [], None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = httpx.get(f"{url}/api/v1/numbers", params=params, headers=headers).json()
            seen += [n["e164"] for n in page["data"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert len(seen) == 250 and seen[-1] == "+16460000249"
        fake.sandbox.release_elsewhere("+16460000007")
        assert "+16460000007" not in {n.e164 for n in fake.sandbox.numbers.values()}

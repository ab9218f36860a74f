"""The built-in sandbox Flowyte, driven in-process through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sandbox import HOLD_DURATION, SandboxFlowyte, dumps_json, loads_json
from tests.fakes.flowyte_server import ManualClock

KEY = {"Authorization": "Bearer flowyte_sk_test_123"}
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sb(clock: ManualClock) -> SandboxFlowyte:
    return SandboxFlowyte(clock=clock)


@pytest.fixture
async def api(sb: SandboxFlowyte) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sb.asgi())
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox/api/v1", headers=KEY
    ) as client:
        yield client


def body(response: httpx.Response) -> Any:
    return loads_json(response.content)


def data(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    payload = body(response)
    assert payload["success"] is True
    return payload["data"]


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    payload: dict[str, Any] = body(response)
    assert payload["status"] == status and payload["code"] == code
    assert {"type", "title", "detail", "instance"} <= set(payload)
    return payload


async def search(api: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = data(await api.get("/numbers/search", params=params))
    return result


async def first_number(api: httpx.AsyncClient, area_code: str = "415") -> dict[str, Any]:
    return (await search(api, areaCode=area_code, limit="1"))[0]


async def reserve(api: httpx.AsyncClient, e164: str) -> dict[str, Any]:
    response = await api.post("/numbers/reserve", json={"e164": e164})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = data(response)
    return result


# --- search ---


async def test_search_by_area_code_returns_priced_local_numbers(api: httpx.AsyncClient) -> None:
    response = await api.get("/numbers/search", params={"areaCode": "415"})
    numbers = data(response)
    assert len(numbers) == 20  # the default limit
    assert b'"monthlyCost":1.15' in response.content and b'"setupCost":1.00' in response.content
    for n in numbers:
        assert n["e164"].startswith("+1415555") and len(n["e164"]) == 12
        assert n["formatted"] == f"+1 415-555-{n['e164'][-4:]}"
        assert n["region"] == "CA" and n["locality"] in ("San Francisco", "San Rafael")
        assert n["setupCost"] == Decimal("1.00") and n["monthlyCost"] == Decimal("1.15")
        assert n["currency"] == "USD" and n["reservable"] is True and n["bestEffort"] is False
        assert "voice" in n["features"]


async def test_search_is_deterministic_per_seed(api: httpx.AsyncClient) -> None:
    other = SandboxFlowyte(clock=lambda: START)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other.asgi()), base_url="http://x/api/v1", headers=KEY
    ) as twin:
        assert await search(api, areaCode="512") == await search(twin, areaCode="512")
    assert len(SandboxFlowyte(seed=8).inventory_for("512")) == 30
    assert SandboxFlowyte(seed=8).inventory_for("512") != other.inventory_for("512")


async def test_search_filters(api: httpx.AsyncClient) -> None:
    fax = await search(api, areaCode="415", features="fax,voice", bestEffort="false")
    assert fax and all({"fax", "voice"} <= set(n["features"]) for n in fax)
    suburb = await search(api, areaCode="415", locality="san rafael", limit="50")
    assert suburb and all(n["locality"] == "San Rafael" for n in suburb)
    texas = await search(api, administrativeArea="TX", limit="50")
    assert texas and all(n["region"] == "TX" for n in texas)
    assert len(await search(api, areaCode="206", limit="5")) == 5
    tail = (await first_number(api, "206"))["e164"][-4:]
    exact = await search(api, areaCode="206", endsWith=tail, bestEffort="false")
    assert [n["e164"][-4:] for n in exact] == [tail]
    assert all("5550" in n["e164"] for n in await search(api, areaCode="206", contains="5550"))
    starts = await search(api, startsWith="1512", limit="50")
    assert starts and all(n["e164"].startswith("+1512") for n in starts)


async def test_toll_free_and_vanity_letters(api: httpx.AsyncClient) -> None:
    toll_free = await search(api, numberType="toll_free", limit="50")
    assert toll_free and all(n["locality"] is None for n in toll_free)
    assert {n["setupCost"] for n in toll_free} == {Decimal("2.00")}
    assert {n["monthlyCost"] for n in toll_free} == {Decimal("2.15")}
    call = await search(api, numberType="toll_free", endsWith="CALL", bestEffort="false")
    assert call and all(n["e164"].endswith("2255") for n in call)
    assert all(n["vanityFormat"].endswith("-555-CALL") for n in call)
    assert await search(api, areaCode="415", numberType="mobile") == []


async def test_best_effort_widens_only_when_nothing_matches(api: httpx.AsyncClient) -> None:
    assert await search(api, areaCode="415", endsWith="98765", bestEffort="false") == []
    wide = await search(api, areaCode="415", endsWith="98765")  # bestEffort defaults to true
    assert wide and all(n["bestEffort"] is True and n["e164"].startswith("+1415") for n in wide)
    nowhere = await search(api, areaCode="212", locality="Nowhere")
    assert nowhere and all(n["bestEffort"] is True for n in nowhere)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"areaCode": "123"}, "areaCode"),
        ({"areaCode": "41a"}, "areaCode"),
        ({"numberType": "landline"}, "numberType"),
        ({"features": "voice,telepathy"}, "features"),
        ({"limit": "0"}, "limit"),
        ({"limit": "51"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"bestEffort": "maybe"}, "bestEffort"),
        ({"endsWith": "12-34"}, "endsWith"),
        ({"administrativeArea": "California"}, "administrativeArea"),
    ],
)
async def test_search_rejects_bad_filters(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    payload = problem(await api.get("/numbers/search", params=params), 400, "validation_error")
    assert [e["field"] for e in payload["errors"]] == [field]


async def test_auth_and_scopes(api: httpx.AsyncClient) -> None:
    problem(await api.get("/billing/wallet", headers={"Authorization": ""}), 401, "unauthorized")
    bad = {"Authorization": "Bearer sk_live_nope"}
    problem(await api.get("/billing/wallet", headers=bad), 401, "unauthorized")
    readonly = {"Authorization": "Bearer flowyte_sk_readonly_1"}
    assert data(await api.get("/billing/wallet", headers=readonly))["balanceUsd"] == Decimal("25")
    e164 = (await first_number(api))["e164"]
    response = await api.post("/numbers/reserve", json={"e164": e164}, headers=readonly)
    problem(response, 403, "insufficient_scope")
    problem(await api.get("/no/such/route"), 404, "not_found")


# --- reserve and purchase ---


async def test_reserve_then_purchase_debits_setup_plus_monthly(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    e164 = (await first_number(api))["e164"]
    hold = await reserve(api, e164)
    assert hold["id"].startswith("rsv_") and hold["status"] == "active"
    assert hold["createdAt"] == "2025-03-01T12:00:00.000Z"
    assert hold["expiresAt"] == "2025-03-01T12:30:00.000Z"
    assert sb.balance == Decimal("25.00")  # a hold costs nothing
    assert e164 not in [n["e164"] for n in await search(api, areaCode="415", limit="50")]

    response = await api.post(
        "/numbers/purchase",
        json={"e164": e164, "reservationId": hold["id"]},
        headers={"Idempotency-Key": "buy-1"},
    )
    assert response.status_code == 201
    owned = data(response)
    assert owned["id"].startswith("num_") and owned["e164"] == e164
    assert owned["defaultAgentId"] is None and owned["status"] == "available"
    assert owned["organizationId"] and owned["provider"]
    assert sb.balance == Decimal("22.85")
    assert isinstance(sb.balance, Decimal)
    assert data(await api.get("/billing/wallet"))["balanceUsd"] == Decimal("22.85")
    assert sb.reservations[hold["id"]].state == "consumed"
    assert data(await api.get(f"/numbers/{owned['id']}")) == owned
    problem(await api.get(f"/numbers/available/{e164}"), 404, "not_found")


async def test_idempotent_purchase_replays_without_a_second_debit(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    e164 = (await first_number(api))["e164"]
    request = {"e164": e164, "reservationId": (await reserve(api, e164))["id"]}
    key = {"Idempotency-Key": "same-key"}
    first = await api.post("/numbers/purchase", json=request, headers=key)
    again = await api.post("/numbers/purchase", json=request, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert sb.balance == Decimal("22.85") and len(sb.numbers) == 1

    other = (await search(api, areaCode="415", limit="1"))[0]["e164"]
    mismatch = await api.post("/numbers/purchase", json={"e164": other}, headers=key)
    problem(mismatch, 422, "idempotency_mismatch")
    # without a key the same body is a new purchase, and the number is already ours
    problem(await api.post("/numbers/purchase", json=request), 409, "number_unavailable")


async def test_insufficient_balance_states_the_shortfall(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    sb.balance = Decimal("2.00")
    e164 = (await first_number(api))["e164"]
    hold = await reserve(api, e164)
    request = {"e164": e164, "reservationId": hold["id"]}
    response = await api.post("/numbers/purchase", json=request, headers={"Idempotency-Key": "k"})
    payload = problem(response, 402, "insufficient_balance")
    assert payload["balanceUsd"] == Decimal("2.00") and payload["requiredUsd"] == Decimal("2.15")
    assert "$0.15" in payload["detail"]
    assert sb.balance == Decimal("2.00") and not sb.numbers
    # a failure is not stored under the key: top up, retry with the same key, and it succeeds
    sb.balance += Decimal("0.15")
    retry = await api.post("/numbers/purchase", json=request, headers={"Idempotency-Key": "k"})
    assert retry.status_code == 201 and sb.balance == Decimal("0.00")


async def test_a_held_number_cannot_be_held_or_bought_again(api: httpx.AsyncClient) -> None:
    e164 = (await first_number(api))["e164"]
    hold = await reserve(api, e164)
    problem(await api.post("/numbers/reserve", json={"e164": e164}), 409, "number_unavailable")
    problem(await api.post("/numbers/purchase", json={"e164": e164}), 409, "number_unavailable")
    shown = data(await api.get(f"/numbers/available/{e164}"))
    assert shown["reservable"] is False and shown["monthlyCost"] == Decimal("1.15")
    other = (await first_number(api))["e164"]
    mismatch = await api.post(
        "/numbers/purchase", json={"e164": other, "reservationId": hold["id"]}
    )
    problem(mismatch, 422, "reservation_mismatch")
    missing = await api.post("/numbers/purchase", json={"e164": e164, "reservationId": "rsv_x"})
    problem(missing, 404, "reservation_not_found")
    unknown = await api.post("/numbers/reserve", json={"e164": "+14155559999"})
    if unknown.status_code != 201:  # 555-9999 may or may not be in the seeded inventory
        problem(unknown, 409, "number_unavailable")
    problem(await api.post("/numbers/reserve", json={"e164": "+1 415"}), 400, "validation_error")
    problem(await api.post("/numbers/reserve", content=b"{nope"), 400, "validation_error")


async def test_holds_expire_after_thirty_minutes(
    api: httpx.AsyncClient, clock: ManualClock, sb: SandboxFlowyte
) -> None:
    e164 = (await first_number(api))["e164"]
    hold = await reserve(api, e164)
    clock.advance(HOLD_DURATION.total_seconds() + 100)
    request = {"e164": e164, "reservationId": hold["id"]}
    problem(await api.post("/numbers/purchase", json=request), 409, "reservation_expired")
    assert sb.balance == Decimal("25.00")
    assert e164 in [n["e164"] for n in await search(api, areaCode="415", limit="50")]
    again = await reserve(api, e164)  # the expired hold no longer blocks anyone
    bought = await api.post("/numbers/purchase", json={**request, "reservationId": again["id"]})
    assert bought.status_code == 201


async def test_cancelled_reservation_frees_the_number(api: httpx.AsyncClient) -> None:
    e164 = (await first_number(api))["e164"]
    hold = await reserve(api, e164)
    cancelled = data(await api.delete(f"/numbers/reserve/{hold['id']}"))
    assert cancelled["status"] == "cancelled"
    request = {"e164": e164, "reservationId": hold["id"]}
    problem(await api.post("/numbers/purchase", json=request), 404, "reservation_not_found")
    assert (await reserve(api, e164))["e164"] == e164
    problem(await api.delete("/numbers/reserve/rsv_nope"), 404, "reservation_not_found")


async def test_concurrent_purchases_of_one_number_only_one_wins(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    e164 = (await first_number(api))["e164"]
    responses = await asyncio.gather(
        *(api.post("/numbers/purchase", json={"e164": e164}) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    assert sb.balance == Decimal("22.85") and len(sb.numbers) == 1


async def test_a_number_taken_elsewhere_is_gone(api: httpx.AsyncClient, sb: SandboxFlowyte) -> None:
    e164 = (await first_number(api))["e164"]
    hold = await reserve(api, e164)
    sb.take_elsewhere(e164)
    request = {"e164": e164, "reservationId": hold["id"]}
    problem(await api.post("/numbers/purchase", json=request), 409, "number_unavailable")
    assert sb.balance == Decimal("25.00")


# --- owned numbers and agents ---


async def test_assign_unassign_release(api: httpx.AsyncClient, sb: SandboxFlowyte) -> None:
    e164 = (await first_number(api))["e164"]
    number = data(await api.post("/numbers/purchase", json={"e164": e164}))
    path = f"/numbers/{number['id']}"
    assigned = data(await api.post(f"{path}/assign", json={"agentId": "agt_support"}))
    assert assigned["defaultAgentId"] == "agt_support" and assigned["status"] == "assigned"
    problem(await api.post(f"{path}/assign", json={"agentId": "agt_nope"}), 404, "agent_not_found")
    problem(await api.post(f"{path}/assign", json={}), 400, "validation_error")
    # an agent never published can be assigned (callers reach nothing) unless the sandbox says so
    assert data(await api.post(f"{path}/assign", json={"agentId": "agt_draft"}))["status"] == (
        "assigned"
    )
    sb.require_published_agent = True
    draft = await api.post(f"{path}/assign", json={"agentId": "agt_draft"})
    problem(draft, 409, "no_published_version")
    unassigned = data(await api.delete(f"{path}/assign"))
    assert unassigned["defaultAgentId"] is None and unassigned["status"] == "available"
    released = data(await api.delete(path))
    assert released["id"] == number["id"]
    problem(await api.get(path), 404, "number_not_found")
    problem(
        await api.post(f"{path}/assign", json={"agentId": "agt_sales"}), 404, "number_not_found"
    )
    assert e164 not in [n["e164"] for n in await search(api, areaCode="415", limit="50")]
    assert sb.balance == Decimal("22.85")  # release refunds nothing


async def test_import_is_free_and_may_assign(api: httpx.AsyncClient, sb: SandboxFlowyte) -> None:
    imported = await api.post(
        "/numbers/import", json={"e164": "+12125550100", "agentId": "agt_sales"}
    )
    assert imported.status_code == 201
    number = data(imported)
    assert number["defaultAgentId"] == "agt_sales" and number["status"] == "assigned"
    assert sb.balance == Decimal("25.00")
    again = await api.post("/numbers/import", json={"e164": "+12125550100"})
    problem(again, 409, "already_exists")
    problem(await api.post("/numbers/import", json={"e164": "212555"}), 400, "validation_error")
    unknown_agent = {"e164": "+12125550101", "agentId": "agt_x"}
    problem(await api.post("/numbers/import", json=unknown_agent), 404, "agent_not_found")


async def test_owned_numbers_paginate_by_cursor(api: httpx.AsyncClient) -> None:
    wanted = [f"+1303555{n:04d}" for n in range(5)]
    for e164 in wanted:
        assert (await api.post("/numbers/import", json={"e164": e164})).status_code == 201
    seen: list[str] = []
    params = {"limit": "2"}
    while True:
        payload = body(await api.get("/numbers", params=params))
        seen += [n["e164"] for n in payload["data"]]
        if payload["nextCursor"] is None:
            break
        params["cursor"] = payload["nextCursor"]
    assert seen == wanted
    bad = await api.get("/numbers", params={"cursor": "garbage!"})
    problem(bad, 400, "validation_error")


async def test_agents_and_publish(api: httpx.AsyncClient, clock: ManualClock) -> None:
    listing = body(await api.get("/agents"))
    agents = {a["id"]: a for a in listing["data"]}
    assert listing["nextCursor"] is None and len(agents) >= 3
    assert agents["agt_support"]["publishedVersionId"] is not None
    assert agents["agt_draft"]["publishedVersionId"] is None
    page = body(await api.get("/agents", params={"limit": "1"}))
    assert len(page["data"]) == 1 and page["nextCursor"]

    clock.advance(60)
    key = {"Idempotency-Key": "publish-1"}
    first = await api.post("/agents/agt_draft/publish", json={"note": "go live"}, headers=key)
    version = data(first)
    assert version["id"].startswith("ver_") and version["agentId"] == "agt_draft"
    assert version["version"] == 1 and version["note"] == "go live"
    assert version["publishedAt"] == "2025-03-01T12:01:00.000Z" and version["publishedBy"]
    replay = await api.post("/agents/agt_draft/publish", json={"note": "go live"}, headers=key)
    assert data(replay) == version
    agent = data(await api.get("/agents/agt_draft"))
    assert agent["publishedVersionId"] == version["id"]
    support = data(await api.post("/agents/agt_support/publish"))
    assert support["version"] == agents["agt_support"]["version"] + 1
    problem(await api.post("/agents/agt_nope/publish"), 404, "agent_not_found")
    problem(await api.get("/agents/agt_nope"), 404, "agent_not_found")


async def test_topup_returns_a_client_secret_and_credits_nothing(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    response = await api.post(
        "/billing/wallet/topup", json={"amountUsd": 50}, headers={"Idempotency-Key": "t"}
    )
    assert response.status_code == 201 and data(response)["clientSecret"]
    assert sb.balance == Decimal("25.00")
    assert sb.settle_topups() == Decimal("50.00") and sb.balance == Decimal("75.00")
    for amount in (0, -5, "10", 1.234, True):
        bad = await api.post("/billing/wallet/topup", json={"amountUsd": amount})
        problem(bad, 400, "validation_error")


# --- JSON ---


def test_money_json_never_passes_through_float() -> None:
    text = dumps_json({"a": Decimal("0.10"), "b": [Decimal("1E+2"), 3, None, True, "x"]})
    assert text == '{"a":0.10,"b":[100,3,null,true,"x"]}'
    assert loads_json("0.1") == Decimal("0.1")
    with pytest.raises(TypeError):
        dumps_json({"a": 0.1})
    with pytest.raises(ValueError):
        loads_json("NaN")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2))
def test_decimal_round_trip(amount: Decimal) -> None:
    assert loads_json(dumps_json({"x": amount}))["x"] == amount

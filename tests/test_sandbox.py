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

from bot.sandbox import HOLD_DURATION, SandboxFlowyte, Variants, dumps_json, loads_json
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
    # By default the code is only in `type`, as Flowyte's API introduction shows it.
    assert payload["status"] == status and "code" not in payload
    assert payload["type"] == f"https://docs.flowyte.com/errors/{code}"
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
        assert n["currency"] == "USD" and n["reservable"] is True and "bestEffort" not in n
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


async def test_best_effort_widens_only_when_nothing_matches(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    assert await search(api, areaCode="415", endsWith="98765", bestEffort="false") == []
    wide = await search(api, areaCode="415", endsWith="98765")  # bestEffort defaults to true
    # As documented: nothing in a result says it was widened (Variants.best_effort_flag).
    assert wide and all("bestEffort" not in n and n["e164"].startswith("+1415") for n in wide)
    nowhere = await search(api, areaCode="212", locality="Nowhere")
    assert nowhere and all("bestEffort" not in n for n in nowhere)
    sb.configure(best_effort_flag=True)
    flagged = await search(api, areaCode="415", endsWith="98765")
    assert flagged and all(n["bestEffort"] is True for n in flagged)


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


# --- the documented variants -------------------------------------------------------------------


async def import_numbers(api: httpx.AsyncClient, count: int) -> list[str]:
    wanted = [f"+1303555{n:04d}" for n in range(count)]
    for e164 in wanted:
        assert (await api.post("/numbers/import", json={"e164": e164})).status_code == 201
    return wanted


async def test_problems_carry_the_code_in_type_and_code_by_default_or_in_type_only(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    e164 = (await first_number(api))["e164"]
    await reserve(api, e164)
    held = await api.post("/numbers/reserve", json={"e164": e164})
    payload = problem(held, 409, "number_unavailable")
    assert payload["type"] == "https://docs.flowyte.com/errors/number_unavailable"

    sb.configure(problems="type_only")
    held = await api.post("/numbers/reserve", json={"e164": e164})
    assert held.status_code == 409
    payload = body(held)
    assert "code" not in payload
    assert payload["type"] == "https://docs.flowyte.com/errors/number_unavailable"
    missing = await api.get("/no/such/route")  # starlette's own 404 follows the style too
    assert "code" not in body(missing) and body(missing)["type"].endswith("/not_found")


async def test_a_reservation_may_answer_only_its_id(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    sb.configure(reservations="id_only")
    e164 = (await first_number(api))["e164"]
    hold = await reserve(api, e164)
    assert set(hold) == {"id"}
    bought = await api.post("/numbers/purchase", json={"e164": e164, "reservationId": hold["id"]})
    assert bought.status_code == 201


async def test_a_small_page_size_makes_lists_page_whatever_limit_asks(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    wanted = await import_numbers(api, 5)
    sb.configure(page_size=2)
    seen: list[str] = []
    params = {"limit": "100"}
    pages = 0
    while True:
        payload = body(await api.get("/numbers", params=params))
        pages += 1
        assert len(payload["data"]) <= 2
        seen += [n["e164"] for n in payload["data"]]
        if payload["nextCursor"] is None:
            break
        params["cursor"] = payload["nextCursor"]
    assert seen == wanted and pages == 3


CURSOR_PLACEMENTS = {  # style -> (the next cursor on a page, what the last page says)
    "next_cursor": (lambda p: p["nextCursor"], {"nextCursor": None}),
    "items": (lambda p: p["data"]["nextCursor"], {}),
    "pagination": (
        lambda p: p["pagination"]["nextCursor"],
        {"pagination": {"nextCursor": None, "hasMore": False}},
    ),
    "meta": (lambda p: p["meta"]["nextCursor"], {"meta": {"nextCursor": None}}),
}


@pytest.mark.parametrize("style", CURSOR_PLACEMENTS)
async def test_each_readable_cursor_placement_pages_to_the_end(
    api: httpx.AsyncClient, sb: SandboxFlowyte, style: str
) -> None:
    wanted = await import_numbers(api, 3)
    sb.configure(page_size=2, pagination=style)
    cursor_of, last_says = CURSOR_PLACEMENTS[style]
    first = body(await api.get("/numbers", params={"limit": "100"}))
    cursor = cursor_of(first)
    assert isinstance(cursor, str) and cursor
    last = body(await api.get("/numbers", params={"limit": "100", "cursor": cursor}))
    assert cursor_of(last) is None
    assert last_says.items() <= last.items()
    pages = [first, last]
    items = [p["data"]["items"] if style == "items" else p["data"] for p in pages]
    assert [n["e164"] for page in items for n in page] == wanted
    if style == "pagination":
        assert first["pagination"]["hasMore"] is True


@pytest.mark.parametrize(
    ("style", "first_page"),
    [
        ("has_more", {"hasMore": True}),
        ("links", {"links": {"next": "?cursor="}}),
        ("no_cursor", {}),
    ],
)
async def test_each_unreadable_cursor_placement(
    api: httpx.AsyncClient, sb: SandboxFlowyte, style: str, first_page: dict[str, Any]
) -> None:
    await import_numbers(api, 3)
    sb.configure(page_size=2, pagination=style)
    first = body(await api.get("/numbers"))
    assert set(first) == {"success", "data", "message", "errors", *first_page}
    assert first["errors"] == [] and len(first["data"]) == 2
    sb.configure(envelope="plain")
    assert set(body(await api.get("/numbers"))) == {"success", "data", *first_page}
    if style == "has_more":
        assert first["hasMore"] is True
    if style == "links":
        assert first["links"]["next"].startswith("?cursor=")


async def test_a_repeating_cursor_points_every_page_back(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    await import_numbers(api, 5)
    sb.configure(page_size=2, pagination="repeat")
    first = body(await api.get("/numbers"))
    second = body(await api.get("/numbers", params={"cursor": first["nextCursor"]}))
    assert second["nextCursor"] == first["nextCursor"]


async def test_rate_limits_send_ratelimit_headers_and_429(
    api: httpx.AsyncClient, sb: SandboxFlowyte, clock: ManualClock
) -> None:
    sb.configure(rate_limit=2, rate_window=60)
    first = await api.get("/billing/wallet")
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert first.headers["ratelimit-reset"] == "60"
    clock.advance(20)
    second = await api.get("/agents")
    assert (
        second.headers["ratelimit-remaining"] == "0" and second.headers["ratelimit-reset"] == "40"
    )
    limited = await api.get("/billing/wallet")
    problem(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == "40" and limited.headers["ratelimit-reset"] == "40"
    assert limited.headers["ratelimit-remaining"] == "0"

    sb.configure(retry_after=False)  # a fresh window: two more, then a 429 without Retry-After
    await api.get("/billing/wallet")
    await api.get("/billing/wallet")
    limited = await api.get("/billing/wallet")
    assert limited.status_code == 429 and "retry-after" not in limited.headers
    assert limited.headers["ratelimit-reset"] == "60"
    clock.advance(61)
    assert (await api.get("/billing/wallet")).status_code == 200


async def test_a_402_may_carry_no_amounts(api: httpx.AsyncClient, sb: SandboxFlowyte) -> None:
    sb.balance = Decimal("1.00")
    sb.configure(amounts_on_402=False)
    e164 = (await first_number(api))["e164"]
    payload = problem(
        await api.post("/numbers/purchase", json={"e164": e164}), 402, "insufficient_balance"
    )
    assert not {"balanceUsd", "requiredUsd", "shortfallUsd"} & set(payload)
    assert "$" not in payload["detail"]


async def test_scopes_per_key(api: httpx.AsyncClient, sb: SandboxFlowyte) -> None:
    key = "flowyte_sk_test_no_agents"
    sb.set_key_scopes(key, ["numbers:read", "numbers:write", "billing:read", "agents:write"])
    auth = {"Authorization": f"Bearer {key}"}
    refused = problem(await api.get("/agents", headers=auth), 403, "insufficient_scope")
    assert refused["requiredScope"] == "agents:read"
    assert (await api.get("/numbers", headers=auth)).status_code == 200
    assert (await api.get("/billing/wallet", headers=auth)).status_code == 200
    sb.set_key_scopes(key, None)
    assert (await api.get("/agents", headers=auth)).status_code == 200
    with pytest.raises(ValueError, match="unknown scopes"):
        sb.set_key_scopes(key, ["numbers:everything"])
    assert SandboxFlowyte(key_scopes={key: []}).scopes_for(key) == frozenset()


async def test_the_scope_is_checked_before_the_body_or_the_agent(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    """The order check_scopes() relies on: with the scope a 400/404, without it a 403."""
    problem(await api.post("/numbers/reserve", json={}), 400, "validation_error")
    problem(await api.post("/agents/agt_made_up/publish", json={}), 404, "agent_not_found")
    readonly = {"Authorization": "Bearer flowyte_sk_readonly_1"}
    problem(
        await api.post("/numbers/reserve", json={}, headers=readonly), 403, "insufficient_scope"
    )
    problem(
        await api.post("/numbers/reserve", content=b"not json", headers=readonly),
        403,
        "insufficient_scope",
    )
    refused = await api.post("/agents/agt_made_up/publish", json={}, headers=readonly)
    problem(refused, 403, "insufficient_scope")
    assert not sb.reservations


async def _until(condition: Any, seconds: float = 5.0) -> None:
    """Wait for `condition()` to hold, checking every few milliseconds (not a bare sleep)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


async def test_a_replay_while_the_first_call_runs_waits_for_it_and_replays_its_result(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    """The documented default: "a retry replays the original result instead of charging
    twice", even while the original is still running."""
    sb.configure(processing_delay=0.3)
    e164 = (await first_number(api))["e164"]
    request, key = {"e164": e164}, {"Idempotency-Key": "slow-0"}
    first = asyncio.create_task(api.post("/numbers/purchase", json=request, headers=key))
    await _until(lambda: sb.idempotency_in_progress("slow-0"))
    replay = await api.post("/numbers/purchase", json=request, headers=key)
    done = await first
    assert done.status_code == replay.status_code == 201 and replay.content == done.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert sb.balance == Decimal("22.85") and len(sb.numbers) == 1


async def test_a_replay_while_the_first_call_runs_is_409_then_replays_the_result(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    sb.configure(processing_delay=0.5, replays="conflict")
    e164 = (await first_number(api))["e164"]
    request, key = {"e164": e164}, {"Idempotency-Key": "slow-1"}
    first = asyncio.create_task(api.post("/numbers/purchase", json=request, headers=key))
    await _until(lambda: sb.idempotency_in_progress("slow-1"))

    running = await api.post("/numbers/purchase", json=request, headers=key)
    problem(running, 409, "idempotency_in_progress")
    assert running.headers["retry-after"] == "1"
    other = await api.post("/numbers/purchase", json={"e164": "+14155550000"}, headers=key)
    problem(other, 422, "idempotency_mismatch")

    done = await first
    assert done.status_code == 201 and not sb.idempotency_in_progress("slow-1")
    replay = await api.post("/numbers/purchase", json=request, headers=key)
    assert replay.status_code == 201 and replay.content == done.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert sb.balance == Decimal("22.85") and len(sb.numbers) == 1


async def test_a_call_that_fails_while_running_frees_its_key(
    api: httpx.AsyncClient, sb: SandboxFlowyte
) -> None:
    sb.configure(processing_delay=0.05)
    sb.balance = Decimal("1.00")
    e164 = (await first_number(api))["e164"]
    key = {"Idempotency-Key": "poor-1"}
    problem(
        await api.post("/numbers/purchase", json={"e164": e164}, headers=key),
        402,
        "insufficient_balance",
    )
    assert not sb.idempotency_in_progress("poor-1")
    sb.balance = Decimal("5.00")
    assert (
        await api.post("/numbers/purchase", json={"e164": e164}, headers=key)
    ).status_code == 201


@pytest.mark.parametrize(
    "changes",
    [
        {"problems": "xml"},
        {"pagination": "pages"},
        {"page_size": 0},
        {"page_size": 101},
        {"page_size": True},
        {"rate_limit": 0},
        {"rate_window": 0},
        {"processing_delay": -1},
        {"processing_delay": float("nan")},
        {"retry_after": "yes"},
        {"colour": "blue"},
    ],
)
def test_variants_refuse_nonsense(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Variants().with_changes(changes)


def test_variants_round_trip_through_json() -> None:
    variants = Variants(page_size=2, rate_limit=5, rate_window=30.5, processing_delay=0.25)
    text = dumps_json(variants.to_json())
    assert Variants().with_changes(loads_json(text)) == variants

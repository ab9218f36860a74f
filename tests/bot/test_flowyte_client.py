"""FlowyteClient against httpx.MockTransport and the sandbox: requests, answers, retries, scopes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from pydantic import ValidationError

from bot.flowyte import errors as fe
from bot.flowyte.client import FlowyteClient
from bot.flowyte.models import (
    AvailableNumber,
    OwnedNumber,
    Reservation,
    SearchQuery,
    Wallet,
)
from bot.flowyte.retry import RetryPolicy
from bot.flowyte.scopes import REQUIRED_SCOPES
from bot.sandbox import SandboxFlowyte

BASE = "https://flowyte.test/api/v1"
KEY = "flowyte_sk_live_CLIENTTESTSECRET42"

OWNED = {
    "id": "num_1",
    "organizationId": "org_1",
    "e164": "+14155550100",
    "provider": "carrier-x",
    "defaultAgentId": None,
    "monthlyCost": 1.15,
    "createdAt": "2026-01-01T00:00:00Z",
    "status": "available",
}


class _ClientClock:
    """The Flowyte client's clock, moved by hand (each test says how long its calls take)."""

    now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def client_clock(monkeypatch: pytest.MonkeyPatch) -> _ClientClock:
    clock = _ClientClock()
    monkeypatch.setattr("bot.flowyte.client.time", clock)
    return clock


def ok(data: object, status: int = 200, **extra: object) -> httpx.Response:
    """A Flowyte success envelope; the JSON text is built by hand where exact digits matter."""
    return httpx.Response(status, json={"success": True, "data": data, **extra})


def raw_ok(data_json: str, status: int = 200) -> httpx.Response:
    text = '{"success": true, "data": ' + data_json + "}"
    return httpx.Response(
        status, content=text.encode(), headers={"content-type": "application/json"}
    )


def problem(status: int, code: str | None = None, **fields: object) -> httpx.Response:
    body: dict[str, object] = {"type": "about:blank", "title": "x", "status": status, **fields}
    if code is not None:
        body["code"] = code
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        assert isinstance(answer, httpx.Response)
        # A fresh copy each time: one scripted answer may be served many times.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> object:
        content = self.requests[index].content
        return json.loads(content) if content else None


def connected(handler: Recorder, **kw: object) -> FlowyteClient:
    return FlowyteClient.connect(BASE, KEY, transport=httpx.MockTransport(handler), **kw)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def retrying(handler: Recorder, *, rng: float = 1.0, retry: RetryPolicy | None = None):
    """A client with injected sleep and rng (and the same headers connect() sets)."""
    sleeps = Sleeps()
    http = httpx.AsyncClient(
        base_url=BASE + "/",
        headers={"Authorization": f"Bearer {KEY}"},
        transport=httpx.MockTransport(handler),
    )
    client = FlowyteClient(http, retry=retry or RetryPolicy(), sleep=sleeps, rng=lambda: rng)
    return client, sleeps


# --- requests sent -----------------------------------------------------------------------


def test_search_query_params_map_to_api_names():
    query = SearchQuery(
        area_code="415",
        number_type="toll_free",
        locality="San Francisco",
        administrative_area="CA",
        features=("voice", "sms", "voice"),
        contains="CALL",
        starts_with="1415",
        ends_with="00",
        country="US",
        best_effort=False,
        limit=5,
    )
    assert query.params() == {
        "areaCode": "415",
        "numberType": "toll_free",
        "locality": "San Francisco",
        "administrativeArea": "CA",
        "features": "voice,sms",
        "contains": "CALL",
        "startsWith": "1415",
        "endsWith": "00",
        "country": "US",
        "bestEffort": "false",
        "limit": "5",
    }


def test_search_query_defaults_send_only_limit_and_best_effort_true_when_set():
    assert SearchQuery().params() == {"limit": "10"}
    assert SearchQuery(best_effort=True).params()["bestEffort"] == "true"


@pytest.mark.parametrize(
    "fields",
    [
        {"area_code": "115"},
        {"area_code": "41"},
        {"number_type": "satellite"},
        {"features": ("voice", "telepathy")},
        {"administrative_area": "California"},
        {"limit": 0},
        {"limit": 51},
        {"contains": "12-34"},
    ],
)
def test_search_query_rejects_bad_values(fields):
    with pytest.raises(ValidationError):
        SearchQuery(**fields)


async def test_search_sends_get_with_query_auth_and_user_agent():
    handler = Recorder(raw_ok('[{"e164": "+14155550100", "monthlyCost": 1.15, "setupCost": 1}]'))
    client = connected(handler)
    found = await client.search(
        SearchQuery(area_code="415", locality="San Francisco", features=("voice", "sms"))
    )
    request = handler.last
    assert request.method == "GET"
    assert request.url.path == "/api/v1/numbers/search"
    assert dict(request.url.params) == {
        "areaCode": "415",
        "locality": "San Francisco",
        "features": "voice,sms",
        "limit": "10",
    }
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["User-Agent"].startswith("numbot/")
    assert "Idempotency-Key" not in request.headers
    assert found == [
        AvailableNumber(e164="+14155550100", monthlyCost=Decimal("1.15"), setupCost=Decimal("1"))
    ]
    await client.aclose()


async def test_search_with_an_empty_list_is_empty_but_null_data_is_unreadable():
    assert await connected(Recorder(raw_ok("[]"))).search(SearchQuery()) == []
    with pytest.raises(fe.UnexpectedAnswer):
        await connected(Recorder(raw_ok("null"))).search(SearchQuery())


async def test_get_available_escapes_the_plus():
    handler = Recorder(raw_ok('{"e164": "+14155550100"}'))
    number = await connected(handler).get_available("+14155550100")
    assert handler.last.method == "GET"
    assert handler.last.url.raw_path == b"/api/v1/numbers/available/%2B14155550100"
    assert number.e164 == "+14155550100" and number.setup_cost is None


async def test_reserve_posts_e164_without_idempotency_key():
    handler = Recorder(
        raw_ok(
            '{"id": "rsv_1", "e164": "+14155550100", "status": "active",'
            ' "expiresAt": "2026-01-01T00:30:00Z", "createdAt": "2026-01-01T00:00:00Z",'
            ' "setupCost": 1.00, "monthlyCost": 1.15}',
            status=201,
        )
    )
    hold = await connected(handler).reserve("+14155550100")
    assert (handler.last.method, handler.last.url.path) == ("POST", "/api/v1/numbers/reserve")
    assert handler.body() == {"e164": "+14155550100"}
    assert "Idempotency-Key" not in handler.last.headers
    assert hold.id == "rsv_1" and hold.setup_cost == Decimal("1.00")
    assert hold.expires_at is not None and hold.expires_at.tzinfo is not None


async def test_release_hold_deletes_the_reservation_and_accepts_204():
    handler = Recorder(httpx.Response(204))
    assert await connected(handler).release_hold("rsv/1") is None
    assert handler.last.method == "DELETE"
    assert handler.last.url.raw_path == b"/api/v1/numbers/reserve/rsv%2F1"


async def test_purchase_sends_reservation_and_idempotency_key():
    handler = Recorder(ok(OWNED, status=201))
    owned = await connected(handler).purchase("+14155550100", "rsv_1", idempotency_key="numbot-k1")
    assert (handler.last.method, handler.last.url.path) == ("POST", "/api/v1/numbers/purchase")
    assert handler.body() == {"e164": "+14155550100", "reservationId": "rsv_1"}
    assert handler.last.headers["Idempotency-Key"] == "numbot-k1"
    assert handler.last.headers["Authorization"] == f"Bearer {KEY}"
    assert owned.id == "num_1" and owned.organization_id == "org_1"


async def test_purchase_without_reservation_omits_it():
    handler = Recorder(ok(OWNED, status=201))
    await connected(handler).purchase("+14155550100", None, idempotency_key="k")
    assert handler.body() == {"e164": "+14155550100"}


async def test_import_with_and_without_agent():
    handler = Recorder(ok(OWNED, status=201))
    client = connected(handler)
    await client.import_number("+14155550100", "agt_1")
    assert (handler.last.method, handler.last.url.path) == ("POST", "/api/v1/numbers/import")
    assert handler.body() == {"e164": "+14155550100", "agentId": "agt_1"}
    assert "Idempotency-Key" not in handler.last.headers
    await client.import_number("+14155550100")
    assert handler.body() == {"e164": "+14155550100"}


async def test_get_number_assign_unassign_release():
    handler = Recorder(ok({**OWNED, "defaultAgentId": "agt_1", "status": "assigned"}))
    client = connected(handler)

    number = await client.get_number("num_1")
    assert (handler.last.method, handler.last.url.path) == ("GET", "/api/v1/numbers/num_1")
    assert number.default_agent_id == "agt_1"

    await client.assign("num_1", "agt_1")
    assert (handler.last.method, handler.last.url.path) == ("POST", "/api/v1/numbers/num_1/assign")
    assert handler.body() == {"agentId": "agt_1"}

    handler.answers = [ok({**OWNED, "status": "available"})]
    back = await client.unassign("num_1")
    assert (handler.last.method, handler.last.url.path) == (
        "DELETE",
        "/api/v1/numbers/num_1/assign",
    )
    assert back is not None and back.default_agent_id is None

    handler.answers = [httpx.Response(204)]
    assert await client.unassign("num_1") is None
    assert await client.release_number("num_1") is None
    assert (handler.last.method, handler.last.url.path) == ("DELETE", "/api/v1/numbers/num_1")


async def test_agents_publish_and_wallet():
    agent = {"id": "agt_1", "name": "Support", "version": 3, "publishedVersionId": None}
    handler = Recorder(ok(agent))
    client = connected(handler)

    got = await client.get_agent("agt_1")
    assert handler.last.url.path == "/api/v1/agents/agt_1"
    assert not got.published and got.label == "Support"

    handler.answers = [
        ok({"id": "ver_1", "agentId": "agt_1", "version": 4, "note": "n"}, status=201)
    ]
    version = await client.publish("agt_1", idempotency_key="pub-1", note="from slack")
    assert (handler.last.method, handler.last.url.path) == ("POST", "/api/v1/agents/agt_1/publish")
    assert handler.last.headers["Idempotency-Key"] == "pub-1"
    assert handler.body() == {"note": "from slack"}
    assert version.id == "ver_1" and version.version == 4

    await client.publish("agt_1", idempotency_key="pub-2")
    assert handler.body() == {}

    handler.answers = [raw_ok('{"balanceUsd": 25, "autoReloadThresholdUsd": 5.00}')]
    wallet = await client.wallet()
    assert (handler.last.method, handler.last.url.path) == ("GET", "/api/v1/billing/wallet")
    assert wallet.balance_usd == Decimal("25") and wallet.auto_reload_threshold_usd == Decimal(
        "5.00"
    )
    assert wallet.auto_reload_enabled is None


async def test_list_numbers_follows_next_cursor_across_pages():
    pages = {
        None: ([{**OWNED, "id": "num_1"}], "c2"),
        "c2": ([{**OWNED, "id": "num_2"}, {**OWNED, "id": "num_3"}], "c3"),
        "c3": ([{**OWNED, "id": "num_4"}], None),
    }

    def paginate(request: httpx.Request) -> httpx.Response:
        data, cursor = pages[request.url.params.get("cursor")]
        return ok(data, nextCursor=cursor)

    handler = Recorder(paginate)
    numbers = await connected(handler).list_numbers()
    assert [n.id for n in numbers] == ["num_1", "num_2", "num_3", "num_4"]
    assert [r.url.params.get("cursor") for r in handler.requests] == [None, "c2", "c3"]
    assert all(r.url.params["limit"] == "100" for r in handler.requests)
    assert all(r.url.path == "/api/v1/numbers" for r in handler.requests)


async def test_list_agents_follows_next_cursor_and_ignores_unknown_item_fields():
    def paginate(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") is None:
            return ok([{"id": "agt_1"}], nextCursor="more")
        return ok([{"id": "agt_2", "surprise": True}], nextCursor=None)

    handler = Recorder(paginate)
    agents = await connected(handler).list_agents()
    assert [a.id for a in agents] == ["agt_1", "agt_2"]
    assert handler.requests[0].url.path == "/api/v1/agents"


async def test_a_full_last_page_that_does_not_say_it_is_the_last_is_unreadable():
    """Without nextCursor (or hasMore: false) a page as long as the limit asked may be cut:
    numbot cannot know the list ended there."""

    def paginate(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") is None:
            return ok([{"id": "agt_1"}], nextCursor="more")
        return ok([{"id": f"agt_{n}"} for n in range(2, 102)])  # 100: the limit numbot asks

    with pytest.raises(fe.UnexpectedAnswer, match="does not say whether there is more"):
        await connected(Recorder(paginate)).list_agents()


async def test_a_short_last_page_without_any_cursor_is_the_end():
    """Shorter than the limit asked and carrying no cursor information at all: with a fixed
    page size it cannot be hiding more (a Flowyte that leaves the cursor out of its last
    page)."""

    def paginate(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") is None:
            return ok([{"id": "agt_1"}], nextCursor="more")
        return ok([{"id": f"agt_{n}"} for n in range(2, 101)])  # 99 < 100

    handler = Recorder(paginate)
    agents = await connected(handler).list_agents()
    assert [a.id for a in agents] == [f"agt_{n}" for n in range(1, 101)]
    assert [r.url.params.get("cursor") for r in handler.requests] == [None, "more"]


async def test_a_cursor_that_comes_round_again_is_a_loop_not_the_end():
    handler = Recorder(lambda request: ok([], nextCursor="again"))
    with pytest.raises(fe.UnexpectedAnswer, match="again"):
        await connected(handler).list_numbers()
    assert len(handler.requests) == 2


# --- parsing -------------------------------------------------------------------------------


async def test_amounts_are_exact_decimals_never_floats():
    handler = Recorder(
        raw_ok(
            '{"id": "rsv_1", "e164": "+14155550100", "setupCost": 0.1, "monthlyCost": 0.2}',
            status=201,
        )
    )
    hold = await connected(handler).reserve("+14155550100")
    assert isinstance(hold.setup_cost, Decimal)
    # In binary floating point 0.1 + 0.2 == 0.30000000000000004.
    assert hold.setup_cost + hold.monthly_cost == Decimal("0.3")


async def test_json_number_keeps_every_digit():
    handler = Recorder(
        raw_ok(
            '[{"e164": "+14155550100", "monthlyCost": 0.30000000000000004, "setupCost": 0.3},'
            ' {"e164": "+14155550101", "monthlyCost": 1.15000000000000000001, "setupCost": 1.15}]'
        )
    )
    first, second = await connected(handler).search(SearchQuery())
    assert first.monthly_cost == Decimal("0.30000000000000004")
    assert first.setup_cost == Decimal("0.3") and first.monthly_cost != first.setup_cost
    # A float would have collapsed this to 1.15.
    assert second.monthly_cost == Decimal("1.15000000000000000001")
    assert second.monthly_cost != second.setup_cost


@pytest.mark.parametrize("model", [AvailableNumber, Reservation, OwnedNumber])
def test_models_refuse_a_float_amount(model):
    fields = {"e164": "+14155550100", "id": "x", "monthlyCost": 1.15}
    with pytest.raises((TypeError, ValidationError)):
        model.model_validate(fields)


def test_wallet_refuses_float_balance():
    with pytest.raises((TypeError, ValidationError)):
        Wallet.model_validate({"balanceUsd": 25.0})


def test_amounts_accept_strings_and_ints():
    number = AvailableNumber.model_validate({"e164": "+1", "monthlyCost": "1.15", "setupCost": 1})
    assert number.monthly_cost == Decimal("1.15") and number.setup_cost == Decimal("1")


async def test_unknown_fields_ignored_and_optional_fields_may_be_missing():
    handler = Recorder(
        raw_ok('{"id": "num_9", "e164": "+14155550199", "brandNew": {"nested": [1, 2]}, "x": null}')
    )
    number = await connected(handler).get_number("num_9")
    assert number == OwnedNumber(id="num_9", e164="+14155550199")
    assert number.monthly_cost is None and number.default_agent_id is None


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_any_2xx_is_success(status):
    response = httpx.Response(status) if status == 204 else ok({"id": "x"}, status=status)
    handler = Recorder(response)
    assert await connected(handler).release_number("num_1") is None


async def test_success_without_envelope_is_unreadable():
    """The envelope is documented; a bare object might be anything (a proxy's, an error's)."""
    handler = Recorder(httpx.Response(200, json={"id": "num_2", "e164": "+14155550102"}))
    with pytest.raises(fe.UnexpectedAnswer):
        await connected(handler).get_number("num_2")


async def test_an_envelope_without_success_is_read_when_data_is_there():
    handler = Recorder(httpx.Response(200, json={"data": {"id": "num_2", "e164": "+1415"}}))
    assert (await connected(handler).get_number("num_2")).id == "num_2"


# --- errors ------------------------------------------------------------------------------

ERROR_CASES = [
    (400, "validation_error", fe.InvalidRequest),
    (401, "unauthorized", fe.BadApiKey),
    (402, "insufficient_balance", fe.InsufficientBalance),
    (403, "insufficient_scope", fe.Forbidden),
    (404, "not_found", fe.NotFound),
    (409, "number_unavailable", fe.Conflict),
    (422, "reservation_mismatch", fe.Unprocessable),
    (429, "rate_limited", fe.RateLimited),
    (500, "internal_error", fe.ServerError),
    (502, None, fe.ServerError),
    (503, None, fe.ServerError),
    (504, None, fe.ServerError),
    (418, "teapot", fe.FlowyteAPIError),
]


@pytest.mark.parametrize(("status", "code", "cls"), ERROR_CASES)
async def test_each_status_maps_to_its_error_class(status, code, cls):
    handler = Recorder(problem(status, code))
    with pytest.raises(cls) as caught:
        await connected(handler).purchase("+14155550100", "rsv_1", idempotency_key="k")
    exc = caught.value
    assert type(exc) is cls
    assert exc.status == status and exc.code == code
    assert exc.method == "POST" and exc.path == "numbers/purchase"
    assert exc.explain() and exc.explain().endswith(".")
    assert len(handler.requests) == 1


async def test_400_explain_names_the_field():
    handler = Recorder(
        problem(
            400,
            "validation_error",
            errors=[
                {"field": "areaCode", "message": "must be a 3-digit US area code"},
                {"field": "limit", "message": "must be an integer from 1 to 50"},
            ],
        )
    )
    with pytest.raises(fe.InvalidRequest) as caught:
        await connected(handler).search(SearchQuery())
    text = caught.value.explain()
    assert "areaCode: must be a 3-digit US area code" in text
    assert "limit" in text
    assert len(handler.requests) == 1  # a 400 is not retried


async def test_402_shortfall_from_extension_fields():
    handler = Recorder(
        httpx.Response(
            402,
            content=b'{"status": 402, "code": "insufficient_balance",'
            b' "balanceUsd": 1.00, "requiredUsd": 2.15}',
            headers={"content-type": "application/problem+json"},
        )
    )
    with pytest.raises(fe.InsufficientBalance) as caught:
        await connected(handler).purchase("+14155550100", "rsv_1", idempotency_key="k")
    exc = caught.value
    assert exc.shortfall == Decimal("1.15")
    assert "$1.15" in exc.explain() and "dashboard" in exc.explain()


@pytest.mark.parametrize(
    "extra",
    [{}, {"balanceUsd": 1}, {"balanceUsd": "x", "requiredUsd": 2}, {"balanceUsd": None}],
)
def test_402_without_usable_amounts_still_explains(extra):
    exc = fe.InsufficientBalance(fe.Problem.from_body(402, {"status": 402, **extra}))
    assert exc.shortfall is None
    assert "short." in exc.explain() and "dashboard" in exc.explain()


async def test_403_names_the_required_scope():
    handler = Recorder(problem(403, "insufficient_scope", requiredScope="numbers:write"))
    with pytest.raises(fe.Forbidden) as caught:
        await connected(handler).reserve("+14155550100")
    assert "`numbers:write`" in caught.value.explain()


async def test_403_without_scope_is_generic():
    handler = Recorder(problem(403, "forbidden"))
    with pytest.raises(fe.Forbidden) as caught:
        await connected(handler).reserve("+14155550100")
    assert "scope" in caught.value.explain() and "`" not in caught.value.explain()


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (404, "reservation_not_found", "no longer knows that hold"),
        (404, "number_not_found", "no such item"),
        (409, "number_unavailable", "That number is gone"),
        (409, "reservation_expired", "hold on that number lapsed"),
        (409, "no_published_version", "never been published"),
        (409, "already_exists", "already on this Flowyte account"),
        (409, "something_new", "conflict"),
        (422, "reservation_mismatch", "different number"),
        (422, "idempotency_mismatch", "could not process"),
    ],
)
async def test_codes_explain_themselves(status, code, words):
    handler = Recorder(problem(status, code))
    with pytest.raises(fe.FlowyteAPIError) as caught:
        await connected(handler).purchase("+14155550100", "rsv_1", idempotency_key="k")
    assert words in caught.value.explain()


async def test_429_carries_retry_after():
    handler = Recorder(
        httpx.Response(
            429, json={"status": 429, "code": "rate_limited"}, headers={"Retry-After": "30"}
        )
    )
    with pytest.raises(fe.RateLimited) as caught:
        await connected(handler).reserve("+14155550100")
    assert caught.value.retry_after == 30.0
    assert "about 30 seconds" in caught.value.explain()
    assert len(handler.requests) == 1


async def test_absurd_retry_after_still_explains():
    handler = Recorder(httpx.Response(429, json={"status": 429}, headers={"Retry-After": "1e999"}))
    with pytest.raises(fe.RateLimited) as caught:
        await connected(handler).reserve("+14155550100")
    assert "rate-limiting" in caught.value.explain()


def test_rate_limited_without_retry_after_says_a_minute():
    exc = fe.RateLimited(fe.Problem(429), retry_after=None)
    assert "a minute" in exc.explain()


async def test_html_502_still_yields_a_usable_error():
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    handler = Recorder(httpx.Response(502, content=html, headers={"content-type": "text/html"}))
    with pytest.raises(fe.ServerError) as caught:
        await connected(handler).purchase("+14155550100", "rsv_1", idempotency_key="k")
    exc = caught.value
    assert exc.status == 502 and exc.code is None
    assert "internal error" in exc.explain()
    assert "<html>" not in str(exc) and "<html>" not in exc.explain()


async def test_non_json_400_is_still_invalid_request():
    handler = Recorder(
        httpx.Response(400, content=b"bad request", headers={"content-type": "text/plain"})
    )
    with pytest.raises(fe.InvalidRequest) as caught:
        await connected(handler).reserve("+14155550100")
    assert "invalid" in caught.value.explain()


def test_problem_from_body_is_lenient():
    p = fe.Problem.from_body(
        400, {"code": 7, "errors": ["junk", {"message": "m"}, {"field": "f"}], "zz": 1}
    )
    assert p.code == "7"
    assert p.errors == (("?", "m"), ("f", "invalid"))
    assert p.extra == {"zz": 1}
    assert fe.Problem.from_body(500, ["not", "a", "dict"]) == fe.Problem(500)


# --- retries -------------------------------------------------------------------------------


def _search_ok() -> httpx.Response:
    return ok([{"e164": "+14155550100"}])


async def test_get_retries_5xx_with_jittered_backoff_then_succeeds():
    handler = Recorder(problem(503), problem(502), _search_ok())
    client, sleeps = retrying(handler, rng=1.0)
    found = await client.search(SearchQuery())
    assert [n.e164 for n in found] == ["+14155550100"]
    assert len(handler.requests) == 3
    assert sleeps.waits == [0.25, 0.5]


async def test_get_retries_give_up_after_the_attempts():
    handler = Recorder(problem(500))
    client, sleeps = retrying(handler, rng=0.5)
    with pytest.raises(fe.ServerError):
        await client.wallet()
    assert len(handler.requests) == 4
    assert sleeps.waits == [0.125, 0.25, 0.5]  # half of min(2.0, 0.25 * 2**n)


async def test_backoff_is_capped():
    handler = Recorder(problem(500))
    client, sleeps = retrying(
        handler, rng=1.0, retry=RetryPolicy(attempts=6, base_delay=1.0, max_delay=1.5, budget=100)
    )
    with pytest.raises(fe.ServerError):
        await client.wallet()
    assert sleeps.waits == [1.0, 1.5, 1.5, 1.5, 1.5]


async def test_get_honours_retry_after_on_429():
    limited = httpx.Response(429, json={"status": 429}, headers={"Retry-After": "1.5"})
    handler = Recorder(limited, _search_ok())
    client, sleeps = retrying(handler, rng=0.0)
    await client.search(SearchQuery())
    assert sleeps.waits == [1.5]
    assert len(handler.requests) == 2


async def test_retry_after_beyond_the_budget_gives_up_at_once():
    limited = httpx.Response(429, json={"status": 429}, headers={"Retry-After": "60"})
    handler = Recorder(limited)
    client, sleeps = retrying(handler)
    with pytest.raises(fe.RateLimited) as caught:
        await client.list_numbers()
    assert caught.value.retry_after == 60.0
    assert sleeps.waits == [] and len(handler.requests) == 1


async def test_retries_stop_when_the_time_budget_is_spent(client_clock):
    """With a clock that the waits advance, the budget counts the waits already spent."""

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        client_clock.now += seconds

    limited = httpx.Response(429, json={"status": 429}, headers={"Retry-After": "2.5"})
    handler = Recorder(limited)
    http = httpx.AsyncClient(base_url=BASE + "/", transport=httpx.MockTransport(handler))
    client = FlowyteClient(http, sleep=sleep, rng=lambda: 1.0)
    with pytest.raises(fe.RateLimited):
        await client.wallet()
    assert waits == [2.5, 2.5]  # a third wait would end at 7.5 s, past the 6 s budget
    assert len(handler.requests) == 3


async def test_unparseable_retry_after_falls_back_to_backoff():
    limited = httpx.Response(
        429, json={"status": 429}, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    handler = Recorder(limited, _search_ok())
    client, sleeps = retrying(handler, rng=1.0)
    await client.search(SearchQuery())
    assert sleeps.waits == [0.25]


async def test_get_retries_connect_errors_then_raises_unavailable():
    handler = Recorder(httpx.ConnectError("refused"))
    client, sleeps = retrying(handler)
    with pytest.raises(fe.FlowyteUnavailable) as caught:
        await client.get_agent("agt_1")
    assert not isinstance(caught.value, fe.OutcomeUnknown)
    assert len(handler.requests) == 4 and len(sleeps.waits) == 3


async def test_get_recovers_after_a_connect_error():
    handler = Recorder(httpx.ConnectTimeout("slow"), ok({"id": "agt_1"}))
    client, sleeps = retrying(handler)
    assert (await client.get_agent("agt_1")).id == "agt_1"
    assert len(sleeps.waits) == 1


async def test_get_read_timeout_is_unavailable_not_outcome_unknown():
    handler = Recorder(httpx.ReadTimeout("late"))
    client, _ = retrying(handler)
    with pytest.raises(fe.FlowyteUnavailable) as caught:
        await client.wallet()
    assert type(caught.value) is fe.FlowyteUnavailable
    assert len(handler.requests) == 4


async def test_release_hold_is_retried():
    handler = Recorder(problem(503), httpx.ConnectError("x"), httpx.Response(204))
    client, sleeps = retrying(handler)
    await client.release_hold("rsv_1")
    assert len(handler.requests) == 3 and len(sleeps.waits) == 2
    assert all(r.method == "DELETE" for r in handler.requests)


async def _purchase(client: FlowyteClient):
    return await client.purchase("+14155550100", "rsv_1", idempotency_key="k")


async def _publish(client: FlowyteClient):
    return await client.publish("agt_1", idempotency_key="k")


async def _import(client: FlowyteClient):
    return await client.import_number("+14155550100")


async def _reserve(client: FlowyteClient):
    return await client.reserve("+14155550100")


MONEY_CALLS = [_purchase, _publish, _import, _reserve]


@pytest.mark.parametrize("call", MONEY_CALLS)
@pytest.mark.parametrize(
    "answer",
    [
        problem(500),
        problem(503),
        httpx.Response(429, json={"status": 429}, headers={"Retry-After": "1"}),
    ],
    ids=["500", "503", "429"],
)
async def test_posts_are_never_retried_on_error_status(call, answer):
    handler = Recorder(answer)
    client, sleeps = retrying(handler)
    with pytest.raises(fe.FlowyteAPIError):
        await call(client)
    assert len(handler.requests) == 1 and sleeps.waits == []


@pytest.mark.parametrize("call", MONEY_CALLS)
@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("late"),
        httpx.ReadError("Connection reset by peer"),
        httpx.RemoteProtocolError("gone"),
    ],
    ids=["read-timeout", "reset", "protocol"],
)
async def test_post_lost_answer_is_outcome_unknown(call, error):
    handler = Recorder(error)
    client, sleeps = retrying(handler)
    with pytest.raises(fe.OutcomeUnknown) as caught:
        await call(client)
    assert len(handler.requests) == 1 and sleeps.waits == []
    assert "do not retry" in caught.value.explain()


@pytest.mark.parametrize("call", MONEY_CALLS)
@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")],
    ids=["connect", "connect-timeout", "pool"],
)
async def test_post_connect_error_is_unavailable_not_unknown(call, error):
    handler = Recorder(error)
    client, sleeps = retrying(handler)
    with pytest.raises(fe.FlowyteUnavailable) as caught:
        await call(client)
    assert not isinstance(caught.value, fe.OutcomeUnknown)
    assert "Nothing was changed" in caught.value.explain()
    assert len(handler.requests) == 1 and sleeps.waits == []


# --- the key never leaks ----------------------------------------------------------------


def _echo_key(status: int):
    def answer(request: httpx.Request) -> httpx.Response:
        auth = request.headers["Authorization"]
        body = {
            "status": status,
            "code": "x",
            "title": auth,
            "detail": f"you sent {auth}",
            "instance": request.url.path,
            "authorization": auth,
            "balanceUsd": 1,
            "requiredUsd": 2,
        }
        return httpx.Response(status, json=body, headers={"Retry-After": "0"})

    return answer


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422, 429, 500, 503])
async def test_api_key_never_in_api_error_texts(status):
    handler = Recorder(_echo_key(status))
    client = connected(handler, retry=RetryPolicy(attempts=1))
    with pytest.raises(fe.FlowyteAPIError) as caught:
        await client.purchase("+14155550100", "rsv_1", idempotency_key="k")
    exc = caught.value
    for text in (str(exc), repr(exc), exc.explain(), str(exc.args)):
        assert KEY not in text


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError(f"refused Bearer {KEY}"), httpx.ReadTimeout(f"late {KEY}")],
    ids=["connect", "read"],
)
async def test_api_key_never_in_transport_error_texts(error):
    handler = Recorder(error)
    with pytest.raises(fe.FlowyteUnavailable) as caught:
        await connected(handler).purchase("+14155550100", "rsv_1", idempotency_key="k")
    exc = caught.value
    for text in (str(exc), repr(exc), exc.explain()):
        assert KEY not in text


# --- more retry rules ----------------------------------------------------------------------


async def test_release_hold_honours_retry_after_on_429():
    limited = httpx.Response(429, json={"status": 429}, headers={"Retry-After": "0.75"})
    handler = Recorder(limited, httpx.Response(204))
    client, sleeps = retrying(handler, rng=0.0)
    await client.release_hold("rsv_1")
    assert sleeps.waits == [0.75] and len(handler.requests) == 2


async def test_release_hold_retries_a_lost_answer_then_gives_up():
    """Cancelling a hold twice is harmless, so even a read timeout is retried."""
    handler = Recorder(httpx.ReadTimeout("late"))
    client, sleeps = retrying(handler, rng=0.0)
    with pytest.raises(fe.FlowyteUnavailable):
        await client.release_hold("rsv_1")
    assert len(handler.requests) == 4 and sleeps.waits == [0.0, 0.0, 0.0]


async def _assign(client: FlowyteClient):
    return await client.assign("num_1", "agt_1")


async def _unassign(client: FlowyteClient):
    return await client.unassign("num_1")


async def _release_number(client: FlowyteClient):
    return await client.release_number("num_1")


@pytest.mark.parametrize("call", [_assign, _unassign, _release_number])
async def test_routing_and_release_calls_are_not_retried(call):
    handler = Recorder(problem(503))
    client, sleeps = retrying(handler)
    with pytest.raises(fe.ServerError):
        await call(client)
    assert len(handler.requests) == 1 and sleeps.waits == []


@pytest.mark.parametrize("call", [_assign, _unassign, _release_number])
async def test_routing_and_release_calls_with_a_lost_answer_are_outcome_unknown(call):
    handler = Recorder(httpx.ReadTimeout("late"))
    client, _ = retrying(handler)
    with pytest.raises(fe.OutcomeUnknown):
        await call(client)
    assert len(handler.requests) == 1


async def test_a_4xx_on_a_get_is_not_retried():
    handler = Recorder(problem(404, "agent_not_found"))
    client, sleeps = retrying(handler)
    with pytest.raises(fe.NotFound):
        await client.get_agent("agt_x")
    assert len(handler.requests) == 1 and sleeps.waits == []


async def test_a_remote_protocol_error_on_a_get_is_retried_then_unavailable():
    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    handler = Recorder(dropped)
    client, sleeps = retrying(handler, rng=0.0)
    with pytest.raises(fe.FlowyteUnavailable) as caught:
        await client.list_agents()
    assert type(caught.value) is fe.FlowyteUnavailable
    assert len(handler.requests) == 4 and sleeps.waits == [0.0, 0.0, 0.0]


# --- answers numbot cannot read ------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"success": True}),
        httpx.Response(200, json={"success": True, "data": {"unexpected": "shape"}}),
        httpx.Response(200, content=b"<html>maintenance</html>"),
        httpx.Response(204),
    ],
    ids=["no-data", "wrong-shape", "html", "empty"],
)
async def test_an_unreadable_2xx_on_a_read_is_unexpected_answer(answer):
    handler = Recorder(answer)
    with pytest.raises(fe.UnexpectedAnswer) as caught:
        await connected(handler).get_number("num_1")
    assert "does not understand" in caught.value.explain()
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(204), httpx.Response(201, json={"success": True, "data": {"id": 5}})],
    ids=["empty", "wrong-shape"],
)
async def test_an_unreadable_2xx_on_a_purchase_is_outcome_unknown(answer):
    handler = Recorder(answer)
    with pytest.raises(fe.OutcomeUnknown):
        await connected(handler).purchase("+14155550100", "rsv_1", idempotency_key="k")
    assert len(handler.requests) == 1


async def test_a_float_literal_anywhere_in_a_wallet_parses_exactly():
    handler = Recorder(
        raw_ok(
            '{"balanceUsd": 0.30000000000000004, "autoReloadEnabled": true,'
            ' "autoReloadThresholdUsd": 1e1, "autoReloadAmountUsd": 20.10}'
        )
    )
    wallet = await connected(handler).wallet()
    assert wallet.balance_usd == Decimal("0.30000000000000004")
    assert str(wallet.balance_usd) == "0.30000000000000004"
    assert wallet.auto_reload_threshold_usd == Decimal("10")
    assert str(wallet.auto_reload_amount_usd) == "20.10"


# --- the key does not hide in the exception chain either -------------------------------------------


def _chain(exc: BaseException | None):
    """The exceptions a traceback would print (a suppressed context is not shown)."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return seen


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError(f"refused Bearer {KEY}"),
        httpx.ReadTimeout(f"late {KEY}"),
        httpx.RemoteProtocolError(f"gone {KEY}"),
        httpx.Response(401, json={"status": 401, "detail": f"bad key {KEY}"}),
        httpx.Response(201, json={"success": True, "data": {"echo": KEY}}),
    ],
    ids=["connect", "read", "protocol", "401", "unreadable"],
)
async def test_api_key_is_not_in_the_exception_chain(answer):
    handler = Recorder(answer)
    with pytest.raises(fe.FlowyteError) as caught:
        await connected(handler).purchase("+14155550100", "rsv_1", idempotency_key="k")
    for exc in _chain(caught.value):
        assert KEY not in str(exc) and KEY not in repr(exc)
        if isinstance(exc, fe.FlowyteError):
            assert KEY not in exc.explain()


# --- unreadable answers are errors, never "nothing" --------------------------------------------

HTML_PAGE = httpx.Response(
    200,
    content=b"<html><body>Down for maintenance</body></html>",
    headers={"content-type": "text/html"},
)
UNREADABLE_2XX = {
    "html": HTML_PAGE,
    "success-only": httpx.Response(200, json={"success": True}),
    "success-false": httpx.Response(200, json={"success": False}),
    "success-false-with-data": httpx.Response(200, json={"success": False, "data": []}),
    "json-array": httpx.Response(200, json=[]),
    "not-utf8": httpx.Response(200, content=b"\xff\xfe{}"),
}


async def _list_numbers(client: FlowyteClient):
    return await client.list_numbers()


async def _list_agents(client: FlowyteClient):
    return await client.list_agents()


async def _search(client: FlowyteClient):
    return await client.search(SearchQuery(area_code="415"))


async def _wallet(client: FlowyteClient):
    return await client.wallet()


async def _get_number(client: FlowyteClient):
    return await client.get_number("num_1")


async def _get_available(client: FlowyteClient):
    return await client.get_available("+14155550100")


async def _get_agent(client: FlowyteClient):
    return await client.get_agent("agt_1")


READS = [_list_numbers, _list_agents, _search, _wallet, _get_number, _get_available, _get_agent]


@pytest.mark.parametrize("call", READS)
@pytest.mark.parametrize("answer", UNREADABLE_2XX.values(), ids=UNREADABLE_2XX.keys())
async def test_a_read_that_cannot_be_read_is_unexpected_answer_not_empty(call, answer):
    """A 200 maintenance page used to be "you own no numbers": a lost purchase "did not happen"."""
    handler = Recorder(answer)
    with pytest.raises(fe.UnexpectedAnswer):
        await call(connected(handler))
    assert len(handler.requests) == 1  # an answer came: nothing to retry


@pytest.mark.parametrize("call", [_list_numbers, _list_agents, _search])
@pytest.mark.parametrize(
    "data", [{"unexpected": "shape"}, "numbers", 5, None], ids=["object", "text", "number", "null"]
)
async def test_a_list_whose_data_is_not_a_list_is_unexpected_answer(call, data):
    with pytest.raises(fe.UnexpectedAnswer):
        await call(connected(Recorder(ok(data, nextCursor=None))))


async def _release_hold(client: FlowyteClient):
    return await client.release_hold("rsv_1")


CHANGING_CALLS = [
    _purchase,
    _publish,
    _import,
    _reserve,
    _assign,
    _unassign,
    _release_number,
    _release_hold,
]


@pytest.mark.parametrize("call", CHANGING_CALLS)
@pytest.mark.parametrize(
    "answer",
    [UNREADABLE_2XX[k] for k in ("html", "success-false", "json-array", "not-utf8")],
    ids=["html", "success-false", "json-array", "not-utf8"],
)
async def test_a_change_whose_answer_cannot_be_read_is_outcome_unknown(call, answer):
    handler = Recorder(answer)
    client, sleeps = retrying(handler)
    with pytest.raises(fe.OutcomeUnknown):
        await call(client)
    assert len(handler.requests) == 1 and sleeps.waits == []


@pytest.mark.parametrize("call", [_purchase, _publish, _import, _reserve, _assign])
async def test_a_change_answered_without_data_is_outcome_unknown(call):
    with pytest.raises(fe.OutcomeUnknown):
        await call(connected(Recorder(httpx.Response(201, json={"success": True}))))


@pytest.mark.parametrize("call", [_release_number, _release_hold, _unassign])
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(204),
        httpx.Response(200, json={"success": True}),
        httpx.Response(202, json={"success": True, "data": None}),
    ],
    ids=["204", "success-only", "null-data"],
)
async def test_calls_that_need_no_data_accept_an_empty_success(call, answer):
    assert await call(connected(Recorder(answer))) is None


@pytest.mark.parametrize("call", [_purchase, _assign, _release_number])
async def test_a_408_on_a_change_is_outcome_unknown_not_a_refusal(call):
    """Flowyte (or a proxy) gave up waiting: the call may have been applied all the same."""
    handler = Recorder(problem(408, "request_timeout"))
    with pytest.raises(fe.OutcomeUnknown):
        await call(connected(handler))
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"status": 409, "code": "idempotency_in_progress"},
        {"status": 409, "type": "https://docs.flowyte.com/errors/idempotency_in_progress"},
    ],
    ids=["code", "type-only"],
)
async def test_a_replay_while_the_first_call_runs_is_still_processing_not_a_conflict(body):
    handler = Recorder(httpx.Response(409, json=body, headers={"Retry-After": "2"}))
    with pytest.raises(fe.StillProcessing) as caught:
        await _purchase(connected(handler))
    assert isinstance(caught.value, fe.OutcomeUnknown) and caught.value.retry_after == 2.0
    assert len(handler.requests) == 1


async def test_a_408_on_a_read_is_retried():
    handler = Recorder(problem(408), ok({"balanceUsd": 3}))
    client, sleeps = retrying(handler, rng=0.0)
    assert (await client.wallet()).balance_usd == Decimal("3")
    assert len(handler.requests) == 2 and sleeps.waits == [0.0]


# --- pagination: read where the contract allows, refuse what cannot be read --------------------

PAGES = [[{**OWNED, "id": "num_1"}], [{**OWNED, "id": "num_2"}, {**OWNED, "id": "num_3"}]]


def _paged(shape):
    """A handler serving PAGES with the cursor placed by `shape(items, cursor)`."""

    def answer(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("cursor", "0"))
        cursor = str(index + 1) if index + 1 < len(PAGES) else None
        return httpx.Response(200, json=shape(PAGES[index], cursor))

    return answer


READABLE_SHAPES = {
    "top-level": lambda items, c: {"success": True, "data": items, "nextCursor": c},
    "data-items": lambda items, c: {"success": True, "data": {"items": items, "nextCursor": c}},
    "pagination": lambda items, c: {
        "success": True,
        "data": items,
        "pagination": {"nextCursor": c, "hasMore": c is not None},
    },
    "meta": lambda items, c: {"success": True, "data": items, "meta": {"nextCursor": c}},
    "has-more-false-at-the-end": lambda items, c: (
        {"success": True, "data": items, "hasMore": False}
        if c is None
        else {"success": True, "data": items, "nextCursor": c, "hasMore": True}
    ),
    "empty-string-cursor-at-the-end": lambda items, c: {
        "success": True,
        "data": items,
        "nextCursor": c or "",
    },
    "no-cursor-on-the-short-last-page": lambda items, c: (
        {"success": True, "data": items}
        if c is None
        else {"success": True, "data": items, "nextCursor": c}
    ),
}


@pytest.mark.parametrize("shape", READABLE_SHAPES.values(), ids=READABLE_SHAPES.keys())
async def test_every_readable_cursor_placement_is_followed(shape):
    handler = Recorder(_paged(shape))
    numbers = await connected(handler).list_numbers()
    assert [n.id for n in numbers] == ["num_1", "num_2", "num_3"]
    assert [r.url.params.get("cursor") for r in handler.requests] == [None, "1"]


UNREADABLE_PAGES = {
    "no-cursor-on-a-full-page": {"success": True, "data": [OWNED] * 100},
    "no-cursor-on-a-short-page-with-another-member": {
        "success": True,
        "data": PAGES[0],
        "total": 40,
    },
    "has-more-without-cursor": {"success": True, "data": PAGES[0], "hasMore": True},
    "pagination-has-more-without-cursor": {
        "success": True,
        "data": PAGES[0],
        "pagination": {"hasMore": True},
    },
    "links-next": {
        "success": True,
        "data": PAGES[0],
        "nextCursor": None,
        "links": {"next": "https://flowyte.test/api/v1/numbers?page=2"},
    },
    "links-next-only": {"success": True, "data": PAGES[0], "links": {"next": "/numbers?p=2"}},
    "next-page-token": {"success": True, "data": PAGES[0], "nextPageToken": "abc"},
    "places-disagree": {
        "success": True,
        "data": PAGES[0],
        "nextCursor": None,
        "meta": {"nextCursor": "c2"},
    },
    "cursor-not-a-string": {"success": True, "data": PAGES[0], "nextCursor": 2},
    "has-more-false-with-a-cursor": {
        "success": True,
        "data": PAGES[0],
        "nextCursor": "c2",
        "hasMore": False,
    },
    "has-more-not-a-bool": {"success": True, "data": PAGES[0], "hasMore": "no"},
    "data-object-without-items": {"success": True, "data": {"numbers": PAGES[0]}},
    "pagination-not-an-object": {"success": True, "data": PAGES[0], "pagination": "done"},
}


@pytest.mark.parametrize("body", UNREADABLE_PAGES.values(), ids=UNREADABLE_PAGES.keys())
async def test_a_page_whose_end_cannot_be_read_is_never_that_was_everything(body):
    handler = Recorder(httpx.Response(200, json=body))
    with pytest.raises(fe.UnexpectedAnswer):
        await connected(handler).list_numbers()
    assert len(handler.requests) == 1


async def test_a_link_header_to_the_next_page_is_unreadable():
    answer = httpx.Response(
        200,
        json={"success": True, "data": PAGES[0], "nextCursor": None},
        headers={"Link": '<https://flowyte.test/api/v1/numbers?page=2>; rel="next"'},
    )
    with pytest.raises(fe.UnexpectedAnswer):
        await connected(Recorder(answer)).list_numbers()


async def test_a_bad_page_in_the_middle_fails_the_whole_list():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") is None:
            return ok(PAGES[0], nextCursor="c2")
        return HTML_PAGE

    with pytest.raises(fe.UnexpectedAnswer):
        await connected(Recorder(answer)).list_numbers()


async def test_there_is_no_page_cap_that_silently_truncates():
    """Today's lists can be long: 120 pages are all read (the old client stopped at 50)."""

    def answer(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("cursor", "0"))
        cursor = str(index + 1) if index < 119 else None
        return ok([{**OWNED, "id": f"num_{index}"}], nextCursor=cursor)

    handler = Recorder(answer)
    numbers = await connected(handler).list_numbers()
    assert len(numbers) == 120 and len(handler.requests) == 120


async def test_a_list_that_outlasts_the_budget_fails_instead_of_stopping_early(client_clock):

    def answer(request: httpx.Request) -> httpx.Response:
        client_clock.now += 1.0  # each page takes a second
        index = int(request.url.params.get("cursor", "0"))
        return ok([{**OWNED, "id": f"num_{index}"}], nextCursor=str(index + 1))

    handler = Recorder(answer)
    client, _ = retrying(handler, retry=RetryPolicy(budget=4.5))
    with pytest.raises(fe.FlowyteUnavailable, match="not finished"):
        await client.list_numbers()
    assert len(handler.requests) == 5  # the fifth page ended past the budget: no sixth


# --- reserve may answer only {id} ---------------------------------------------------------------


async def test_a_reservation_answered_with_only_its_id_is_a_hold():
    """The guide promises only `id`: numbot used to say "did not answer in time" here."""
    handler = Recorder(ok({"id": "rsv_9"}, status=201))
    hold = await connected(handler).reserve("+14155550100")
    assert hold.id == "rsv_9" and hold.e164 == "+14155550100"
    assert hold.setup_cost is None and hold.monthly_cost is None
    assert hold.expires_at is None and hold.status is None


@pytest.mark.parametrize(
    "data",
    [{}, {"id": ""}, {"id": None}, {"id": "rsv_1", "e164": "+14155550199"}],
    ids=["empty", "blank-id", "null-id", "another-number"],
)
async def test_a_reservation_without_a_usable_id_or_for_another_number_is_outcome_unknown(data):
    with pytest.raises(fe.OutcomeUnknown):
        await connected(Recorder(ok(data, status=201))).reserve("+14155550100")


# --- search digits --------------------------------------------------------------------------------


def test_vanity_letters_are_shown_as_typed_and_sent_as_keypad_digits():
    query = SearchQuery(area_code="415", contains="CALL", starts_with="1800FLOW", ends_with="HELP")
    assert query.params()["contains"] == "CALL"  # what people see
    sent = query.api_params()
    assert (sent["contains"], sent["startsWith"], sent["endsWith"]) == ("2255", "18003569", "4357")
    assert {k: v for k, v in sent.items() if k not in ("contains", "startsWith", "endsWith")} == {
        "areaCode": "415",
        "limit": "10",
        "bestEffort": "false",  # a pattern is matched strictly unless asked otherwise
    }


async def test_search_sends_digits_for_letters():
    handler = Recorder(ok([]))
    await connected(handler).search(SearchQuery(contains="SHOP", ends_with="12"))
    assert handler.last.url.params["contains"] == "7467"
    assert handler.last.url.params["endsWith"] == "12"


@pytest.mark.parametrize(
    ("letters", "digits"),
    [("ABC", "222"), ("DEF", "333"), ("PQRS", "7777"), ("TUV", "888"), ("WXYZ", "9999")],
)
def test_keypad(letters, digits):
    from bot.flowyte.models import keypad_digits

    assert keypad_digits(letters) == digits
    assert keypad_digits(letters.lower()) == digits


# --- 429: Retry-After, else RateLimit-Reset; clamped -------------------------------------------


def limited(**headers: str) -> httpx.Response:
    return httpx.Response(
        429,
        json={"status": 429, "type": "https://docs.flowyte.com/errors/rate_limited"},
        headers={"RateLimit-Limit": "100", "RateLimit-Remaining": "0", **headers},
    )


async def test_ratelimit_reset_is_the_wait_when_there_is_no_retry_after():
    handler = Recorder(limited(**{"RateLimit-Reset": "1.25"}), _search_ok())
    client, sleeps = retrying(handler, rng=1.0)
    await client.search(SearchQuery())
    assert sleeps.waits == [1.25]


async def test_retry_after_wins_over_ratelimit_reset():
    handler = Recorder(limited(**{"Retry-After": "0.5", "RateLimit-Reset": "3"}), _search_ok())
    client, sleeps = retrying(handler, rng=1.0)
    await client.search(SearchQuery())
    assert sleeps.waits == [0.5]


async def test_a_rate_limited_post_carries_the_ratelimit_reset_and_is_not_retried():
    handler = Recorder(limited(**{"RateLimit-Reset": "12"}))
    client, sleeps = retrying(handler)
    with pytest.raises(fe.RateLimited) as caught:
        await _purchase(client)
    assert caught.value.retry_after == 12.0 and caught.value.code == "rate_limited"
    assert "about 12 seconds" in caught.value.explain()
    assert sleeps.waits == [] and len(handler.requests) == 1


@pytest.mark.parametrize("header", ["Retry-After", "RateLimit-Reset"])
async def test_a_negative_wait_is_clamped_to_zero(header):
    """Mutation finding: an unclamped negative Retry-After survived the suite."""
    handler = Recorder(limited(**{header: "-5"}), _search_ok())
    client, sleeps = retrying(handler, rng=1.0)
    await client.search(SearchQuery())
    assert sleeps.waits == [0.0]
    handler = Recorder(limited(**{header: "-5"}))
    with pytest.raises(fe.RateLimited) as caught:
        await _purchase(connected(handler))
    assert caught.value.retry_after == 0.0


@pytest.mark.parametrize("value", ["1e999", "inf", "86400000"])
async def test_an_absurd_wait_is_capped_and_not_slept(value):
    handler = Recorder(limited(**{"Retry-After": value}))
    client, sleeps = retrying(handler)
    with pytest.raises(fe.RateLimited) as caught:
        await client.wallet()
    assert caught.value.retry_after == 3600.0
    assert sleeps.waits == [] and len(handler.requests) == 1  # far past the budget: give up


async def test_a_nan_wait_falls_back_to_backoff():
    handler = Recorder(limited(**{"Retry-After": "nan", "RateLimit-Reset": "nan"}), _search_ok())
    client, sleeps = retrying(handler, rng=1.0)
    await client.search(SearchQuery())
    assert sleeps.waits == [0.25]


# --- the whole-call bound the workflow relies on --------------------------------------------------


def test_max_call_seconds_is_the_budget_plus_one_exchange():
    client = FlowyteClient.connect(BASE, KEY, timeout=2.0, retry=RetryPolicy(budget=6.0))
    assert client.attempt_timeout == 2.0
    assert client.max_call_seconds == 8.0
    nested = FlowyteClient.connect(BASE, KEY, timeout=httpx.Timeout(4.0, connect=1.0))
    assert nested.attempt_timeout == 4.0
    plain = FlowyteClient(httpx.AsyncClient(timeout=None), attempt_timeout=1.5)
    assert plain.attempt_timeout == 1.5


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_a_nonsense_attempt_timeout_is_refused(bad):
    with pytest.raises(ValueError):
        FlowyteClient(httpx.AsyncClient(), attempt_timeout=bad)


# --- against the sandbox, in each documented variant -------------------------------------------

SANDBOX_KEY = "flowyte_sk_test_contract"


def sandbox_client(sandbox: SandboxFlowyte, key: str = SANDBOX_KEY) -> FlowyteClient:
    return FlowyteClient.connect(
        "http://sandbox/api/v1",
        key,
        transport=httpx.ASGITransport(app=sandbox.asgi()),
        retry=RetryPolicy(attempts=1),
    )


@pytest.fixture
async def sandbox_and_client() -> AsyncIterator[tuple[SandboxFlowyte, FlowyteClient]]:
    sandbox = SandboxFlowyte()
    client = sandbox_client(sandbox)
    yield sandbox, client
    await client.aclose()


async def test_type_only_problems_reach_numbot_as_the_same_errors(sandbox_and_client):
    sandbox, client = sandbox_and_client
    sandbox.configure(problems="type_only")
    e164 = sandbox.inventory_for("415")[0].e164
    hold = await client.reserve(e164)
    sandbox.reservations[hold.id].expires_at = sandbox.now()  # the hold lapses
    with pytest.raises(fe.Conflict) as caught:
        await client.purchase(e164, hold.id, idempotency_key="late-1")
    assert caught.value.code == "reservation_expired"
    assert "hold on that number lapsed" in caught.value.explain()
    with pytest.raises(fe.NotFound) as missing:
        await client.get_agent("agt_nope")
    assert missing.value.code == "agent_not_found"


async def test_an_id_only_hold_can_be_bought(sandbox_and_client):
    sandbox, client = sandbox_and_client
    sandbox.configure(reservations="id_only")
    e164 = sandbox.inventory_for("415")[1].e164
    hold = await client.reserve(e164)
    assert hold.e164 == e164 and hold.setup_cost is None and hold.expires_at is None
    owned = await client.purchase(e164, hold.id, idempotency_key="id-only-1")
    assert owned.e164 == e164


async def test_a_402_without_amounts_and_the_shortfall_from_the_wallet(sandbox_and_client):
    sandbox, client = sandbox_and_client
    sandbox.configure(amounts_on_402=False)
    sandbox.balance = Decimal("1.00")
    number = sandbox.inventory_for("415")[2]
    with pytest.raises(fe.InsufficientBalance) as caught:
        await client.purchase(number.e164, None, idempotency_key="poor-1")
    assert caught.value.shortfall is None
    balance = (await client.wallet()).balance_usd
    short = fe.InsufficientBalance.shortfall_of(balance, number.setup_cost + number.monthly_cost)
    assert short == Decimal("1.15")
    assert "short by $1.15." in caught.value.explain(shortfall=short)


async def test_the_sandboxs_rate_limit_reaches_numbot_as_a_wait(sandbox_and_client):
    sandbox, client = sandbox_and_client
    sandbox.configure(rate_limit=1, rate_window=30, retry_after=False)
    await client.wallet()
    with pytest.raises(fe.RateLimited) as caught:
        await client.wallet()
    assert caught.value.retry_after == 30.0  # from RateLimit-Reset: no Retry-After was sent


async def test_a_replay_while_the_purchase_runs_is_a_conflict_then_the_result(
    sandbox_and_client,
):
    sandbox, client = sandbox_and_client
    sandbox.configure(processing_delay=0.3, replays="conflict")
    e164 = sandbox.inventory_for("415")[3].e164
    first = asyncio.create_task(client.purchase(e164, None, idempotency_key="run-1"))
    deadline = asyncio.get_running_loop().time() + 5
    while not sandbox.idempotency_in_progress("run-1"):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    with pytest.raises(fe.StillProcessing) as caught:
        await client.purchase(e164, None, idempotency_key="run-1")
    assert isinstance(caught.value, fe.OutcomeUnknown)  # the workflow reconciles, never fails it
    assert caught.value.retry_after == 1.0 and "still carrying out" in caught.value.explain()
    owned = await first
    assert await client.purchase(e164, None, idempotency_key="run-1") == owned
    with pytest.raises(fe.Unprocessable) as mismatch:
        await client.purchase(e164, "rsv_other", idempotency_key="run-1")
    assert mismatch.value.code == "idempotency_mismatch"


async def test_lists_page_in_the_sandbox_and_are_read_whole(sandbox_and_client):
    sandbox, client = sandbox_and_client
    for n in range(7):
        await client.import_number(f"+1303555{n:04d}")
    sandbox.configure(page_size=2, pagination="pagination")
    assert [n.e164 for n in await client.list_numbers()] == [f"+1303555{n:04d}" for n in range(7)]


async def test_a_short_list_of_a_flowyte_that_gives_no_cursor_is_read_whole(sandbox_and_client):
    """The sandbox's `no_cursor` variant: `{"success": true, "data": [...]}` and nothing else.
    Three numbers are one short page (numbot asks for 100): the end."""
    sandbox, client = sandbox_and_client
    for n in range(3):
        await client.import_number(f"+1303555{n:04d}")
    sandbox.configure(pagination="no_cursor")
    assert [n.e164 for n in await client.list_numbers()] == [f"+1303555{n:04d}" for n in range(3)]


async def test_a_full_page_of_a_flowyte_that_gives_no_cursor_is_unreadable(sandbox_and_client):
    """The same variant with 101 numbers: the first page holds the 100 numbot asked for and
    says nothing of the 101st. It may be cut, so it is an UnexpectedAnswer, never 100."""
    sandbox, client = sandbox_and_client
    for n in range(101):
        await client.import_number(f"+1303555{n:04d}")
    sandbox.configure(pagination="no_cursor")
    with pytest.raises(fe.UnexpectedAnswer, match="does not say whether there is more"):
        await client.list_numbers()
    sandbox.configure(pagination="next_cursor")
    assert len(await client.list_numbers()) == 101


# --- the key's scopes at start --------------------------------------------------------------------


async def test_a_key_with_every_scope_passes_and_the_probes_change_nothing(sandbox_and_client):
    sandbox, client = sandbox_and_client
    check = await client.check_scopes()
    assert check.ok and check.missing == () and dict(check.unchecked) == {}
    assert not sandbox.reservations and not sandbox.numbers and not sandbox._replays
    assert all(agent.version == v for agent, v in zip(sandbox.agents.values(), (3, 1, 1)))


@pytest.mark.parametrize(
    "lacking",
    [("agents:read",), ("agents:write",), ("numbers:write", "agents:write"), REQUIRED_SCOPES],
)
async def test_the_missing_scopes_are_named(lacking):
    sandbox = SandboxFlowyte()
    sandbox.set_key_scopes(SANDBOX_KEY, set(REQUIRED_SCOPES) - set(lacking))
    client = sandbox_client(sandbox)
    check = await client.check_scopes()
    await client.aclose()
    assert set(check.missing) == set(lacking) and not check.ok
    assert dict(check.unchecked) == {}
    assert not sandbox.reservations


async def test_a_readonly_key_lacks_both_write_scopes():
    sandbox = SandboxFlowyte()
    client = sandbox_client(sandbox, "flowyte_sk_readonly_start")
    check = await client.check_scopes()
    await client.aclose()
    assert set(check.missing) == {"numbers:write", "agents:write"}


def _scope_answers(overrides):
    """A Flowyte where every probe proves its scope, except the ones `overrides` answers."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/")
        for route, response in overrides.items():  # a route ending in / is a prefix
            if path == route or (route.endswith("/") and path.startswith(route)):
                if isinstance(response, Exception):
                    raise response
                return httpx.Response(
                    response.status_code, headers=response.headers, content=response.content
                )
        if path == "numbers/reserve":
            return problem(400, "validation_error")
        if path.endswith("/publish"):
            return problem(404, "agent_not_found")
        if path == "billing/wallet":
            return ok({"balanceUsd": 1})
        return ok([], nextCursor=None)

    return answer


@pytest.mark.parametrize(
    ("overrides", "scope", "why"),
    [
        ({"billing/wallet": problem(503)}, "billing:read", "503"),
        ({"billing/wallet": HTML_PAGE}, "billing:read", "could not be read"),
        ({"agents": httpx.ConnectError("refused")}, "agents:read", "could not be asked"),
        ({"numbers/reserve": problem(409, "number_unavailable")}, "numbers:write", "409"),
        ({"numbers/reserve": httpx.ReadTimeout("late")}, "numbers:write", "could not be asked"),
        ({"agents/": problem(429)}, "agents:write", "429"),
    ],
)
async def test_an_inconclusive_probe_is_could_not_check_never_missing(overrides, scope, why):
    client = FlowyteClient.connect(
        BASE, KEY, transport=httpx.MockTransport(_scope_answers(overrides)), retry=RetryPolicy(1)
    )
    check = await client.check_scopes()
    assert check.missing == ()
    assert list(check.unchecked) == [scope] and why in check.unchecked[scope]
    assert not check.ok


@pytest.mark.parametrize(
    "overrides",
    [
        {"agents/": problem(400, "validation_error")},
        {"agents/": problem(422, "invalid_id")},
        {"numbers/reserve": problem(422, "unprocessable")},
    ],
)
async def test_a_validation_refusal_past_the_scope_check_proves_the_scope(overrides):
    client = FlowyteClient.connect(
        BASE, KEY, transport=httpx.MockTransport(_scope_answers(overrides)), retry=RetryPolicy(1)
    )
    assert (await client.check_scopes()).ok


async def test_read_probes_are_retried_and_write_probes_are_not():
    """A read changes nothing, so a 503 is worth another try; a write probe (however
    harmless its made-up body) is sent once, as every write numbot makes without a key."""
    seen: list[str] = []
    answer = _scope_answers({})
    failed: set[str] = set()

    def flaky(request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path.removeprefix('/api/v1/')}"
        seen.append(route)
        if route not in failed:  # every route's first call is a 503
            failed.add(route)
            return problem(503)
        return answer(request)

    client = FlowyteClient.connect(
        BASE,
        KEY,
        transport=httpx.MockTransport(flaky),
        retry=RetryPolicy(attempts=2, base_delay=0.0),
    )
    check = await client.check_scopes()
    await client.aclose()
    writes = [route for route in seen if not route.startswith("GET ")]
    assert writes and len(writes) == len(set(writes))  # each write probe once
    reads = [route for route in seen if route.startswith("GET ")]
    assert len(reads) == 2 * len(set(reads))  # each read probe again after its 503
    assert check.missing == ()
    assert sorted(check.unchecked) == sorted(s for s in REQUIRED_SCOPES if s.endswith(":write"))


async def test_a_refused_key_is_could_not_check_for_every_scope():
    client = connected(Recorder(problem(401, "unauthorized")))
    check = await client.check_scopes()
    assert check.missing == ()
    assert set(check.unchecked) == set(REQUIRED_SCOPES)
    assert all("401" in why for why in check.unchecked.values())


async def test_the_probes_send_what_they_say():
    handler = Recorder(_scope_answers({}))
    check = await connected(handler).check_scopes()
    assert check.ok
    sent = {(r.method, r.url.path.removeprefix("/api/v1/")): r for r in handler.requests}
    assert sent[("GET", "numbers")].url.params["limit"] == "1"
    assert sent[("GET", "agents")].url.params["limit"] == "1"
    assert ("GET", "billing/wallet") in sent
    assert json.loads(sent[("POST", "numbers/reserve")].content) == {}
    publish = [r for (m, p), r in sent.items() if p.endswith("/publish")]
    assert len(publish) == 1 and publish[0].headers["Idempotency-Key"]
    assert "/agents/agt_numbot_scope_check_" in publish[0].url.path
    assert len(handler.requests) == 5


# --- ids are one path segment; wrongly shaped data from a change is an unknown outcome --------


ID_CALLS = [
    ("GET", lambda c, x: c.get_number(x), "numbers/{}", OWNED),
    ("POST", lambda c, x: c.assign(x, "agt_1"), "numbers/{}/assign", OWNED),
    ("DELETE", lambda c, x: c.unassign(x), "numbers/{}/assign", OWNED),
    ("DELETE", lambda c, x: c.release_number(x), "numbers/{}", None),
    ("GET", lambda c, x: c.get_agent(x), "agents/{}", {"id": "agt_1", "name": "A", "version": 1}),
    (
        "POST",
        lambda c, x: c.publish(x, idempotency_key="k"),
        "agents/{}/publish",
        {"id": "ver_1", "agentId": "agt_1", "version": 1},
    ),
    ("GET", lambda c, x: c.get_available(x), "numbers/available/{}", {"e164": "+14155550100"}),
]


@pytest.mark.parametrize(("method", "call", "path", "data"), ID_CALLS)
async def test_an_id_with_a_slash_stays_one_path_segment(method, call, path, data):
    """An id is never a path: `num/../../billing` must not reach another endpoint."""
    handler = Recorder(ok(data) if data is not None else httpx.Response(204))
    await call(connected(handler), "x/../../billing")
    expected = "/api/v1/" + path.format("x%2F..%2F..%2Fbilling")
    assert handler.last.method == method
    assert handler.last.url.raw_path == expected.encode()


CHANGES_WITH_DATA = [_purchase, _publish, _import, _reserve]


@pytest.mark.parametrize(
    "call",
    [
        *CHANGES_WITH_DATA,
        lambda c: c.assign("num_1", "agt_1"),
        lambda c: c.unassign("num_1"),
    ],
    ids=["purchase", "publish", "import", "reserve", "assign", "unassign"],
)
async def test_a_change_answered_with_data_of_the_wrong_shape_is_outcome_unknown(call):
    """The change may have happened: the caller must not be told "nothing was done"."""
    handler = Recorder(ok({"unexpected": "shape"}, status=201))
    with pytest.raises(fe.OutcomeUnknown):
        await call(connected(handler))


async def test_connect_takes_the_base_url_with_or_without_a_trailing_slash():
    for base in (BASE, BASE + "/"):
        handler = Recorder(ok(OWNED))
        client = FlowyteClient.connect(base, KEY, transport=httpx.MockTransport(handler))
        await client.get_number("num_1")
        assert handler.last.url.raw_path == b"/api/v1/numbers/num_1"


async def test_connect_keeps_the_retry_policy_and_the_timeout_it_is_given():
    """The quiet window is sized from max_call_seconds: it must be the client's real bound."""
    policy = RetryPolicy(attempts=1, budget=2.0)
    client = FlowyteClient.connect(
        BASE, KEY, transport=httpx.MockTransport(Recorder(ok(OWNED))), timeout=4, retry=policy
    )
    assert client.attempt_timeout == 4
    assert client.max_call_seconds == 6.0
    handler = Recorder(problem(503))
    client = FlowyteClient.connect(BASE, KEY, transport=httpx.MockTransport(handler), retry=policy)
    with pytest.raises(fe.ServerError):
        await client.get_number("num_1")
    assert len(handler.requests) == 1  # attempts=1: not retried


def test_a_client_whose_http_has_no_timeout_still_bounds_each_exchange():
    http = httpx.AsyncClient(timeout=None)
    assert FlowyteClient(http).attempt_timeout == 10.0


async def test_a_page_is_retried_only_within_the_whole_listings_budget(client_clock):
    """The budget bounds the whole listing, every page's retries included: max_call_seconds
    (which the quiet window must exceed) holds for a list too."""

    unavailable = iter([True])

    def answer(request: httpx.Request) -> httpx.Response:
        client_clock.now += 1.0  # each page takes a second
        index = int(request.url.params.get("cursor", "0"))
        if index == 3 and next(unavailable, False):
            return httpx.Response(503, json={"status": 503}, headers={"Retry-After": "1"})
        return ok(
            [{**OWNED, "id": f"num_{index}"}], nextCursor=str(index + 1) if index < 3 else None
        )

    handler = Recorder(answer)
    client, sleeps = retrying(handler, retry=RetryPolicy(budget=4.5))
    with pytest.raises(fe.ServerError):  # 4 s spent; another second of wait would pass 4.5
        await client.list_numbers()
    assert len(handler.requests) == 4 and sleeps.waits == []


def test_connect_gives_up_on_a_connection_within_three_seconds_of_a_longer_budget():
    """An unreachable Flowyte costs at most 3 s per attempt, not the whole call budget."""
    client = FlowyteClient.connect(BASE, KEY, timeout=10)
    assert client._http.timeout.connect == 3.0 and client._http.timeout.read == 10
    assert FlowyteClient.connect(BASE, KEY, timeout=2)._http.timeout.connect == 2


# --- owned_pages: a walk with no overall cap, and an early exit ------------------------------


async def test_owned_pages_walks_past_the_list_budget_to_the_stated_end(client_clock):

    def answer(request: httpx.Request) -> httpx.Response:
        client_clock.now += 1.0  # each page takes a second: 20 pages, far past the 4.5 s budget
        index = int(request.url.params.get("cursor", "0"))
        more = str(index + 1) if index < 19 else None
        return ok(
            [{**OWNED, "id": f"num_{index}", "e164": f"+1415555{index:04d}"}], nextCursor=more
        )

    handler = Recorder(answer)
    client, _ = retrying(handler, retry=RetryPolicy(budget=4.5))
    pages = [page async for page in client.owned_pages(proof=True)]
    assert len(pages) == 20 and len(handler.requests) == 20
    assert pages[-1][0].id == "num_19"


async def test_owned_pages_stops_asking_when_the_caller_stops():
    def answer(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("cursor", "0"))
        return ok(
            [{**OWNED, "id": f"num_{index}", "e164": f"+1415555{index:04d}"}],
            nextCursor=str(index + 1),
        )

    handler = Recorder(answer)
    client, _ = retrying(handler)
    found = None
    async for page in client.owned_pages():
        if any(n.e164 == "+14155550002" for n in page):
            found = page[0]
            break
    assert found is not None and found.id == "num_2"
    assert len(handler.requests) == 3  # pages 0, 1, 2 and not one more


async def test_owned_pages_with_proof_refuses_a_list_without_a_stated_end():
    handler = Recorder(ok([OWNED]))  # a short page, no cursor information at all
    client, _ = retrying(handler)
    with pytest.raises(fe.UnexpectedAnswer):
        [page async for page in client.owned_pages(proof=True)]


async def test_list_numbers_with_proof_refuses_a_list_without_a_stated_end_too():
    client, _ = retrying(Recorder(ok([OWNED])))
    assert [n.id for n in await client.list_numbers()] == [OWNED["id"]]  # enough to show
    with pytest.raises(fe.UnexpectedAnswer):
        await client.list_numbers(proof=True)  # not enough to prove an absence
    stated, _ = retrying(Recorder(ok([OWNED], nextCursor=None)))
    assert [n.id for n in await stated.list_numbers(proof=True)] == [OWNED["id"]]


async def test_owned_pages_refuses_a_cursor_that_comes_round_again():
    handler = Recorder(ok([OWNED], nextCursor="a"), ok([OWNED], nextCursor="a"))
    client, _ = retrying(handler)
    with pytest.raises(fe.UnexpectedAnswer, match="came round"):
        [page async for page in client.owned_pages()]

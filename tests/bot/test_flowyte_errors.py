"""The Flowyte error hierarchy: mapping, explain() sentences, and leniency."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flowyte import errors as fe
from bot.flowyte.client import FlowyteClient


def make(
    status: int, body: object = None, *, retry_after: float | None = None
) -> fe.FlowyteAPIError:
    return fe.error_for(
        fe.Problem.from_body(status, body), retry_after=retry_after, method="POST", path="p"
    )


def test_hierarchy():
    assert issubclass(fe.OutcomeUnknown, fe.FlowyteUnavailable)
    assert issubclass(fe.FlowyteUnavailable, fe.FlowyteError)
    assert issubclass(fe.FlowyteAPIError, fe.FlowyteError)
    assert not issubclass(fe.OutcomeUnknown, fe.FlowyteAPIError)
    for cls in (
        fe.InvalidRequest,
        fe.BadApiKey,
        fe.InsufficientBalance,
        fe.Forbidden,
        fe.NotFound,
        fe.Conflict,
        fe.Unprocessable,
        fe.RateLimited,
        fe.ServerError,
    ):
        assert issubclass(cls, fe.FlowyteAPIError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, fe.InvalidRequest),
        (401, fe.BadApiKey),
        (402, fe.InsufficientBalance),
        (403, fe.Forbidden),
        (404, fe.NotFound),
        (409, fe.Conflict),
        (422, fe.Unprocessable),
        (429, fe.RateLimited),
        (500, fe.ServerError),
        (501, fe.ServerError),
        (599, fe.ServerError),
        (405, fe.FlowyteAPIError),
        (410, fe.FlowyteAPIError),
    ],
)
def test_error_for_maps_status(status, cls):
    exc = make(status, {"code": "c"})
    assert type(exc) is cls
    assert exc.status == status and exc.code == "c"
    assert str(exc) == f"POST p -> {status} c"


def test_str_without_code_has_no_trailing_space():
    assert str(make(500)) == "POST p -> 500"


def test_rate_limited_keeps_retry_after():
    exc = make(429, {}, retry_after=2.4)
    assert isinstance(exc, fe.RateLimited) and exc.retry_after == 2.4
    assert "about 2 seconds" in exc.explain()
    assert "about 1 seconds" in make(429, {}, retry_after=0.2).explain()


def test_invalid_request_lists_every_field():
    exc = make(
        400,
        {
            "code": "validation_error",
            "errors": [{"field": "e164", "message": "must be E.164"}, {"field": "agentId"}],
        },
    )
    assert exc.explain() == "Flowyte rejected the request: e164: must be E.164; agentId: invalid."


def test_bad_api_key_points_at_the_admin():
    text = make(401).explain()
    assert "FLOWYTE_API_KEY" in text and "not your fault" in text


@pytest.mark.parametrize(
    ("extra", "shortfall", "words"),
    [
        ({"balanceUsd": Decimal("1.00"), "requiredUsd": Decimal("2.15")}, Decimal("1.15"), "$1.15"),
        ({"balanceUsd": "0", "requiredUsd": "1234.5"}, Decimal("1234.5"), "$1,234.50"),
        ({"balanceUsd": 3, "requiredUsd": 2}, Decimal("-1"), "short. Top"),  # not short: no amount
    ],
)
def test_insufficient_balance(extra, shortfall, words):
    exc = make(402, {"code": "insufficient_balance", **extra})
    assert exc.shortfall == shortfall
    assert words in exc.explain()
    assert "Flowyte dashboard" in exc.explain()


def test_insufficient_balance_refuses_float_extension_amounts():
    # Floats never reach here through the client (parse_float=Decimal); if one did, no guess.
    exc = make(402, {"balanceUsd": 1.0, "requiredUsd": 2.15})
    assert exc.shortfall is None


def test_forbidden_accepts_scope_or_required_scope():
    assert "`billing:read`" in make(403, {"scope": "billing:read"}).explain()
    assert "`numbers:write`" in make(403, {"requiredScope": "numbers:write"}).explain()


def test_unavailable_and_unknown_explain_differently():
    assert "Nothing was changed" in fe.FlowyteUnavailable("x").explain()
    unknown = fe.OutcomeUnknown("x").explain()
    assert "cannot tell yet" in unknown and "Nothing was changed" not in unknown
    assert fe.FlowyteError("x").explain()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.decimals(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
problem_bodies = st.fixed_dictionaries(
    {},
    optional={
        "status": json_values,
        "code": json_values,
        "title": json_values,
        "detail": json_values,
        "errors": st.none() | st.lists(json_values, max_size=3),
        "balanceUsd": json_values,
        "requiredUsd": json_values,
        "requiredScope": json_values,
        "x": json_values,
    },
)


@settings(max_examples=60, deadline=None)
@given(status=st.integers(min_value=300, max_value=599), body=problem_bodies | json_values)
def test_any_body_gives_an_error_that_explains(status, body):
    exc = make(status, body, retry_after=None)
    text = exc.explain()
    assert isinstance(text, str) and text
    assert exc.status == status


@pytest.mark.parametrize("errors", [True, 5, 1.5])
async def test_a_malformed_errors_member_still_gives_a_flowyte_error(errors):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"status": 400, "code": "validation_error", "errors": errors}
        )

    client = FlowyteClient.connect(
        "https://flowyte.test/api/v1", "flowyte_sk_test_x", transport=httpx.MockTransport(answer)
    )
    with pytest.raises(fe.InvalidRequest):
        await client.reserve("+14155550100")


def test_explain_never_raises_even_for_an_absurd_amount():
    exc = make(402, {"balanceUsd": Decimal("0"), "requiredUsd": Decimal("1E+30")})
    assert "dashboard" in exc.explain()


async def test_402_with_an_absurd_required_amount_still_explains():
    def insufficient(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            402,
            content=b'{"status": 402, "code": "insufficient_balance",'
            b' "balanceUsd": 0, "requiredUsd": 1e999999999}',
            headers={"content-type": "application/problem+json"},
        )

    client = FlowyteClient.connect(
        "https://flowyte.test/api/v1",
        "flowyte_sk_test_x",
        transport=httpx.MockTransport(insufficient),
    )
    with pytest.raises(fe.InsufficientBalance) as caught:
        await client.purchase("+14155550100", "rsv_1", idempotency_key="k")
    assert "dashboard" in caught.value.explain()


@given(
    balance=st.decimals(allow_nan=False, allow_infinity=False, places=2),
    required=st.decimals(allow_nan=False, allow_infinity=False, places=2),
)
@settings(max_examples=80, deadline=None)
def test_shortfall_is_exact_for_ordinary_amounts(balance, required):
    exc = make(402, {"balanceUsd": balance, "requiredUsd": required})
    assert exc.shortfall == required - balance
    assert "dashboard" in exc.explain()

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
    assert "about 1 second and" in make(429, {}, retry_after=0.2).explain()


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
    for absurd in ("1E+12", "1E+30", "1E+5000"):
        exc = make(402, {"balanceUsd": Decimal("0"), "requiredUsd": Decimal(absurd)})
        assert exc.explain() == make(402, {}).explain()  # what to do, not a wall of digits
    big = make(402, {"balanceUsd": Decimal("0"), "requiredUsd": Decimal("999999999999")})
    assert "short by $999,999,999,999.00." in big.explain()  # what to do, without the amount


def test_a_named_missing_scope_is_said_in_full():
    assert make(403, {"requiredScope": "numbers:write"}).explain() == (
        "numbot's Flowyte key lacks the `numbers:write` scope. Ask your numbot admin to "
        "issue a key with it."
    )


def test_a_long_list_of_field_errors_is_cut_cleanly():
    errors = [{"field": f"f{i}", "message": "is wrong " * 12} for i in range(10)]
    text = make(400, {"errors": errors}).explain()
    assert text.startswith("Flowyte rejected the request: f0: is wrong") and text.endswith("….")
    assert not text.removesuffix("….").endswith(" ")  # no space left before the ellipsis
    assert len(text) <= len("Flowyte rejected the request: .") + 2 * fe.TEXT_LIMIT


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
    assert caught.value.explain().startswith("The Flowyte wallet is short. Top it up")


@given(
    balance=st.decimals(allow_nan=False, allow_infinity=False, places=2),
    required=st.decimals(allow_nan=False, allow_infinity=False, places=2),
)
@settings(max_examples=80, deadline=None)
def test_shortfall_is_exact_for_ordinary_amounts(balance, required):
    exc = make(402, {"balanceUsd": balance, "requiredUsd": required})
    assert exc.shortfall == required - balance
    assert "dashboard" in exc.explain()


# --- the code may live only in `type` ------------------------------------------------------------

TYPE_BASE = "https://docs.flowyte.com/errors/"
EVERY_CLASS = [
    (400, "validation_error", fe.InvalidRequest, "rejected"),
    (401, "unauthorized", fe.BadApiKey, "FLOWYTE_API_KEY"),
    (402, "insufficient_balance", fe.InsufficientBalance, "wallet is short"),
    (403, "insufficient_scope", fe.Forbidden, "does not allow"),
    (404, "reservation_not_found", fe.NotFound, "no longer knows that hold"),
    (409, "reservation_expired", fe.Conflict, "hold on that number lapsed"),
    (409, "no_published_version", fe.Conflict, "never been published"),
    (422, "reservation_mismatch", fe.Unprocessable, "different number"),
    (429, "rate_limited", fe.RateLimited, "rate-limiting"),
    (503, "service_unavailable", fe.ServerError, "internal error"),
    (418, "teapot", fe.FlowyteAPIError, "refused that (418)"),
]
SHAPES = {
    "code": lambda code: {"type": "about:blank", "code": code},
    "type-only": lambda code: {"type": TYPE_BASE + code},
    "type-fragment": lambda code: {"type": "https://docs.flowyte.com/resources/errors#" + code},
    "type-trailing-slash": lambda code: {"type": TYPE_BASE + code + "/"},
    "relative-type": lambda code: {"type": "/errors/" + code},
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize(("status", "code", "cls", "words"), EVERY_CLASS)
async def test_every_error_class_reads_its_code_from_code_or_type(status, code, cls, words, shape):
    body = {"title": "t", "status": status, **shape(code)}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, json=body, headers={"content-type": "application/problem+json"}
        )

    client = FlowyteClient.connect(
        "https://flowyte.test/api/v1", "flowyte_sk_test_x", transport=httpx.MockTransport(answer)
    )
    with pytest.raises(cls) as caught:
        await client.purchase("+14155550100", "rsv_1", idempotency_key="k")
    exc = caught.value
    assert type(exc) is cls and exc.code == code
    assert words in exc.explain()


def test_code_wins_over_type():
    assert make(409, {"code": "reservation_expired", "type": TYPE_BASE + "other"}).code == (
        "reservation_expired"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"type": "about:blank"},
        {"type": ""},
        {"type": "https://docs.flowyte.com/"},
        {"type": 7},
        {"type": TYPE_BASE + "has%20space"},
        {"code": "a sentence with spaces"},
        {"code": "flowyte_sk_live_SECRETSECRET"},
        {"type": TYPE_BASE + "flowyte_sk_live_SECRETSECRET"},
        {"code": {"nested": 1}},
        {"code": True},
        {},
    ],
)
def test_no_code_rather_than_a_wrong_one(body):
    exc = make(409, body)
    assert exc.code is None
    assert "conflict" in exc.explain()
    assert "SECRET" not in str(exc)


# --- 402 without amounts ------------------------------------------------------------------------


def test_402_without_amounts_explains_and_lets_the_caller_supply_the_shortfall():
    exc = make(402, {"type": TYPE_BASE + "insufficient_balance", "status": 402})
    assert isinstance(exc, fe.InsufficientBalance) and exc.code == "insufficient_balance"
    assert exc.shortfall is None
    assert exc.explain() == (
        "The Flowyte wallet is short. Top it up in the Flowyte dashboard "
        "(Billing → Wallet; a card payment numbot cannot make), then request again."
    )
    short = fe.InsufficientBalance.shortfall_of(Decimal("1.00"), Decimal("1.00") + Decimal("1.15"))
    assert short == Decimal("1.15")
    assert "short by $1.15." in exc.explain(shortfall=short)


def test_the_problems_own_amounts_win_over_the_callers():
    exc = make(402, {"balanceUsd": Decimal("1"), "requiredUsd": Decimal("3")})
    assert "by $2.00" in exc.explain(shortfall=Decimal("9"))


@pytest.mark.parametrize(("balance", "cost"), [("5", "2.15"), ("2.15", "2.15")])
def test_no_shortfall_when_the_wallet_now_covers_the_cost(balance, cost):
    assert fe.InsufficientBalance.shortfall_of(Decimal(balance), Decimal(cost)) is None
    assert "short. Top" in make(402, {}).explain(shortfall=None)


# --- Flowyte's text never carries a secret or markup out -------------------------------------------

SECRET = "flowyte_sk_live_ECHOEDSECRET0123456789"


def _echoing_problem(status: int) -> dict[str, object]:
    return {
        "type": TYPE_BASE + "insufficient_scope",
        "title": f"Bearer {SECRET}",
        "status": status,
        "detail": f"The key {SECRET} lacks a scope.\n*Approved* by <@U0BOSS> <!channel>",
        "instance": f"/api/v1/numbers/reserve?key={SECRET}",
        "errors": [
            {"field": "e164", "message": f"key {SECRET} cannot reserve"},
            {"field": f"x{SECRET}", "message": "\u202e\u200bdesrever\n:white_check_mark: *paid*"},
        ],
        "requiredScope": f"numbers:write {SECRET}",
    }


@pytest.mark.parametrize("status", [400, 402, 403, 404, 409, 422, 429, 500])
def test_an_echoed_key_reaches_no_text_numbot_shows_or_keeps(status):
    exc = make(status, _echoing_problem(status))
    p = exc.problem
    texts = [exc.explain(), str(exc), repr(exc), p.title, p.detail, p.type, p.instance]
    texts += [part for pair in p.errors for part in pair]
    for text in texts:
        assert SECRET not in (text or "")


def test_a_scope_that_is_not_shaped_like_a_scope_is_not_shown():
    exc = make(403, _echoing_problem(403))
    assert isinstance(exc, fe.Forbidden) and exc.required_scope is None
    assert exc.explain() == (
        "Flowyte does not allow numbot's key to do that (a missing scope or a reserved "
        "endpoint). Ask your numbot admin."
    )
    for scope in ("numbers:write\n*x*", "NUMBERS:WRITE", "numbers", "<@U1>:x", "a:b:c"):
        assert "`" not in make(403, {"requiredScope": scope}).explain()


def test_flowyte_text_is_one_quiet_line():
    exc = make(400, _echoing_problem(400))
    text = exc.explain()
    assert "\n" not in text and "\u202e" not in text and "\u200b" not in text
    for mark in ("<@", "<!", "*", "`", "&", "|"):
        assert mark not in text
    assert "(redacted)" in text
    assert exc.problem.detail is not None and "\n" not in exc.problem.detail


def test_long_flowyte_text_is_capped():
    exc = make(400, {"errors": [{"field": "f" * 500, "message": "m" * 5000}] * 30})
    assert len(exc.explain()) < 400
    assert exc.explain().endswith("….")
    assert len(make(400, {"detail": "d" * 10_000}).problem.detail or "") <= 300


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("must be\tE.164\r\n", "must be E.164"),
        ("  ", None),
        ("reservation_id is required", "reservation_id is required"),
        ("a\u2028b\u0000c", "a b c"),
        (None, None),
        (["list"], None),
    ],
)
def test_flowyte_text(raw, shown):
    assert fe.flowyte_text(raw) == shown


def test_flowyte_text_is_capped_at_exactly_the_limit():
    assert fe.flowyte_text("x" * fe.TEXT_LIMIT) == "x" * fe.TEXT_LIMIT  # fits: whole
    cut = fe.flowyte_text("x" * (fe.TEXT_LIMIT + 1))
    assert cut == "x" * (fe.TEXT_LIMIT - 1) + "…" and len(cut) == fe.TEXT_LIMIT


def test_a_shortfall_of_cents_is_still_said():
    assert fe.InsufficientBalance.shortfall_of(Decimal("1.00"), Decimal("1.50")) == Decimal("0.50")
    exc = make(402, {"balanceUsd": Decimal("1.15"), "requiredUsd": Decimal("1.65")})
    assert "short by $0.50." in exc.explain(shortfall=None)
    assert "short by $0.50." in make(402, {}).explain(shortfall=Decimal("0.50"))


def test_what_a_problem_keeps_is_cleaned_and_bounded():
    """Everything from a problem body may reach an approver's screen: each part is cleaned
    and capped (a field name at 40, its message at 120, ten of them, the detail at 300)."""
    body = {
        "title": "Bad\nrequest *now*",
        "detail": "d" * 400,
        "type": "https://docs.flowyte.com/errors/validation",
        "instance": "/requests/abc-123",
        "errors": [{"field": "f" * 50, "message": "m" * 130}, {"field": "x0"}]
        + [{"field": f"x{i}", "message": "m" * 100} for i in range(1, 11)],
    }
    problem = fe.Problem.from_body(400, body)
    assert problem.title == "Bad request now"
    assert problem.detail == "d" * 299 + "…"
    assert problem.type == "https://docs.flowyte.com/errors/validation"
    assert problem.instance == "/requests/abc-123"
    assert problem.code == "validation"  # the type's last segment
    assert len(problem.errors) == 10
    assert problem.errors[0] == ("f" * 39 + "…", "m" * 119 + "…")
    assert problem.errors[1] == ("x0", "invalid")
    explained = fe.InvalidRequest(problem).explain()
    listed = explained.removeprefix("Flowyte rejected the request: ").removesuffix(".")
    assert len(listed) == 2 * fe.TEXT_LIMIT and listed.endswith("…")


def test_a_list_of_errors_is_cut_only_past_twice_the_text_limit():
    def explained(length):
        problem = fe.Problem(status=400, errors=(("a", "b" * (length - 3)),))  # "a: " + b…
        return fe.InvalidRequest(problem).explain()

    assert (
        explained(2 * fe.TEXT_LIMIT)
        == f"Flowyte rejected the request: a: {'b' * (2 * fe.TEXT_LIMIT - 3)}."
    )
    cut = explained(2 * fe.TEXT_LIMIT + 1)
    assert cut == f"Flowyte rejected the request: a: {'b' * (2 * fe.TEXT_LIMIT - 4)}…."


@pytest.mark.parametrize(
    "code_type", ["https://x.example/errors#hold_expired", "https://x.example/errors/hold_expired/"]
)
def test_a_code_is_the_types_fragment_or_last_segment(code_type):
    assert fe.problem_code(None, code_type) == "hold_expired"


def test_the_shortfall_the_caller_worked_out_is_used_when_flowyte_says_nothing_is_missing():
    even = make(402, {"balanceUsd": Decimal("2.15"), "requiredUsd": Decimal("2.15")})
    assert "short by $0.50." in even.explain(shortfall=Decimal("0.50"))
    assert "short. Top it up" in make(402, {}).explain(shortfall=Decimal(0))  # never "by $0.00"


# The words people read on Slack when Flowyte says no: pinned, so that changing one is a
# decision (and the mutation run sees every sentence used).
@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            fe.FlowyteError("x"),
            "Flowyte could not do that. Try again in a minute; if it keeps failing, tell your numbot admin.",
        ),
        (
            fe.OutcomeUnknown("x"),
            "Flowyte's answer was lost or could not be read, so numbot cannot tell yet whether it happened. numbot will check and report back; do not retry by hand.",
        ),
        (
            fe.UnexpectedAnswer("x"),
            "Flowyte answered in a way numbot does not understand, so nothing more was done. Tell your numbot admin (the log has the details).",
        ),
        (make(400, {}), "Flowyte rejected the request as invalid. Check the values and try again."),
        (
            make(401, {}),
            "numbot's Flowyte API key was refused. This is not your fault: ask your numbot admin to check FLOWYTE_API_KEY.",
        ),
        (
            make(402, {}),
            "The Flowyte wallet is short. Top it up in the Flowyte dashboard (Billing → Wallet; a card payment numbot cannot make), then request again.",
        ),
        (
            make(403, {}),
            "Flowyte does not allow numbot's key to do that (a missing scope or a reserved endpoint). Ask your numbot admin.",
        ),
        (make(404, {}), "Flowyte has no such item in this organization. Check the number or id."),
        (
            make(404, {"code": "reservation_not_found"}),
            "Flowyte no longer knows that hold. Search again and reserve a number.",
        ),
        (
            make(409, {}),
            "Flowyte reports a conflict: the item changed meanwhile. Look again and retry.",
        ),
        (
            make(409, {"code": "something_new"}),
            "Flowyte reports a conflict: the item changed meanwhile. Look again and retry.",
        ),
        (
            make(409, {"code": "reservation_expired"}),
            "The hold on that number lapsed. Reserve it again and request again.",
        ),
        (
            make(409, {"code": "no_published_version"}),
            "That agent has never been published; publish it first.",
        ),
        (make(409, {"code": "already_exists"}), "That number is already on this Flowyte account."),
        (make(422, {}), "Flowyte could not process that request as sent. Check it and try again."),
        (make(429, {}), "Flowyte is rate-limiting this organization. Wait a minute and try again."),
        (make(500, {}), "Flowyte had an internal error. Try again in a few minutes."),
    ],
)
def test_each_refusal_is_explained_in_these_words(error, words):
    assert error.explain() == words

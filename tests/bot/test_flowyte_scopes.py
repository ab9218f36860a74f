"""The pure rules of bot/flowyte/scopes.py: the probes and what each outcome proves
(test_flowyte_client.py runs check_scopes() itself against the sandbox and scripted answers)."""

from __future__ import annotations

import httpx
import pytest

from bot.flowyte import errors as fe
from bot.flowyte.envelope import NOT_JSON, Answer
from bot.flowyte.scopes import (
    REQUIRED_SCOPES,
    ScopeCheck,
    answered_verdict,
    probes,
    refused_verdict,
    scope_check,
)

PROBES = probes("agt_made_up")
READ, WRITE = PROBES["numbers:read"], PROBES["numbers:write"]


def refusal(status: int, code: str | None = None) -> fe.FlowyteAPIError:
    body = {"status": status, **({"code": code} if code else {})}
    return fe.error_for(
        fe.Problem.from_body(status, body), retry_after=None, method="GET", path="x"
    )


def test_there_is_one_probe_per_required_scope_and_reads_prove_only_by_success():
    assert set(PROBES) == set(REQUIRED_SCOPES)
    for scope, probe in PROBES.items():
        assert (probe.method == "GET") == scope.endswith(":read")
        assert (probe.granted_statuses == ()) == (probe.method == "GET")
    publish = PROBES["agents:write"]
    assert publish.path == "agents/agt_made_up/publish"
    assert publish.send["headers"]["Idempotency-Key"] == "numbot-scope-agt_made_up"
    assert PROBES["numbers:write"].send == {"json_body": {}}  # no e164: nothing can be held


@pytest.mark.parametrize(
    ("probe", "error", "verdict"),
    [
        (READ, refusal(403, "insufficient_scope"), "missing"),
        (WRITE, refusal(403), "missing"),
        (WRITE, refusal(400, "validation_error"), "granted"),
        (WRITE, refusal(422), "granted"),
        (PROBES["agents:write"], refusal(404, "agent_not_found"), "granted"),
        (READ, refusal(400, "validation_error"), "Flowyte answered 400 validation_error"),
        (WRITE, refusal(404), "Flowyte answered 404"),
        (READ, refusal(401), "the key was refused (401)"),
        (READ, refusal(503), "Flowyte answered 503"),
        (READ, fe.FlowyteUnavailable("down"), "Flowyte could not be asked (FlowyteUnavailable)"),
        (WRITE, fe.OutcomeUnknown("lost"), "Flowyte could not be asked (OutcomeUnknown)"),
    ],
)
def test_a_refused_probe_proves_missing_only_by_403(probe, error, verdict):
    assert refused_verdict(probe, error) == verdict


def test_an_answered_probe_proves_the_scope_when_its_answer_is_readable():
    headers = httpx.Headers()
    assert answered_verdict(READ, Answer("GET", "numbers", {"data": []}, headers)) == "granted"
    unreadable = Answer("GET", "numbers", NOT_JSON, headers)
    assert answered_verdict(READ, unreadable) == "Flowyte's answer could not be read"
    # a write probe that succeeded is odd, but the scope let it through
    assert answered_verdict(WRITE, Answer("POST", "numbers/reserve", NOT_JSON, headers)) == (
        "granted"
    )


def test_verdicts_become_a_scope_check():
    check = scope_check(
        {
            "numbers:read": "granted",
            "numbers:write": "missing",
            "billing:read": "Flowyte answered 503",
            "agents:read": "granted",
            "agents:write": "missing",
        }
    )
    assert check == ScopeCheck(
        missing=("numbers:write", "agents:write"),
        unchecked={"billing:read": "Flowyte answered 503"},
    )
    assert not check.ok
    assert scope_check(dict.fromkeys(REQUIRED_SCOPES, "granted")).ok

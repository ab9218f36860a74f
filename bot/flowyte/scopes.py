"""Which of the scopes numbot needs a Flowyte key has: the probes and how to read their
answers. Pure rules, no I/O: `FlowyteClient.check_scopes()` sends the probes and hands each
outcome here.

Each probe is a cheap call that changes nothing. A 403 is "missing"; any other inconclusive
answer is "could not check", never "missing".

- numbers:read  GET /numbers?limit=1          2xx = granted
- billing:read  GET /billing/wallet           2xx = granted
- agents:read   GET /agents?limit=1           2xx = granted
- numbers:write POST /numbers/reserve {}      400/422 = granted (no e164: nothing held)
- agents:write  POST /agents/<made up>/publish  404 (no such agent), or 400/422 (an id
                                              Flowyte will not even look up) = granted

The write probes rely on Flowyte checking the scope before validating the body or looking the
agent up. That order is [inferred] (it is how OAuth-scoped APIs work; Flowyte's docs do not
say): were it the other way round, a key without the scope would pass these probes, and the
first real call would then be refused with a 403 that names the scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bot.flowyte.envelope import Answer
from bot.flowyte.errors import FlowyteAPIError, FlowyteError

REQUIRED_SCOPES: Final = (
    "numbers:read",
    "numbers:write",
    "billing:read",
    "agents:read",
    "agents:write",
)
GRANTED: Final = "granted"
MISSING: Final = "missing"


@dataclass(frozen=True)
class ScopeCheck:
    """What `check_scopes()` learned: scopes Flowyte refused, and ones it could not check.

    `unchecked` maps a scope to why its probe was inconclusive (Flowyte unreachable, a 5xx,
    an answer that proves nothing): not evidence that the scope is missing.
    """

    missing: tuple[str, ...] = ()
    unchecked: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unchecked


@dataclass(frozen=True)
class Probe:
    """One call that tests one scope. `granted_statuses`: refusals that prove the scope (a
    write probe is refused for its body, after the scope was checked); empty for a read."""

    method: str
    path: str
    send: Mapping[str, Any]  # keyword arguments of the client's send: params, json_body...
    granted_statuses: tuple[int, ...] = ()


def probes(made_up: str) -> dict[str, Probe]:
    """A probe per required scope; `made_up` names an agent that does not exist."""
    return {
        "numbers:read": Probe("GET", "numbers", {"params": {"limit": "1"}}),
        "numbers:write": Probe("POST", "numbers/reserve", {"json_body": {}}, (400, 422)),
        "billing:read": Probe("GET", "billing/wallet", {}),
        "agents:read": Probe("GET", "agents", {"params": {"limit": "1"}}),
        "agents:write": Probe(
            "POST",
            f"agents/{made_up}/publish",
            {"json_body": {}, "headers": {"Idempotency-Key": f"numbot-scope-{made_up}"}},
            (400, 404, 422),
        ),
    }


def refused_verdict(probe: Probe, error: FlowyteError) -> str:
    """The verdict of a probe that failed: `granted`, `missing`, or why it proves neither."""
    if isinstance(error, FlowyteAPIError):
        if error.status == 403:
            return MISSING
        if error.status in probe.granted_statuses:
            return GRANTED
        if error.status == 401:
            return "the key was refused (401)"
        return f"Flowyte answered {error.status}{' ' + error.code if error.code else ''}"
    return f"Flowyte could not be asked ({type(error).__name__})"


def answered_verdict(probe: Probe, answer: Answer) -> str:
    """The verdict of a probe that got a 2xx: a write probe that succeeded is odd, but it
    proves the scope; a read proves it when its answer is a readable envelope."""
    if probe.granted_statuses:
        return GRANTED
    try:
        answer.envelope()
    except FlowyteError:
        return "Flowyte's answer could not be read"
    return GRANTED


def scope_check(verdicts: Mapping[str, str]) -> ScopeCheck:
    """The verdicts (scope -> verdict, in REQUIRED_SCOPES' order of asking) as a ScopeCheck."""
    return ScopeCheck(
        missing=tuple(scope for scope, verdict in verdicts.items() if verdict == MISSING),
        unchecked={
            scope: verdict
            for scope, verdict in verdicts.items()
            if verdict not in (GRANTED, MISSING)
        },
    )

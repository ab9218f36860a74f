"""Errors from the Flowyte API, and what to tell a person about each.

    FlowyteError
    ├── FlowyteUnavailable         network failure before any answer: nothing happened
    │   └── OutcomeUnknown         the request may have reached Flowyte (timeout, reset)
    └── FlowyteAPIError            Flowyte answered with a problem+json (or any non-2xx)
        ├── InvalidRequest         400 validation_error, with the fields at fault
        ├── BadApiKey              401: the bot's key is wrong
        ├── InsufficientBalance    402: the wallet is short
        ├── Forbidden              403: the key lacks a scope, or the endpoint is reserved
        ├── NotFound               404
        ├── Conflict               409: gone, hold expired, not published, already exists
        ├── Unprocessable          422
        ├── RateLimited            429, with Retry-After
        └── ServerError            5xx: for a POST, the outcome is unknown

Every error has `explain()`: a sentence a Slack user can act on. Error texts never include
the request's headers, so the API key cannot leak through them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.money import to_decimal, usd


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem body, parsed leniently (every field optional)."""

    status: int
    code: str | None = None
    title: str | None = None
    detail: str | None = None
    type: str | None = None
    instance: str | None = None
    errors: tuple[tuple[str, str], ...] = ()
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_body(cls, status: int, body: object) -> Problem:
        if not isinstance(body, dict):
            return cls(status=status)
        errors = []
        listed = body.get("errors")
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, dict):
                errors.append((str(item.get("field", "?")), str(item.get("message", "invalid"))))
        known = {"status", "code", "title", "detail", "type", "instance", "errors"}

        def text(key: str) -> str | None:
            value = body.get(key)
            return str(value) if value is not None else None

        return cls(
            status=status,
            code=text("code"),
            title=text("title"),
            detail=text("detail"),
            type=text("type"),
            instance=text("instance"),
            errors=tuple(errors),
            extra={k: v for k, v in body.items() if k not in known},
        )


class FlowyteError(Exception):
    """Flowyte could not do what numbot asked."""

    def explain(self) -> str:
        return "Flowyte could not do that. Try again in a minute; if it keeps failing, tell your numbot admin."


class FlowyteUnavailable(FlowyteError):
    """Flowyte could not be reached; the request did not get there."""

    def explain(self) -> str:
        return "Flowyte could not be reached just now. Nothing was changed; try again in a minute."


class OutcomeUnknown(FlowyteUnavailable):
    """The request may have reached Flowyte, but no answer came back in time."""

    def explain(self) -> str:
        return (
            "Flowyte did not answer in time, so numbot cannot tell yet whether it happened. "
            "numbot will check and report back; do not retry by hand."
        )


class UnexpectedAnswer(FlowyteError):
    """Flowyte answered 2xx with something numbot cannot read."""

    def explain(self) -> str:
        return (
            "Flowyte answered in a way numbot does not understand, so nothing more was done. "
            "Tell your numbot admin (the log has the details)."
        )


class FlowyteAPIError(FlowyteError):
    """Flowyte answered with an error status."""

    def __init__(self, problem: Problem, *, method: str = "", path: str = "") -> None:
        self.problem = problem
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} -> {problem.status} {problem.code or ''}".strip())

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def code(self) -> str | None:
        return self.problem.code

    def explain(self) -> str:
        return f"Flowyte refused that ({self.status}). Try again; if it keeps failing, tell your numbot admin."


class InvalidRequest(FlowyteAPIError):
    def explain(self) -> str:
        if self.problem.errors:
            parts = "; ".join(f"{f}: {m}" for f, m in self.problem.errors)
            return f"Flowyte rejected the request: {parts}."
        return "Flowyte rejected the request as invalid. Check the values and try again."


class BadApiKey(FlowyteAPIError):
    def explain(self) -> str:
        return (
            "numbot's Flowyte API key was refused. This is not your fault: ask your numbot "
            "admin to check FLOWYTE_API_KEY."
        )


class InsufficientBalance(FlowyteAPIError):
    @property
    def shortfall(self) -> Decimal | None:
        extra = self.problem.extra
        try:
            return to_decimal(extra["requiredUsd"]) - to_decimal(extra["balanceUsd"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return None

    def explain(self) -> str:
        short = self.shortfall
        amount = f" by {usd(short)}" if short is not None and short > 0 else ""
        return (
            f"The Flowyte wallet is short{amount}. Top it up in the Flowyte dashboard "
            "(Billing → Wallet; a card payment numbot cannot make), then request again."
        )


class Forbidden(FlowyteAPIError):
    def explain(self) -> str:
        scope = self.problem.extra.get("requiredScope") or self.problem.extra.get("scope")
        if scope:
            return (
                f"numbot's Flowyte key lacks the `{scope}` scope. Ask your numbot admin to "
                "issue a key with it."
            )
        return (
            "Flowyte does not allow numbot's key to do that (a missing scope or a reserved "
            "endpoint). Ask your numbot admin."
        )


class NotFound(FlowyteAPIError):
    def explain(self) -> str:
        if self.code == "reservation_not_found":
            return "Flowyte no longer knows that hold. Search again and reserve a number."
        return "Flowyte has no such item in this organization. Check the number or id."


class Conflict(FlowyteAPIError):
    def explain(self) -> str:
        return {
            "number_unavailable": "That number is gone: someone else holds or owns it. Search again.",
            "reservation_expired": "The hold on that number expired. Reserve it again and request again.",
            "no_published_version": "That agent has never been published; publish it first.",
            "already_exists": "That number is already on this Flowyte account.",
        }.get(
            self.code or "",
            "Flowyte reports a conflict: the item changed meanwhile. Look again and retry.",
        )


class Unprocessable(FlowyteAPIError):
    def explain(self) -> str:
        if self.code == "reservation_mismatch":
            return "The hold belongs to a different number. Reserve this number again."
        return "Flowyte could not process that request as sent. Check it and try again."


class RateLimited(FlowyteAPIError):
    def __init__(
        self, problem: Problem, *, retry_after: float | None, method: str = "", path: str = ""
    ) -> None:
        super().__init__(problem, method=method, path=path)
        self.retry_after = retry_after

    def explain(self) -> str:
        wait = (
            f" about {max(1, round(self.retry_after))} seconds" if self.retry_after else " a minute"
        )
        return f"Flowyte is rate-limiting this organization. Wait{wait} and try again."


class ServerError(FlowyteAPIError):
    def explain(self) -> str:
        return "Flowyte had an internal error. Try again in a few minutes."


_BY_STATUS: dict[int, type[FlowyteAPIError]] = {
    400: InvalidRequest,
    401: BadApiKey,
    402: InsufficientBalance,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
}


def error_for(
    problem: Problem, *, retry_after: float | None, method: str, path: str
) -> FlowyteAPIError:
    if problem.status == 429:
        return RateLimited(problem, retry_after=retry_after, method=method, path=path)
    if problem.status >= 500:
        return ServerError(problem, method=method, path=path)
    cls = _BY_STATUS.get(problem.status, FlowyteAPIError)
    return cls(problem, method=method, path=path)

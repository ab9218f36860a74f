"""Errors from the Flowyte API, and what to tell a person about each.

    FlowyteError
    ├── FlowyteUnavailable         no answer, and nothing happened: refused, connect or pool
    │   │                          timeout, or a read (GET) that never finished
    │   └── OutcomeUnknown         a call that may change something (POST, DELETE) got no
    │       │                      usable answer: it may have happened (timeout, reset, 408,
    │       │                      an unreadable 2xx)
    │       └── StillProcessing    409 idempotency_in_progress: the first call with this
    │                              Idempotency-Key is still running at Flowyte [inferred code]
    ├── UnexpectedAnswer           a read answered 2xx with something numbot cannot read (an
    │                              HTML page, no `data`, `success: false`, a list whose end
    │                              it cannot see): never "nothing"
    └── FlowyteAPIError            Flowyte answered with a problem+json (or any non-2xx)
        ├── InvalidRequest         400 validation_error, with the fields at fault
        ├── BadApiKey              401: the bot's key is wrong
        ├── InsufficientBalance    402: the wallet is short (amounts optional)
        ├── Forbidden              403: the key lacks a scope, or the endpoint is reserved
        ├── NotFound               404
        ├── Conflict               409: gone, hold expired, not published, already exists
        ├── Unprocessable          422
        ├── RateLimited            429, with the wait Flowyte asked for
        └── ServerError            5xx: for a POST, the outcome is unknown

A problem's code is read from `code`, else from the last path segment of `type`
(`https://docs.flowyte.com/errors/reservation_expired`; the API introduction shows problems
that carry their code only there), never from `about:blank`.

Every error has `explain()`: a sentence a Slack user can act on. Text Flowyte wrote
(`title`, `detail`, `errors[].message`, a code) is cleaned when the problem is parsed:
secrets redacted (a Flowyte that echoes the API key must not put it on a card), one line
without control, bidi or zero-width characters or Slack markup, capped in length. A scope is
shown only if it looks like one (`numbers:write`). Error texts never include the request's
headers, so the API key cannot leak through them either.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

from bot.kernel.money import to_decimal, usd
from bot.kernel.redact import redact

TEXT_LIMIT = 160  # characters of one piece of Flowyte text shown to people
# A shortfall this large is garbage in the answer, not a wallet: it is not shown (a few
# thousand digits would fill the person's screen).
ABSURD_SHORTFALL = Decimal("1E+12")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SCOPE = re.compile(r"^[a-z]+:[a-z]+$")
_TOKEN = re.compile(r"^[!-~]{1,200}$")  # printable ASCII, no spaces: a URI or an id
# Slack mrkdwn that could ping, link or forge emphasis: <...> and & (mentions, links), bold,
# strike, code and the link separator. Underscores stay: identifiers such as
# reservation_id must read as themselves, and italics cannot forge a line of a card.
_MARKUP = str.maketrans({c: " " for c in "<>&*~`|"})
_REDACTED = "REDACTEDBYNUMBOT"  # marks a redaction while the markup characters are cleared


def flowyte_text(value: object, *, limit: int = TEXT_LIMIT) -> str | None:
    """Text Flowyte wrote, made safe to put in front of people: None if there is none.

    Secrets are redacted first (so a key split by a later step is still caught), then every
    control, format (bidi, zero-width), separator other than a space and mrkdwn character
    becomes a space, runs of spaces collapse, and the result is capped at `limit`.
    """
    if value is None or isinstance(value, dict | list):
        return None
    # A redaction reads "(redacted)" here: "***" is bold markup in Slack, which this clears.
    text = redact(str(value)).replace("***", _REDACTED)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "CZ" and char != " ":
            kept.append(" ")
        else:
            kept.append(char)
    cleaned = " ".join("".join(kept).translate(_MARKUP).split()).replace(_REDACTED, "(redacted)")
    if not cleaned:
        return None
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def problem_code(code: object, type_: object) -> str | None:
    """The problem's code: `code` when present, else the last path segment of `type`.

    A fragment (`…/errors#reservation_expired`) counts as the last segment too. Anything
    that does not look like a code (a sentence, a secret, markup) is no code at all.
    """
    if code is not None and not isinstance(code, dict | list | bool):
        candidate = str(code).strip()
    elif isinstance(type_, str) and type_.strip() and type_.strip() != "about:blank":
        parts = urlsplit(type_.strip())
        candidate = parts.fragment or parts.path.rstrip("/").rsplit("/", 1)[-1]
    else:
        return None
    if not _CODE.match(candidate) or redact(candidate) != candidate:
        return None
    return candidate


def _token(value: object) -> str | None:
    """A URI or id Flowyte sent (`type`, `instance`), kept only if it is one, redacted."""
    if not isinstance(value, str) or not _TOKEN.match(value):
        return None
    return redact(value)


def looks_like_scope(value: object) -> str | None:
    """`value` if it is shaped like a Flowyte scope (`numbers:write`), else None."""
    return value if isinstance(value, str) and _SCOPE.match(value) else None


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem body, parsed leniently (every field optional) and cleaned.

    `extra` keeps the extension members as Flowyte sent them (amounts, `requiredScope`):
    read them through the error classes, which validate before showing anything.
    """

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
                name = flowyte_text(item.get("field"), limit=40) or "?"
                message = flowyte_text(item.get("message"), limit=120) or "invalid"
                errors.append((name, message))
        known = {"status", "code", "title", "detail", "type", "instance", "errors"}
        return cls(
            status=status,
            code=problem_code(body.get("code"), body.get("type")),
            title=flowyte_text(body.get("title")),
            detail=flowyte_text(body.get("detail"), limit=300),
            type=_token(body.get("type")),
            instance=_token(body.get("instance")),
            errors=tuple(errors[:10]),
            extra={k: v for k, v in body.items() if k not in known},
        )


class FlowyteError(Exception):
    """Flowyte could not do what numbot asked."""

    def explain(self) -> str:
        return "Flowyte could not do that. Try again in a minute; if it keeps failing, tell your numbot admin."


class FlowyteUnavailable(FlowyteError):
    """Flowyte could not be reached, or a read got no answer: nothing was changed."""

    def explain(self) -> str:
        return "Flowyte could not be reached just now. Nothing was changed; try again in a minute."


class OutcomeUnknown(FlowyteUnavailable):
    """A call that may change something may have reached Flowyte, and no usable answer came.

    A subclass of FlowyteUnavailable only so that code written before it existed keeps
    treating it as a failure; catch it first: "nothing was changed" is not known here.
    """

    def explain(self) -> str:
        return (
            "Flowyte's answer was lost or could not be read, so numbot cannot tell yet "
            "whether it happened. numbot will check and report back; do not retry by hand."
        )


class StillProcessing(OutcomeUnknown):
    """A replay (same Idempotency-Key, same body) reached Flowyte while the first call was
    still running: its outcome is not known yet, and asking again later will tell."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def explain(self) -> str:
        return (
            "Flowyte is still carrying out that request, so numbot cannot tell yet how it "
            "ended. numbot will check and report back; do not retry by hand."
        )


class UnexpectedAnswer(FlowyteError):
    """A read answered 2xx with something numbot cannot read: not an empty result."""

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
            if len(parts) > 2 * TEXT_LIMIT:
                parts = parts[: 2 * TEXT_LIMIT - 1].rstrip() + "…"
            return f"Flowyte rejected the request: {parts}."
        return "Flowyte rejected the request as invalid. Check the values and try again."


class BadApiKey(FlowyteAPIError):
    def explain(self) -> str:
        return (
            "numbot's Flowyte API key was refused. This is not your fault: ask your numbot "
            "admin to check FLOWYTE_API_KEY."
        )


class InsufficientBalance(FlowyteAPIError):
    """402. The amounts (`requiredUsd`, `balanceUsd`) are [inferred] extension members that
    Flowyte may leave out; then `shortfall` is None and the caller can work it out itself:

        wallet = await client.wallet()
        short = InsufficientBalance.shortfall_of(wallet.balance_usd, setup + monthly)
        text = exc.explain(shortfall=short)
    """

    @property
    def shortfall(self) -> Decimal | None:
        """How much the wallet lacks, from the problem's own amounts; None if it has none."""
        extra = self.problem.extra
        try:
            return to_decimal(extra["requiredUsd"]) - to_decimal(extra["balanceUsd"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return None

    @staticmethod
    def shortfall_of(balance: Decimal, cost: Decimal) -> Decimal | None:
        """The shortfall from a wallet balance and a quote; None when the balance covers it
        (by the time numbot looked, someone may have topped up)."""
        short = cost - balance
        return short if short > 0 else None

    def explain(self, *, shortfall: Decimal | None = None, then: str = "request again") -> str:
        """What to do; `shortfall` (computed by the caller) is used when the problem had none,
        and `then` says what to do once the wallet is topped up."""
        short = self.shortfall
        if short is None or short <= 0:
            short = shortfall
        amount = ""
        with contextlib.suppress(ArithmeticError):  # unprintable: say what to do, not how much
            if short is not None and 0 < short < ABSURD_SHORTFALL:
                amount = f" by {usd(short)}"
        return (
            f"The Flowyte wallet is short{amount}. Top it up in the Flowyte dashboard "
            f"(Billing → Wallet; a card payment numbot cannot make), then {then}."
        )


class Forbidden(FlowyteAPIError):
    @property
    def required_scope(self) -> str | None:
        """The scope Flowyte says is missing, only if it is shaped like a scope."""
        extra = self.problem.extra
        return looks_like_scope(extra.get("requiredScope")) or looks_like_scope(extra.get("scope"))

    def explain(self) -> str:
        scope = self.required_scope
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
            "reservation_expired": "The hold on that number lapsed. Reserve it again and request again.",
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
        if self.retry_after is None:
            wait = " a minute"
        else:
            seconds = max(1, round(self.retry_after))
            wait = f" about {seconds} second{'s' if seconds != 1 else ''}"
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

"""The sandbox's refusals: RFC 9457 problems (`application/problem+json`).

Problems carry their code in `code` and in `type` (`https://docs.flowyte.com/errors/<code>`);
the "type_only" variant (see variants.py) leaves `code` out, as Flowyte's API introduction
shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Final

from starlette.responses import Response

from bot.sandbox.variants import ProblemStyle
from bot.sandbox.wire import dumps_json

PROBLEM_TYPE_BASE: Final = "https://docs.flowyte.com/errors/"
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"


class ApiError(Exception):
    """A refusal the sandbox answers as an RFC 9457 problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: Sequence[tuple[str, str]] | None = None,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self, instance: str, style: ProblemStyle = "code") -> dict[str, object]:
        problem: dict[str, object] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if style == "code":
            problem["code"] = self.code
        if self.errors is not None:
            problem["errors"] = [{"field": f, "message": m} for f, m in self.errors]
        problem.update(self.extra)
        return problem


def invalid(errors: Sequence[tuple[str, str]]) -> ApiError:
    detail = "; ".join(f"{f}: {m}" for f, m in errors)
    return ApiError(400, "validation_error", f"The request is invalid: {detail}.", errors=errors)


def problem_response(error: ApiError, instance: str, style: ProblemStyle = "code") -> Response:
    return Response(
        dumps_json(error.body(instance, style)),
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=error.headers,
    )


def unavailable(e164: str) -> ApiError:
    return ApiError(409, "number_unavailable", f"{e164} can no longer be held; search again.")

"""The route template of a Flowyte call, for metrics: `/numbers/{number_id}`, never the number.

Every path the client sends is one of ROUTES with its placeholders filled in; `route_of`
puts the placeholders back. A path that matches none is "other", so a label can only ever
take one of len(ROUTES) + 1 values, whatever numbers, ids or cursors pass through.
"""

from __future__ import annotations

from typing import Final

ROUTES: Final = (
    "/numbers",
    "/numbers/search",
    "/numbers/reserve",
    "/numbers/purchase",
    "/numbers/import",
    "/numbers/available/{e164}",
    "/numbers/reserve/{reservation_id}",
    "/numbers/{number_id}/assign",
    "/numbers/{number_id}",
    "/agents",
    "/agents/{agent_id}/publish",
    "/agents/{agent_id}",
    "/billing/wallet",
    "/billing/usage/items",
)
OTHER: Final = "other"

_SHAPES = [(route, route.strip("/").split("/")) for route in ROUTES]


def route_of(path: str) -> str:
    """The template `path` (relative to the API's base, as the client sends it) was made from."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    for route, shape in _SHAPES:  # literal routes come before the ones they would also fit
        if len(shape) == len(parts) and all(
            s == p or (s.startswith("{") and p) for s, p in zip(shape, parts, strict=True)
        ):
            return route
    return OTHER

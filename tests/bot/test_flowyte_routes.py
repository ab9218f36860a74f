"""bot/flowyte/routes.py: a Flowyte path becomes its template, never the number or id."""

import pytest

from bot.flowyte.routes import OTHER, ROUTES, route_of


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("numbers/search", "/numbers/search"),
        ("numbers", "/numbers"),
        ("numbers/reserve", "/numbers/reserve"),
        ("numbers/available/%2B14155550123", "/numbers/available/{e164}"),
        ("numbers/reserve/res_123", "/numbers/reserve/{reservation_id}"),
        ("numbers/num_42", "/numbers/{number_id}"),
        ("numbers/num_42/assign", "/numbers/{number_id}/assign"),
        ("agents/agt_1/publish", "/agents/{agent_id}/publish"),
        ("agents/agt_1", "/agents/{agent_id}"),
        ("billing/wallet", "/billing/wallet"),
        ("something/else/entirely/here", OTHER),
        ("numbers//assign", OTHER),
    ],
)
def test_route_of(path, route):
    assert route_of(path) == route


def test_every_route_is_its_own_template():
    for route in ROUTES:
        assert route_of(route.strip("/")) == route

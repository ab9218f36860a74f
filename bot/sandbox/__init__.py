"""numbot's built-in Flowyte: an in-process, in-memory implementation of the numbers API.

numbot talks to it when no real API key is configured, so a demo or a developer machine
never touches real money:

    sandbox = SandboxFlowyte()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.asgi()), base_url="http://sandbox/api/v1"
    )

The end-to-end tests serve the same app over real HTTP as their fake Flowyte
(tests/fakes/flowyte_server.py). It follows shared/flowyte-api.md; where that contract is
silent the sandbox chooses, and each module says what it chose next to the code that does it:

- app.py           SandboxFlowyte over HTTP: routes, the order of checks (a key's scope comes
                   before its body is read), rate limits with `RateLimit-*`, the lock
- endpoints.py     what each endpoint does: holds, purchases (409 `number_unavailable` for a
                   number not in the inventory), 402 amounts, imports, assignment, 201s
- organization.py  one organization's state, the conveniences tests poke it with, API keys
                   and their scopes (`flowyte_sk_...`; `readonly` keys read only)
- idempotency.py   Idempotency-Key: 24-hour byte-for-byte replays, 422 on another request,
                   409 `idempotency_in_progress` while the first call runs [inferred]
- inventory.py     the deterministic inventory per area code (local and toll-free)
- search.py        search parameters, matching, and `bestEffort` widening
- paging.py        cursor pagination of lists, and where each variant puts the cursor
- variants.py      `Variants`: the answer shapes Flowyte's docs allow, picked per sandbox
- problems.py      RFC 9457 problems, the code in `code` and in `type`
- records.py       holds, owned numbers, agents, versions, wallet, top-ups, as JSON
- calls.py         a call as the handlers see it, and the readers of its parts
- wire.py          JSON with Decimal money (a float is refused), times and amounts

Where Flowyte's docs allow more than one shape, `Variants` picks one per instance:
`SandboxFlowyte(variants=Variants(page_size=2))`, or `sandbox.configure(problems="type_only")`
on a live one. Money is Decimal throughout. Every handler does its state work synchronously
under one lock, so concurrent requests cannot both take one number or spend one balance twice.

The sandbox does not import numbot's Flowyte client: it is a separate Flowyte behind the
transport.
"""

from bot.sandbox.app import API_PREFIX, SandboxFlowyte
from bot.sandbox.endpoints import HOLD_DURATION
from bot.sandbox.idempotency import IDEMPOTENCY_TTL
from bot.sandbox.inventory import (
    FEATURES,
    KNOWN_AREAS,
    NUMBER_TYPES,
    PRICES,
    TOLL_FREE_CODES,
    AvailableNumber,
    generate_inventory,
)
from bot.sandbox.organization import ALL_SCOPES, READ_SCOPES
from bot.sandbox.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    ApiError,
    invalid,
    problem_response,
)
from bot.sandbox.records import (
    ORGANIZATION_ID,
    Agent,
    AgentVersion,
    OwnedNumber,
    Reservation,
    TopUp,
    Wallet,
)
from bot.sandbox.search import SearchQuery, parse_search
from bot.sandbox.variants import PaginationStyle, ProblemStyle, ReservationStyle, Variants
from bot.sandbox.wire import JSON_MEDIA_TYPE, dumps_json, loads_json

__all__ = [
    "ALL_SCOPES",
    "API_PREFIX",
    "FEATURES",
    "HOLD_DURATION",
    "IDEMPOTENCY_TTL",
    "JSON_MEDIA_TYPE",
    "KNOWN_AREAS",
    "NUMBER_TYPES",
    "ORGANIZATION_ID",
    "PRICES",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "READ_SCOPES",
    "TOLL_FREE_CODES",
    "Agent",
    "AgentVersion",
    "ApiError",
    "AvailableNumber",
    "OwnedNumber",
    "PaginationStyle",
    "ProblemStyle",
    "Reservation",
    "ReservationStyle",
    "SandboxFlowyte",
    "SearchQuery",
    "TopUp",
    "Variants",
    "Wallet",
    "dumps_json",
    "generate_inventory",
    "invalid",
    "loads_json",
    "parse_search",
    "problem_response",
]

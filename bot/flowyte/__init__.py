"""The Flowyte numbers API: client, models and errors. Knows nothing of Slack or SQLite.

- client.py     FlowyteClient: the endpoints and the request loop (deadline, retries, pages)
- envelope.py   reading a success envelope and the pages of a list (pure)
- retry.py      RetryPolicy and the waits Retry-After / RateLimit-Reset ask for (pure)
- scopes.py     REQUIRED_SCOPES, ScopeCheck, the scope probes and their verdicts (pure)
- errors.py     the error tree, and which problem becomes which error
- models.py     the wire models
- transport.py  an httpx transport on aiohttp's connection pool
"""

from bot.flowyte.client import FlowyteClient
from bot.flowyte.errors import (
    FlowyteAPIError,
    FlowyteError,
    FlowyteUnavailable,
    OutcomeUnknown,
    StillProcessing,
    UnexpectedAnswer,
)
from bot.flowyte.models import (
    Agent,
    AgentVersion,
    AvailableNumber,
    OwnedNumber,
    Reservation,
    SearchQuery,
    Wallet,
)
from bot.flowyte.retry import RetryPolicy
from bot.flowyte.scopes import REQUIRED_SCOPES, ScopeCheck

__all__ = [
    "REQUIRED_SCOPES",
    "Agent",
    "AgentVersion",
    "AvailableNumber",
    "FlowyteAPIError",
    "FlowyteClient",
    "FlowyteError",
    "FlowyteUnavailable",
    "OutcomeUnknown",
    "OwnedNumber",
    "Reservation",
    "RetryPolicy",
    "ScopeCheck",
    "SearchQuery",
    "StillProcessing",
    "UnexpectedAnswer",
    "Wallet",
]

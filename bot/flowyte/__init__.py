"""The Flowyte numbers API: client, models and errors. Knows nothing of Slack or SQLite."""

from bot.flowyte.client import REQUIRED_SCOPES, FlowyteClient, RetryPolicy, ScopeCheck
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

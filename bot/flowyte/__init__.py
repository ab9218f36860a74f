"""The Flowyte numbers API: client, models and errors. Knows nothing of Slack or SQLite."""

from bot.flowyte.client import FlowyteClient, RetryPolicy
from bot.flowyte.errors import FlowyteAPIError, FlowyteError, FlowyteUnavailable, OutcomeUnknown
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
    "SearchQuery",
    "Wallet",
]

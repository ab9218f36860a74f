"""Which NUMBOT_, SLACK_ and FLOWYTE_ names are numbot's settings: one that is not (a typo
such as NUMBOT_POLCY) is named at start and by `numbot config check`, with the closest real
name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from bot.config.settings import Settings

KNOWN_PREFIXES = ("NUMBOT_", "SLACK_", "FLOWYTE_")
# Names with these prefixes that are not numbot's settings but are known not to be typos:
# the tests' own switches, and Slack's and Flowyte's names other tools read.
NOT_OURS = frozenset(
    {
        "NUMBOT_REQUIRE_POSTGRES",
        "NUMBOT_REQUIRE_SYSTEMD",
        "NUMBOT_TEST_DATABASE_URL",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "SLACK_VERIFICATION_TOKEN",
    }
)


def unknown_settings(names: Iterable[str]) -> list[tuple[str, str | None]]:
    """Names that look like numbot's settings but are none of them (a typo such as
    NUMBOT_POLCY leaves the real one unset, silently): each with the closest real name."""
    known = list(Settings.model_fields)
    found = []
    for name in sorted(set(names)):
        if not name.startswith(KNOWN_PREFIXES) or name in known or name in NOT_OURS:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        found.append((name, close[0] if close else None))
    return found


def env_file_names(path: str = ".env") -> list[str]:
    """The names set in the .env file numbot reads (none when there is no such file)."""
    from dotenv import dotenv_values

    try:
        return list(dotenv_values(path))
    except OSError:
        return []

"""The values deploy/*.env.example hold in place of real ones: a copy never filled in must
not start numbot (Settings refuses them by name)."""

from __future__ import annotations

import re

# What deploy/*.env.example hold in place of real values.
PLACEHOLDER_IDS = frozenset({"C0123456789", "U0123456789", "U0987654321"})
_PLACEHOLDER_TEXT = re.compile(r"replace[-_]me|:PASSWORD@", re.IGNORECASE)


def is_placeholder(value: str) -> bool:
    """True for a value copied from an example file and never filled in."""
    return value in PLACEHOLDER_IDS or bool(_PLACEHOLDER_TEXT.search(value))

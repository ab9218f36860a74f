"""Reading the reason typed into a modal's reason field (handlers/blocks/modals.py)."""

from __future__ import annotations

from typing import Any

from bot.kernel.text import MAX_REASON, clean_user_text
from handlers import ids


def submitted_reason(view: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
    """The cleaned reason, and the inline error to answer with (None when it is fine).

    What is stored, audited and shown is the cleaned reason, so the checks apply to it: a
    reason of only zero-width characters is empty. One character over the limit is kept, so
    an over-long reason is refused rather than silently cut.
    """
    values = view.get("state", {}).get("values", {})
    typed = str(values.get(ids.REASON_BLOCK, {}).get(ids.REASON_INPUT, {}).get("value") or "")
    reason = clean_user_text(typed, max_length=MAX_REASON + 1)
    if len(reason) > MAX_REASON:
        return reason, {ids.REASON_BLOCK: f"Keep it under {MAX_REASON} characters."}
    return reason, None

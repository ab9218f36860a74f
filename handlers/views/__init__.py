"""Modal submission listeners."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.errors import guarded
from handlers.views.purchase_reason import purchase_reason


def register(app: Any) -> None:
    app.view(ids.PURCHASE_REASON_VIEW)(guarded(purchase_reason))

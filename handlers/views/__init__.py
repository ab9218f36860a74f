"""Modal submission listeners."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.dm_errors import told_by_dm
from handlers.errors import guarded
from handlers.views.purchase_reason import purchase_reason
from handlers.views.reject import reject_submitted
from handlers.views.search import search_submitted


def register(app: Any) -> None:
    # No response_url once a modal closes: an unexpected error is told by DM.
    app.view(ids.PURCHASE_REASON_VIEW)(guarded(told_by_dm(purchase_reason)))
    app.view(ids.REJECT_VIEW)(guarded(told_by_dm(reject_submitted)))
    app.view(ids.SEARCH_VIEW)(guarded(told_by_dm(search_submitted)))

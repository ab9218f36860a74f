"""`numbot report --month 2026-11`: a month of spend on numbers, as CSV for finance.

One row per purchase and release numbot completed that month, with the terms sealed when it
was requested (from the audit log, never from an editable row), then a row with what
Flowyte charged for numbers that month (its usage items, credits to dollars exactly), and
one with numbot's own total. A Flowyte that cannot be read is written as "unreadable",
never as 0. Unlike `/numbers spend`, it reads Flowyte's usage for a month that is not
complete there and then, however many pages that takes.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TextIO

from bot.workflow import NumbersService
from bot.workflow.spend import next_month

COLUMNS = (
    "completed_at",
    "kind",
    "number",
    "requester",
    "setup_usd",
    "first_month_usd",
    "total_usd",
    "request_id",
)
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class MonthError(ValueError):
    """Not a month numbot can report on."""


def month_start(text: str) -> datetime:
    """`2026-11` -> 2026-11-01T00:00Z."""
    match = _MONTH.fullmatch(text.strip())
    if not match:
        raise MonthError(f"{text[:20]!r} is not a month: write it as YYYY-MM, e.g. 2026-11")
    return datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)


def _amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


async def write_month(service: NumbersService, start: datetime, out: TextIO) -> None:
    end = next_month(start)
    month = await service.spend_book.month(start, read=True)  # a command line can wait
    moves = await service.spend_book.moves(start, end)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for move in moves:
        total = (
            move.setup + move.monthly
            if move.kind == "purchase" and move.setup is not None and move.monthly is not None
            else None
        )
        writer.writerow(
            (
                move.at,
                move.kind,
                move.e164 or "(sealed terms unreadable)",
                move.requester,
                _amount(move.setup),
                _amount(move.monthly) if move.kind == "purchase" else "",
                _amount(total),
                move.request_id,
            )
        )
    charged = _amount(month.charged) if month.charged is not None else "unreadable"
    writer.writerow(("", "flowyte_number_charges", "", "", "", "", charged, ""))
    writer.writerow(
        (
            "",
            "numbot_purchases_total",
            "",
            "",
            _amount(month.setup),
            _amount(month.monthly),
            _amount(month.numbot_total),
            "",
        )
    )

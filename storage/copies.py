"""The copies of a request's card in approvers' DMs, and what each last showed."""

from __future__ import annotations

from storage.db import write_transaction
from storage.rows import (
    Copy,
    Rows,
)


class Copies(Rows):
    def add_copy(self, request_id: str, recipient: str, channel: str, ts: str, drawn: str) -> None:
        with write_transaction(self.db) as conn:
            conn.execute(
                "INSERT INTO request_messages (request_id, recipient, channel, ts, drawn) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_id, channel, ts) "
                "DO UPDATE SET recipient = excluded.recipient, drawn = excluded.drawn",
                (request_id, recipient, channel, ts, drawn),
            )

    def copies(self, request_id: str) -> list[Copy]:
        rows = self.db.execute(
            "SELECT request_id, recipient, channel, ts, drawn FROM request_messages "
            "WHERE request_id = ? ORDER BY recipient, ts",
            (request_id,),
        )
        return [Copy(*row) for row in rows]

    def copy_drawn(self, copy: Copy, drawn: str) -> None:
        with write_transaction(self.db) as conn:
            conn.execute(
                "UPDATE request_messages SET drawn = ? "
                "WHERE request_id = ? AND channel = ? AND ts = ?",
                (drawn, copy.request_id, copy.channel, copy.ts),
            )

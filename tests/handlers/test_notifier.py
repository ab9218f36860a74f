"""handlers/notifier.py: what the Slack side of the Notifier port sends, and where."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bot.kernel.outcomes import DaySummary, Digest
from bot.workflow.approvers import ApproverSet
from handlers.blocks.approvers import build_approver_copy
from handlers.notifier import SlackNotifier
from tests.handlers.test_blocks import make_request

SEEN = datetime(2030, 1, 2, 12, 4, tzinfo=UTC)


class RecordingClient:
    """Slack's Web API as far as the notifier uses it: every call kept, each post answered."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("chat.postMessage", kwargs))
        return {"channel": kwargs["channel"], "ts": f"{len(self.calls)}.0"}

    async def chat_update(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("chat.update", kwargs))
        return {"ok": True}


def shown(call: tuple[str, dict[str, Any]]) -> str:
    return json.dumps(call[1]["blocks"], ensure_ascii=False)


async def test_a_redrawn_copy_keeps_the_wallet_line_from_the_snapshot_with_when_it_was_read():
    client = RecordingClient()
    notifier = SlackNotifier(client, approval_channel="C0APPROVALS", sandbox=False, notify="dm")
    request = make_request(
        approvals_needed=2,
        approved_by="U0BOB",
        wallet_usd=Decimal("25.00"),
        wallet_seen_at=SEEN,
    )
    await notifier.update_copy(request, "U0CAROL", "D0CAROL", "5.6")
    [call] = client.calls
    assert call[0] == "chat.update" and call[1]["channel"] == "D0CAROL"
    text = shown(call)
    assert "Wallet: $25.00 (as of <!date^" in text and "→ $22.85 after" in text
    # Bob's own copy, redrawn after his approval, keeps it too.
    await notifier.update_copy(request, "U0BOB", "D0BOB", "7.8")
    assert "Wallet: $25.00 (as of <!date^" in shown(client.calls[-1])
    # Once bought, the wallet line is history, as on the card.
    done = dataclasses.replace(request, status="purchased", decided_by="U0CAROL")
    await notifier.update_copy(done, "U0CAROL", "D0CAROL", "5.6")
    assert "Wallet" not in shown(client.calls[-1])


def test_a_copy_drawn_with_a_live_balance_says_it_without_a_time():
    copy = build_approver_copy(make_request(), balance=Decimal("9.00"), sandbox=False)
    text = json.dumps(copy, ensure_ascii=False)
    assert "Wallet: $9.00 → $6.85 after." in text and "as of" not in text


async def test_a_redrawn_copy_names_who_may_still_approve_from_the_approvers_known():
    client = RecordingClient()
    approvers = ApproverSet(("U0BOB", "U0CAROL", "U0DAVE"))
    notifier = SlackNotifier(
        client, approval_channel="C0APPROVALS", sandbox=False, notify="dm", approvers=approvers
    )
    request = make_request(approvals_needed=2, approved_by="U0BOB")
    await notifier.update_copy(request, "U0BOB", "D0BOB", "7.8")
    assert "You approved · waiting for <@U0CAROL> or <@U0DAVE>" in shown(client.calls[-1])


async def test_the_final_card_and_copies_of_a_2_of_2_purchase_name_every_approver():
    client = RecordingClient()
    notifier = SlackNotifier(client, approval_channel="C0APPROVALS", sandbox=False, notify="dm")
    bought = make_request(
        status="purchased",
        approvals_needed=2,
        approved_by="U0BOB,U0CAROL",  # in the order they approved
        decided_by="U0CAROL",  # the last one, who made it happen
        card_channel="C0APPROVALS",
        card_ts="1.2",
    )
    await notifier.update_card(bought)
    await notifier.update_copy(bought, "U0BOB", "D0BOB", "7.8")
    card, copy = client.calls
    assert card[1]["channel"] == "C0APPROVALS" and card[1]["ts"] == "1.2"
    for call in (card, copy):
        assert "Approved by <@U0BOB> and <@U0CAROL>; *purchased*." in shown(call)


async def test_notices_and_the_digest_go_to_the_digest_channel_and_alerts_stay_with_the_card():
    client = RecordingClient()
    notifier = SlackNotifier(
        client, approval_channel="C0APPROVALS", sandbox=False, digest_channel="C0DIGEST"
    )
    await notifier.post_notice("The wallet lasts about 3 more days.")
    placed = await notifier.post_digest(
        Digest(
            DaySummary(date(2030, 1, 1), Decimal("2.15"), 0, 1, {"purchased": 1}, 0, {}),
            "ab" * 32,
            7,
        )
    )
    await notifier.alert("The audit log does not verify.")
    await notifier.post_card(make_request(), balance=None)
    assert placed == ("C0DIGEST", "2.0")
    assert [(c[0], c[1]["channel"]) for c in client.calls] == [
        ("chat.postMessage", "C0DIGEST"),
        ("chat.postMessage", "C0DIGEST"),
        ("chat.postMessage", "C0APPROVALS"),
        ("chat.postMessage", "C0APPROVALS"),
    ]
    assert "daily digest" in client.calls[1][1]["text"]
    unset = SlackNotifier(RecordingClient(), approval_channel="C0APPROVALS", sandbox=False)
    assert unset.digest_channel == "C0APPROVALS"  # by default, the approval channel

"""handlers/blocks/costs.py: the wallet with its runway, the idle list, months of spend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from bot.flowyte.models import Wallet
from bot.kernel.costs import NOT_READ, MonthlyBill, lasts, monthly_bill
from bot.kernel.outcomes import IdleList, SpendMonth, SpendReport, WalletView
from handlers import ids
from handlers.blocks.costs import build_idle, build_spend, build_wallet
from storage.owned import OwnedRow

D = Decimal


def text_of(message) -> str:
    parts = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            parts.append(element.get("text", ""))
    return "\n".join(str(p) for p in parts)


def wallet(balance="9.20", enabled=False) -> Wallet:
    return Wallet.model_validate(
        {
            "balanceUsd": balance,
            "autoReloadEnabled": enabled,
            "autoReloadThresholdUsd": "5",
            "autoReloadAmountUsd": "25",
        }
    )


def wallet_view(**changes) -> WalletView:
    bill = monthly_bill([(D("1.15"), 30)])
    fields = {
        "wallet": wallet(),
        "bill": bill,
        "runway": lasts(D("9.20"), bill),
        "budget": "This month: $12.00 of $100.00",
        "idle": 3,
        "idle_bill": monthly_bill([(D("1.15"), 3)]),
    }
    return WalletView(**{**fields, **changes})


def test_the_wallet_says_balance_reload_bill_runway_budget_and_idle():
    text = text_of(build_wallet(wallet_view(), sandbox=False))
    assert "Wallet balance: *$9.20*: lasts about 8 days at $34.50 a month." in text
    assert "Auto-reload is off." in text
    assert "30 numbers owned: $34.50 a month" in text
    assert "This month: $12.00 of $100.00" in text
    assert "3 numbers reach nobody: $3.45 a month" in text and "/numbers idle" in text


def test_a_wallet_read_before_the_numbers_are_says_so_never_zero():
    text = text_of(build_wallet(WalletView(wallet(), reading=300), sandbox=False))
    assert (
        "Wallet balance: *$9.20*.\n" in text and "lasts about" not in text and "$0.00" not in text
    )
    assert "numbot is still reading the organization's numbers from Flowyte (300 so far)" in text
    idle = IdleList([], 0, monthly_bill([]), 0, frozenset(), True, reading=1200)
    text = text_of(build_idle(idle, sandbox=False))
    assert "(1,200 so far): the numbers that reach nobody follow" in text
    assert "Every owned number" not in text


def test_the_wallet_with_auto_reload_on_says_what_it_adds():
    text = text_of(build_wallet(wallet_view(wallet=wallet(enabled=True), idle=0), sandbox=False))
    assert "Auto-reload is on: it adds $25.00 whenever the balance falls below $5.00." in text
    assert "reach nobody" not in text


def test_a_plain_wallet_still_reads():
    text = text_of(build_wallet(wallet(), sandbox=False))
    assert "Wallet balance: *$9.20*." in text


def idle_list(rows, total=None, known=True) -> IdleList:
    bill = monthly_bill([(r.monthly_cost, 1) for r in rows])
    return IdleList(
        rows, len(rows) if total is None else total, bill, 0, frozenset({"agt_draft"}), known
    )


def test_the_idle_list_names_why_and_what_each_costs_with_request_release():
    rows = [
        OwnedRow("+14155550100", "num_1", None, D("1.15")),
        OwnedRow("+18005550100", "num_2", "agt_draft", D("2.00")),
        OwnedRow("+14155550102", "num_3", None, None),
    ]
    message = build_idle(idle_list(rows), sandbox=False)
    text = text_of(message)
    assert "3 numbers reach nobody: at least $3.15 a month (1 number's cost unknown)" in text
    assert "+14155550100* · no agent · $1.15 a month" in text
    assert "agent `agt_draft` never published · $2.00 a month · toll-free" in text
    assert "cost unknown" in text
    buttons = [b["accessory"] for b in message["blocks"] if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ids.REQUEST_RELEASE, r.e164) for r in rows
    ]
    assert all(b["accessibility_label"].startswith("Request release of +1") for b in buttons)


def test_flowyte_s_ids_in_the_idle_list_are_escaped():
    rows = [
        OwnedRow("+14155550100", "num_1", "<!channel>`*x*", D("1.15")),
        OwnedRow("<!here>", "num_2", None, D("1.15")),
    ]
    message = build_idle(idle_list(rows), sandbox=False)
    text = text_of(message)
    assert "<!channel>" not in text and "<!here>" not in text
    assert "agent `&lt;!channel&gt;'*x*` never published" in text
    assert "*&lt;!here&gt;* · no agent" in text


def paging(message) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in message["blocks"]
        if b.get("block_id") == "paging"
        for e in b["elements"]
    ]


def test_an_idle_list_longer_than_a_page_pages_with_previous_and_next():
    rows = [OwnedRow(f"+1415555{i:04d}", f"num_{i}", None, D("1")) for i in range(20)]
    first = build_idle(idle_list(rows, total=45), sandbox=False)
    assert "Page 1 of 3: numbers 1–20 of 45" in text_of(first)
    assert paging(first) == [(ids.IDLE_NEXT, "1")]
    middle = build_idle(replace(idle_list(rows, total=45), page=1), sandbox=False)
    assert "Page 2 of 3: numbers 21–40 of 45" in text_of(middle)
    assert paging(middle) == [(ids.IDLE_PREVIOUS, "0"), (ids.IDLE_NEXT, "2")]
    last = build_idle(replace(idle_list(rows[:5], total=45), page=2), sandbox=False)
    assert paging(last) == [(ids.IDLE_PREVIOUS, "1")]
    assert paging(build_idle(idle_list(rows, total=20), sandbox=False)) == []  # one page


def test_no_idle_number_is_said_plainly_and_honestly_when_agents_are_unknown():
    assert "Every owned number reaches an agent" in text_of(
        build_idle(idle_list([]), sandbox=False)
    )
    unknown = text_of(build_idle(idle_list([], known=False), sandbox=False))
    assert "could not read the agents" in unknown


def test_spend_draws_a_bar_per_month_and_never_calls_unreadable_zero():
    months = [
        SpendMonth(
            "2026-10", D("34.50"), "", 2, 0, D("2.00"), D("2.30"), 0, {"U0ALICE": D("4.30")}
        ),
        SpendMonth("2026-11", None, "Flowyte is unavailable", 1, 1, D("1"), D("1.15"), 0),
        SpendMonth("2026-12", D("17.25"), "", 0, 0, D(0), D(0), 1),
    ]
    report = SpendReport(months, [("U0ALICE", D("4.30"))])
    text = text_of(build_spend(report, sandbox=False))
    assert "*2026-10* `" + "█" * 16 + "`" in text
    assert "*2026-12* `" + "█" * 8 + "`" in text
    assert "Flowyte charged $34.50 for numbers" in text
    assert "Flowyte's charges could not be read" in text and "$0.00 for numbers" not in text
    assert "numbot bought 2 ($2.00 setup + $2.30 first months), released 0" in text
    assert "1 without a readable price" in text
    assert "Top requesters: <@U0ALICE> $4.30" in text


def test_spend_says_a_month_not_read_yet_and_the_month_under_way_as_of_its_read():
    read = datetime(2027, 1, 20, 9, 30, tzinfo=UTC)
    months = [
        SpendMonth("2026-12", D("17.25"), "", 0, 0, D(0), D(0), 0, read_at=read, complete=True),
        SpendMonth("2027-01", D("3.45"), "", 0, 0, D(0), D(0), 0, read_at=read),
        SpendMonth("2027-02", None, NOT_READ, 0, 0, D(0), D(0), 0),
        SpendMonth("2027-03", None, "Flowyte said <!channel>", 0, 0, D(0), D(0), 0),
    ]
    text = text_of(build_spend(SpendReport(months, []), sandbox=False))
    final, under_way, unread, failed = text.split("*2027-01*")[0], *text.split("*2027-0")[1:]
    assert "Flowyte charged $17.25 for numbers ·" in final  # final: no "as of"
    assert f"Flowyte charged $3.45 for numbers (as of <!date^{int(read.timestamp())}^" in under_way
    assert "Flowyte's charges: not read yet" in unread and "charged $0.00" not in unread
    assert "could not be read: Flowyte said &lt;!channel&gt;" in failed


def test_the_monthly_bill_words_reach_the_wallet():
    assert MonthlyBill(D("1"), 1, 0).words() == "$1.00 a month"


def test_a_toll_free_number_says_its_surcharge_in_search_results_and_on_its_card():
    from bot.flowyte.models import AvailableNumber, SearchQuery
    from handlers.blocks.requests import build_approval_card
    from handlers.blocks.search import build_search_results
    from tests.handlers.test_blocks import make_request

    numbers = [
        AvailableNumber.model_validate({"e164": e, "monthlyCost": "2.00", "setupCost": "1.00"})
        for e in ("+18885550100", "+14155550100")
    ]
    found = build_search_results(SearchQuery(area_code="888"), numbers, sandbox=False)
    rows = {b["block_id"]: b["text"]["text"] for b in found["blocks"] if "block_id" in b}
    assert "every inbound minute costs $0.02 more" in rows["number:+18885550100"]
    assert "inbound minute" not in rows["number:+14155550100"]
    for status in ("pending", "purchased"):
        card = build_approval_card(
            make_request(e164="+18885550100", status=status), balance=None, sandbox=False
        )
        assert "Toll-free: every inbound minute costs $0.02 more." in text_of(card)
    local = build_approval_card(make_request(e164="+14155550100"), balance=None, sandbox=False)
    assert "inbound minute" not in text_of(local)


def test_the_card_says_what_the_bill_becomes_while_it_waits():
    from handlers.blocks.requests import build_approval_card
    from tests.handlers.test_blocks import make_request

    bill = "numbers: $34.50 → $35.65 a month; the wallet then lasts about 7 days"
    card = build_approval_card(
        make_request(status="pending"), balance=None, sandbox=False, bill=bill
    )
    assert f"*Bill:* {bill}" in text_of(card)
    done = build_approval_card(
        make_request(status="purchased"), balance=None, sandbox=False, bill=bill
    )
    assert "*Bill:*" not in text_of(done)

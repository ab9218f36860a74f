"""bot/workflow/bill.py against the sandbox: the wallet with its runway, the numbers that
reach nobody, the low-wallet warning once a day, and months of spend from the sealed log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from bot.kernel.outcomes import Decided, Held, IdleList, Requested, SpendReport, WalletView
from bot.workflow.policy import Policy
from storage.owned import OwnedRow
from tests.bot.conftest import APPROVER, APPROVERS, REQUESTER, RecordingNotifier

D = Decimal


async def index(env, *rows: tuple[str, str | None, str | None], complete: bool = True) -> None:
    """Put numbers in numbot's index of owned numbers, as a refresh of Flowyte's list would
    (`complete`: and one has read it to its end)."""
    owned, since = env.storage.owned, datetime(2000, 1, 1, tzinfo=UTC)
    await env.storage.run(owned.refresh_started, since)
    await env.storage.run(
        owned.put,
        [
            OwnedRow(e164, f"num_{e164[1:]}", agent, None if cost is None else D(cost))
            for e164, agent, cost in rows
        ],
        env.clock(),
    )
    await env.storage.run(owned.refresh_seen, len(rows))
    if complete:
        await env.storage.run(owned.refresh_finished, env.clock(), since, complete=True)


THIRTY = [(f"+1415555{i:04d}", "agt_support", "1.15") for i in range(27)] + [
    ("+16465550001", None, "1.15"),  # routed to no agent
    ("+16465550002", "agt_draft", "1.15"),  # to an agent never published
    ("+18005550003", None, "1.15"),  # toll-free, no agent
]


async def test_the_wallet_says_what_the_numbers_cost_and_how_long_it_lasts(env):
    await index(env, *THIRTY)
    env.sandbox.balance = D("9.20")
    view = await env.service.wallet(REQUESTER)
    assert isinstance(view, WalletView)
    assert view.bill is not None and view.bill.total == D("34.50") and view.bill.numbers == 30
    assert view.runway == "lasts about 8 days at $34.50 a month"
    assert view.idle == 3 and view.idle_bill is not None and view.idle_bill.total == D("3.45")
    assert view.budget is None  # no policy, no budget
    seen = await env.storage.run(env.storage.costs.wallet_seen)
    assert seen is not None and seen.balance_usd == D("9.20")  # kept for Home and cards


async def test_before_the_index_is_first_read_whole_no_cost_is_claimed(env):
    """300 of 50,000 read so far: not "$0.00 a month", nor a bill of the 300."""
    await index(env, *THIRTY, complete=False)
    env.sandbox.balance = D("9.20")
    view = await env.service.wallet(REQUESTER)
    assert isinstance(view, WalletView) and view.reading == 30
    assert view.bill is None and view.runway is None and view.idle == 0
    idle = await env.service.idle(REQUESTER)
    assert idle.reading == 30 and idle.rows == [] and idle.total == 0
    assert (await env.service.home(REQUESTER)).costs is None
    held = await env.service.reserve(REQUESTER, env.e164(0))
    assert isinstance(held, Held)
    await env.service.request_purchase(REQUESTER, held.request.id, "support line")
    assert env.notifier.bills == [
        "numbers: not known yet (numbot is still reading them: 30 so far)"
    ]
    await index(env, *THIRTY)  # the read ends
    view = await env.service.wallet(REQUESTER)
    assert isinstance(view, WalletView) and view.reading is None
    assert view.runway == "lasts about 8 days at $34.50 a month"
    assert (await env.service.home(REQUESTER)).costs is not None


async def test_idle_lists_unrouted_and_unpublished_numbers_in_order(env):
    await index(env, *THIRTY)
    idle = await env.service.idle(REQUESTER)
    assert isinstance(idle, IdleList) and idle.agents_known
    assert [r.e164 for r in idle.rows] == ["+16465550001", "+16465550002", "+18005550003"]
    assert idle.total == 3 and idle.bill.total == D("3.45")
    assert idle.unpublished == frozenset({"agt_draft"})
    entry = env.audit()[-1]
    assert (entry.actor, entry.action, entry.outcome) == (REQUESTER, "idle", "ok")


async def test_an_organization_without_agents_is_read_not_unreadable(env):
    env.sandbox.agents.clear()
    await index(env, *THIRTY)
    idle = await env.service.idle(REQUESTER)
    assert idle.agents_known and idle.total == 2  # the two routed to no agent
    await env.service.bill.look()  # the numbers that reach nobody are noted since when
    assert await noted(env) == 2


async def test_agents_flowyte_cannot_list_are_unreadable(env):
    await index(env, *THIRTY)
    env.transport.fail("GET", "/agents", 503, times=5)
    idle = await env.service.idle(REQUESTER)
    assert not idle.agents_known and idle.total == 2  # only those routed to no agent
    env.transport.fail("GET", "/agents", 503, times=5)
    await env.new_service().bill.look()
    assert await noted(env) == 0


async def noted(env) -> int:
    """How many numbers numbot has noted as reaching nobody (with since when)."""
    db = env.storage.costs.db
    return int(
        await env.storage.run(lambda: db.execute("SELECT count(*) FROM idle_numbers").fetchone()[0])
    )


async def test_the_first_look_after_install_names_no_idle_number_new(env):
    """Numbers idle before numbot looked are the baseline: the digest names none of them;
    one that begins to reach nobody later is new. Nothing is noted before the index is whole."""
    await index(env, *THIRTY, complete=False)
    await env.service.bill.look()
    assert await noted(env) == 0  # the first read of the numbers is not over
    await index(env, *THIRTY)
    env.clock.advance(minutes=11)
    await env.service.bill.look()
    assert await noted(env) == 3
    assert await env.storage.run(env.storage.costs.idle_since, env.clock() - timedelta(days=1)) == (
        [],
        0,
    )
    await index(env, ("+16465550009", None, "1.15"))
    env.clock.advance(minutes=11)
    await env.service.bill.look()
    since = env.clock() - timedelta(days=1)
    assert await env.storage.run(env.storage.costs.idle_since, since) == (["+16465550009"], 1)


async def test_idle_numbers_page_by_number_and_a_page_past_the_end_is_the_last(env):
    await index(env, *[(f"+1628555{i:04d}", None, "1.15") for i in range(45)], *THIRTY)
    first = await env.service.idle(REQUESTER, rows=20)
    assert first.total == 48 and first.page == 0 and len(first.rows) == 20
    second = await env.service.idle(REQUESTER, 1, rows=20)
    assert second.rows[0].e164 == first.rows[-1].e164[:-2] + "20"
    last = await env.service.idle(REQUESTER, 99, rows=20)
    assert last.page == 2 and len(last.rows) == 8 and last.rows[-1].e164 == "+18005550003"
    assert last.bill.total == D("55.20")  # every page says the whole total
    seen = [r.e164 for page in (first, second, last) for r in page.rows]
    assert len(seen) == len(set(seen)) == 48 and seen == sorted(seen)


async def test_the_low_wallet_warning_goes_once_a_day_and_its_clearing_once(env):
    service = env.new_service(runway_alert_days=14, wallet_look_minutes=10)
    await index(env, *THIRTY)
    env.sandbox.balance = D("9.20")  # 8 days of $34.50 a month
    await service.bill.look()
    [warning] = env.notifier.notices
    assert "$9.20 pays for about 8 days of the numbers' $34.50 a month" in warning
    assert "Auto-reload is off" in warning and "Top up in the Flowyte dashboard" in warning
    await service.bill.look()  # too soon to look again
    env.clock.advance(minutes=11)
    await service.bill.look()  # looked again: still low, but warned today already
    assert len(env.notifier.notices) == 1
    env.clock.advance(days=1)
    await service.bill.look()
    assert len(env.notifier.notices) == 2  # a new day, still low: said again
    env.sandbox.balance = D("100.00")
    env.clock.advance(minutes=11)
    await service.bill.look()
    assert "no longer running low" in env.notifier.notices[-1] and len(env.notifier.notices) == 3
    env.clock.advance(minutes=11)
    await service.bill.look()
    assert len(env.notifier.notices) == 3  # cleared once
    actions = [e.action for e in env.audit() if e.action in ("wallet_low", "wallet_ok")]
    assert actions == ["wallet_low", "wallet_low", "wallet_ok"]


class FlakyNotices(RecordingNotifier):
    """Slack will not take the first `failures` notices."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def post_notice(self, text: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("slack said no")
        await super().post_notice(text)


async def test_a_warning_slack_would_not_take_is_audited_failed_and_tried_again(env):
    notifier = FlakyNotices(failures=1)
    service = env.new_service(notifier=notifier)
    await index(env, *THIRTY)
    env.sandbox.balance = D("9.20")
    await service.bill.look()
    assert notifier.notices == []
    env.clock.advance(minutes=11)
    await service.bill.look()  # the same day: the day's claim was given back
    [warning] = notifier.notices
    assert "running low" in warning
    outcomes = [e.outcome for e in env.audit() if e.action == "wallet_low"]
    assert outcomes == ["failed", "ok"]
    env.clock.advance(minutes=11)
    await service.bill.look()
    assert len(notifier.notices) == 1  # posted today: not again

    notifier.failures = 1
    env.sandbox.balance = D("500")
    env.clock.advance(minutes=11)
    await service.bill.look()
    env.clock.advance(minutes=11)
    await service.bill.look()
    assert "no longer running low" in notifier.notices[-1] and len(notifier.notices) == 2
    outcomes = [e.outcome for e in env.audit() if e.action == "wallet_ok"]
    assert outcomes == ["failed", "ok"]


async def test_the_warning_s_day_is_the_utc_day_whatever_the_clock_s_zone(env):
    service = env.new_service()
    await index(env, *THIRTY)
    env.sandbox.balance = D("9.20")
    # 23:30 on March 1 in New York is 04:30 UTC on March 2.
    env.clock.now = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    await service.bill.look()
    state = await env.storage.run(env.storage.costs.alert_state)
    assert state.warned_on == "2026-03-02"


async def test_auto_reload_that_refills_the_wallet_means_no_warning(env):
    service = env.new_service()
    await index(env, *THIRTY)
    env.sandbox.balance = D("2.00")
    env.sandbox.wallet.auto_reload_enabled = True
    await service.bill.look()
    assert env.notifier.notices == []


async def test_two_processes_warn_once(env):
    first, second = env.new_service(), env.new_service(fresh_db=True)
    await index(env, *THIRTY)
    env.sandbox.balance = D("1.00")
    await first.bill.look()
    await second.bill.look()
    assert len(env.notifier.notices) == 1


async def test_a_wallet_flowyte_cannot_read_warns_nobody_and_says_why_in_the_log(env, caplog):
    service = env.new_service()
    await index(env, *THIRTY)
    env.transport.fail("GET", "/billing/wallet", 503, times=5)
    await service.bill.look()
    assert env.notifier.notices == [] and "could not be read for its runway" in caplog.text


async def bought(env, index_: int) -> str:
    held = await env.service.reserve(REQUESTER, env.e164(index_))
    assert isinstance(held, Held)
    requested = await env.service.request_purchase(REQUESTER, held.request.id, "support line")
    assert isinstance(requested, Requested)
    decided = await env.service.approve(APPROVER, requested.request.id)
    assert isinstance(decided, Decided) and decided.request.status == "purchased", decided
    return decided.request.e164


async def test_spend_sets_flowyte_s_charges_beside_what_numbot_bought(env):
    # The audit log stamps entries with the real time: the months must be real ones too.
    env.clock.now = datetime.now(UTC).replace(day=15, hour=12)
    env.sandbox.balance = D("100")
    env.sandbox.charge("number", D(3), D("345"), "monthly rental", env.clock() - timedelta(days=31))
    env.sandbox.charge("voice", D(10), D("90"), "calls", env.clock() - timedelta(days=31))
    await bought(env, 0)
    await bought(env, 1)
    report = await env.service.spend(REQUESTER)
    assert isinstance(report, SpendReport) and len(report.months) == 6
    last, before = report.months[-1], report.months[-2]
    assert last.month == env.clock().strftime("%Y-%m")
    assert last.bought == 2 and last.unpriced == 0
    assert last.charged == last.numbot_total  # Flowyte charged what numbot sealed
    assert before.charged == D("3.45") and before.bought == 0  # voice is not counted
    assert report.top == [(REQUESTER, last.numbot_total)]
    # A month that has ended is read once; the month under way is reused a while.
    reads = len(env.app.calls("GET", "/billing/usage/items"))
    await env.service.spend(REQUESTER)
    assert len(env.app.calls("GET", "/billing/usage/items")) == reads


async def test_a_month_flowyte_cannot_read_is_unreadable_never_zero(env):
    env.transport.fail("GET", "/billing/usage/items", 503, times=50)
    report = await env.service.spend(REQUESTER)
    assert all(m.charged is None and m.unreadable for m in report.months)


async def test_a_purchase_card_says_what_the_bill_becomes_with_the_wallet_after_it(env):
    await index(env, *THIRTY)
    env.sandbox.balance = D("9.20")
    held = await env.service.reserve(REQUESTER, env.e164(0))
    assert isinstance(held, Held)
    await env.service.request_purchase(REQUESTER, held.request.id, "support line")
    [bill] = env.notifier.bills
    monthly, total = held.request.monthly_cost, held.request.total_cost
    assert monthly is not None and total is not None
    assert bill is not None and bill.startswith(f"numbers: $34.50 → ${D('34.50') + monthly}")
    # The balance once this number is paid for, at the bill with it: whole days, rounded down.
    after = (D("9.20") - total) * D("30.4375") / (D("34.50") + monthly)
    before = D("9.20") * D("30.4375") / (D("34.50") + monthly)
    assert int(after) != int(before)
    assert bill.endswith(f"; the wallet then lasts about {int(after)} days")


async def test_the_card_keeps_its_bill_and_budget_when_redrawn_while_it_waits(env):
    """A first approval under a quorum of two redraws the card, still waiting: the Bill line
    and the budget stay on it (computed again, with the balance the card first showed)."""
    policy = {"monthly_budget_usd": "100", "quorum": [{"above_usd": "1", "approvals": 2}]}
    service = env.new_service(policy=Policy.model_validate(policy))
    await index(env, *THIRTY)
    env.sandbox.balance = D("9.20")
    held = await service.reserve(REQUESTER, env.e164(0))
    assert isinstance(held, Held)
    await service.request_purchase(REQUESTER, held.request.id, "support line")
    [bill] = env.notifier.bills
    env.sandbox.balance = D("500")  # what the card showed is what the redraw says
    first = await service.approve(APPROVER, held.request.id)
    assert isinstance(first, Decided) and first.request.status == "pending"
    budget, redrawn = env.notifier.updated_lines[-1]
    assert redrawn == bill and bill is not None
    assert budget is not None and budget.startswith("This month: ") and "of $100.00" in budget
    last = await service.approve(APPROVERS[1], held.request.id)
    assert isinstance(last, Decided) and last.request.status == "purchased"
    assert env.notifier.updated_lines[-1] == (None, None)  # history now: no bill to decide on

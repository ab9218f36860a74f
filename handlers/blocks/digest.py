"""The daily digest in the approval channel: yesterday's money and requests, refusals, and
the audit log's head hash, so a copy of the chain head lives outside the database."""

from __future__ import annotations

from bot.kernel.money import usd
from bot.kernel.outcomes import DaySummary, Digest
from handlers.blocks.common import Block, Message, context, escape, flowyte_id, message, section

OUTCOMES = ("purchased", "released", "failed", "rejected", "cancelled", "expired")
# A status in the digest's own words (docs/glossary.md): a hold lapses, an outcome Flowyte
# has not settled is still being confirmed.
SAID = {"expired": "lapsed"}


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def _spend(summary: DaySummary) -> str:
    bought = summary.outcomes.get("purchased", 0)
    line = f"*Spent:* {usd(summary.spent)} on {_plural(bought, 'purchase')}"
    if summary.unpriced:
        line += f" ({summary.unpriced:,} of them with no recorded amount, not in the sum)"
    return line


def _requests(summary: DaySummary) -> str:
    ended = [f"{SAID.get(state, state)} {summary.outcomes.get(state, 0):,}" for state in OUTCOMES]
    checking = f"still confirming {summary.still_checking:,}"
    if summary.still_checking:
        checking = f":mag: *{checking}* (outcome not yet known; each card says so)"
    return " · ".join([f"*Requests:* {summary.requested:,} new", *ended, checking])


def _refusals(summary: DaySummary) -> str:
    total = sum(summary.refusals.values())
    if not total:
        return "*Refusals:* none"
    by_action = ", ".join(f"{escape(action)} {n:,}" for action, n in summary.refusals.items())
    return f"*Refusals:* {total:,} ({by_action})"


def _fallback(digest: Digest) -> str:
    summary = digest.summary
    day = summary.day.isoformat()
    if summary.quiet:
        return (
            f"numbot daily digest for {day} (UTC): nothing happened. Audit head {digest.head[:12]}…"
        )
    bought = summary.outcomes.get("purchased", 0)
    refused = sum(summary.refusals.values())
    return (
        f"numbot daily digest for {day} (UTC): {usd(summary.spent)} spent on "
        f"{_plural(bought, 'purchase')}, {_plural(summary.requested, 'new request')}, "
        f"{_plural(refused, 'refusal')}. Audit head {digest.head[:12]}…"
    )


def _new_idle(summary: DaySummary) -> str | None:
    """`:warning: 2 numbers began to reach nobody: +1…, +1…` (the rest counted)."""
    total = summary.new_idle_total
    if not total:
        return None
    named = ", ".join(flowyte_id(e164) for e164 in summary.new_idle)
    rest = total - len(summary.new_idle)
    if rest > 0:
        named += f" and {rest} more"
    began = "number began" if total == 1 else "numbers began"
    return f":warning: *{total} {began} to reach nobody:* {named} (`/numbers idle`)"


def build_digest(digest: Digest, *, sandbox: bool) -> Message:
    summary = digest.summary
    day = summary.day.isoformat()
    blocks: list[Block] = [section(f":bar_chart: *numbot daily digest: {day}* (UTC)")]
    if summary.quiet:
        blocks.append(section("A quiet day: no requests, no purchases, no refusals."))
    else:
        lines = [_spend(summary), _requests(summary), _refusals(summary)]
        idle = _new_idle(summary)
        if idle:
            lines.append(idle)
        blocks.append(section("\n".join(lines)))
    blocks.append(
        section(f"*Audit log:* {_plural(digest.entries, 'entry', 'entries')}, head `{digest.head}`")
    )
    blocks.append(
        context(
            "Keep this message: it is a copy of the audit chain's head outside numbot's "
            "database. `numbot audit verify --expect-head` given this head fails if the log "
            "has since been cut short or rewritten."
        )
    )
    return message(_fallback(digest), blocks, sandbox=sandbox)

"""The daily digest message: structure, Slack's limits, and what it tells the channel."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from bot.kernel.outcomes import DaySummary, Digest
from handlers.blocks.common import SANDBOX_NOTE
from handlers.blocks.digest import build_digest
from tests.handlers.test_blocks import all_text, check_limits, mrkdwn_texts

HEAD = "ab" * 32
OWN_MARKUP = re.compile(r"<(?:@U[A-Z0-9]+|#C[A-Z0-9]+|!date\^[0-9]+\^[^<>|]*\|[^<>]*)>")


def summary(**changes) -> DaySummary:
    values = {
        "day": date(2026, 11, 27),
        "spent": Decimal("0"),
        "unpriced": 0,
        "requested": 0,
        "outcomes": dict.fromkeys(
            ("purchased", "released", "failed", "rejected", "cancelled", "expired"), 0
        ),
        "still_checking": 0,
        "refusals": {},
    }
    values.update(changes)
    return DaySummary(**values)


BUILDERS = {
    "digest_quiet": lambda s: build_digest(Digest(summary(), HEAD, 1), sandbox=s),
    "digest": lambda s: build_digest(
        Digest(
            summary(
                spent=Decimal("4.30"),
                requested=3,
                outcomes={**summary().outcomes, "purchased": 2, "expired": 1},
                refusals={"approve": 2, "reserve": 1},
            ),
            HEAD,
            1234,
        ),
        sandbox=s,
    ),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("sandbox", [True, False])
def test_within_slack_limits_with_a_meaningful_fallback(name, sandbox):
    message = BUILDERS[name](sandbox)
    check_limits(message)
    if sandbox:
        assert message["text"].endswith(" [SANDBOX]")
        assert message["blocks"][0]["elements"][0]["text"] == SANDBOX_NOTE
    else:
        assert "SANDBOX" not in all_text(message)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_no_markup_but_numbot_s_own_mentions_and_dates(name):
    for text in mrkdwn_texts(BUILDERS[name](False)):
        rest = OWN_MARKUP.sub("", text)
        assert "<" not in rest and ">" not in rest, text


# --------------------------------------------------------------------------- the digest


def test_the_digest_shows_spend_outcomes_refusals_and_the_full_head():
    message = BUILDERS["digest"](False)
    text = all_text(message)
    assert "2026-11-27" in text and "(UTC)" in text
    assert "*Spent:* $4.30 on 2 purchases" in text
    assert (
        "3 new" in text and "purchased 2" in text and "lapsed 1" in text and "expired" not in text
    )
    assert "still confirming 0" in text
    assert "*Refusals:* 3 (approve 2, reserve 1)" in text
    assert f"`{HEAD}`" in text and "1,234 entries" in text
    assert "--expect-head" in text
    # What phones and screen readers show names the day, the money and the head.
    assert message["text"].startswith("numbot daily digest for 2026-11-27")
    assert "$4.30" in message["text"] and HEAD[:12] in message["text"]


def test_a_quiet_day_is_short_and_still_carries_the_head():
    message = BUILDERS["digest_quiet"](False)
    text = all_text(message)
    assert "quiet day" in text and f"`{HEAD}`" in text and "1 entry," in text
    assert "Spent" not in text
    assert "nothing happened" in message["text"]


def test_requests_still_checking_are_flagged():
    message = build_digest(Digest(summary(still_checking=2), HEAD, 9), sandbox=False)
    assert ":mag: *still confirming 2*" in all_text(message)


def test_an_unpriced_purchase_is_named_not_summed():
    day = summary(
        outcomes={**summary().outcomes, "purchased": 2}, spent=Decimal("2.15"), unpriced=1
    )
    text = all_text(build_digest(Digest(day, HEAD, 9), sandbox=False))
    assert "$2.15 on 2 purchases (1 of them with no recorded amount" in text


def test_refusal_names_are_escaped():
    day = summary(refusals={"<!channel>": 1})
    texts = mrkdwn_texts(build_digest(Digest(day, HEAD, 9), sandbox=False))
    assert not any("<!channel>" in t for t in texts)


def test_the_digest_names_new_idle_numbers_and_counts_the_rest():
    idle = summary(new_idle=("+16465550000", "+16465550001"), new_idle_total=5)
    text = "\n".join(mrkdwn_texts(build_digest(Digest(idle, HEAD, 9), sandbox=False)))
    assert "*5 numbers began to reach nobody:* +16465550000, +16465550001 and 3 more" in text
    assert "quiet day" not in text


def test_new_idle_numbers_from_flowyte_are_escaped():
    idle = summary(new_idle=("<!channel>", "+1646`<@U1>"), new_idle_total=2)
    text = "\n".join(mrkdwn_texts(build_digest(Digest(idle, HEAD, 9), sandbox=False)))
    assert "<!channel>" not in text and "<@U1>" not in text
    assert "&lt;!channel&gt;, +1646'&lt;@U1&gt;" in text

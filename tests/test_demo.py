"""`numbot demo` tells the whole story on the sandbox and ends with an intact audit log."""

import io
import subprocess
import sys

from bot.process.demo import run_demo


async def test_demo_story(tmp_path):
    out = io.StringIO()
    assert await run_demo(db_path=str(tmp_path / "demo.db"), out=out) == 0
    text = out.getvalue()
    order = [
        "/numbers search 415",
        "Reserve",
        "#approvals (everyone in the channel sees)",
        "*Approvers:* @bob @carol",  # the approvers are called on, on the card
        "someone else must approve it",  # alice refused on her own request
        "*Reminder*: @bob @carol the purchase",  # the approvers' reminder, in the thread
        "the hold lapses",
        "The approvers were reminded",  # ...and the requester's
        "numbot draws @bob's Home tab",  # an approver's Home...
        "── Waiting for you ──",
        ":shopping_trolley: *@alice asks to buy",  # ...shows her request
        "Your approval is counted: 1 of 2",  # a quorum of two, by the demo's policy
        "already counted (1 of 2)",  # the same approver counts once
        "Approved by @bob and @carol; *purchased*",  # every approver, on the final card
        "Already approved by @carol",  # a late click buys nothing
        "numbot draws @alice's Home tab",
        "$2.15 on 1 number",  # this month's spend
        "bought (approved by @carol)",
        ":warning: _rings no agent_",  # the new number, not routed yet
        "never been published",
        "Published `agt_draft`",
        "audit log intact",
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    bob_home = text[text.index("numbot draws @bob's Home tab") :].split("▶")[0]
    assert "[ Approve ]   [ Reject… ]" in bob_home  # the card's buttons, on Home
    assert text.count("purchase          ok") == 1  # one purchase in the audit log
    assert "SANDBOX" in text


def test_demo_runs_as_a_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "audit log intact" in done.stdout

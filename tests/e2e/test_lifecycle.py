"""The rest of the guide's lifecycle: wallet, list, import, unassign, and release with four eyes."""

import threading
import time

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    APPROVAL_CHANNEL,
    BOB,
    BotProcess,
    both_engines,
    find_element,
    reply,
    texts,
)
from tests.e2e.test_golden_path import run_cli


def test_wallet_import_list_unassign_and_release(bot, slack, flowyte):
    _, rid = bot.command("wallet", user=ALICE)
    assert "$25.00" in texts(reply(slack, rid)) and "dashboard" in texts(reply(slack, rid))

    _, rid = bot.command("import +14155550999 agt_support", user=ALICE)
    assert "Imported +14155550999" in texts(reply(slack, rid))
    assert flowyte.calls("POST", "/numbers/import")[0].json == {
        "e164": "+14155550999",
        "agentId": "agt_support",
    }
    assert str(flowyte.sandbox.balance) == "25.00"  # no charge

    _, rid = bot.command("list", user=ALICE)
    assert "+14155550999" in texts(reply(slack, rid)) and "Support line" in texts(reply(slack, rid))

    _, rid = bot.command("unassign +14155550999", user=ALICE)
    assert "still own it" in texts(reply(slack, rid))
    assert flowyte.calls("DELETE", path_regex=r"/numbers/[^/]+/assign$")

    _, rid = bot.command("release +14155550999 no longer needed", user=ALICE)
    assert "requested" in texts(reply(slack, rid)).lower()
    card = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.body.get("channel") == APPROVAL_CHANNEL
    )[-1]
    assert "cannot be undone" in texts(card.body)
    request_id = find_element(card.body, ids.APPROVE)["value"]
    _, rid = bot.click(ids.APPROVE, request_id, user=ALICE, channel=APPROVAL_CHANNEL)
    assert "someone else must approve" in texts(reply(slack, rid))
    assert flowyte.calls("DELETE", path_regex=r"/numbers/num_[^/]+$") == []
    _, rid = bot.click(ids.APPROVE, request_id, user=BOB, channel=APPROVAL_CHANNEL)
    assert "Released" in texts(reply(slack, rid))
    assert len(flowyte.calls("DELETE", path_regex=r"/numbers/num_[^/]+$")) == 1
    slack.wait_for(lambda c: c.method == "chat.update" and "released" in texts(c.body))
    _, rid = bot.command("list", user=ALICE)
    assert "owns no numbers" in texts(reply(slack, rid))


def test_assign_by_command_warns_about_an_unpublished_agent(bot, slack, flowyte):
    _, rid = bot.command("import +14155550998", user=ALICE)
    reply(slack, rid)
    _, rid = bot.command("assign +14155550998 agt_draft", user=ALICE)
    routed = reply(slack, rid)
    assert "never been published" in texts(routed)
    assert find_element(routed, ids.PUBLISH)["value"] == "agt_draft"
    _, rid = bot.command("publish agt_draft", user=ALICE)
    assert "Published" in texts(reply(slack, rid))
    _, rid = bot.command("assign +14155550111 agt_draft", user=ALICE)
    assert "not one of this organization's numbers" in texts(reply(slack, rid))


def audit_entries(bot):
    return bot.value("SELECT count(*) FROM audit")


@both_engines
def test_audit_log_verifies_after_kill_9_under_load(bot, slack, flowyte, tmp_path):
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                bot.command("wallet", user=ALICE)
            except Exception:
                return

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while audit_entries(bot) < 20:  # under load: wallet commands are being audited
        assert time.monotonic() < deadline
        time.sleep(0.05)
    bot.kill9()
    stop.set()
    for t in threads:
        t.join()
    verify = run_cli(bot, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert int(verify.stdout.split(": ")[1].split()[0]) > 10  # it was under load
    restarted = BotProcess(slack, flowyte.url, tmp_path).start()  # and the bot starts again on it
    restarted.stop()

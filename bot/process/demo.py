"""`numbot demo`: the whole story on the sandbox, printed as the people in it would see it.

It drives the very listeners the Slack app registers (handlers/), with a console stand-in
for Slack's ack, respond and Web API, and the real service, storage and Flowyte client
talking to the built-in sandbox. No Slack workspace or Flowyte account is needed.
"""

from __future__ import annotations

import re
import sys
import tempfile
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from bot.config.settings import Settings
from bot.process.wiring import build_approvers, build_policies, build_service
from handlers import ids
from handlers.actions.decide import approve
from handlers.actions.request_purchase import request_purchase
from handlers.actions.reserve import reserve
from handlers.actions.routing import assign_agent, publish
from handlers.commands.numbers import numbers_command
from handlers.events.home_opened import home_opened
from handlers.notifier import SlackNotifier
from handlers.views.purchase_reason import purchase_reason
from storage.audit import AuditLog

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol"}
# The demo's spend policy (docs/policy.md): above $2.00, two approvers must agree.
DEMO_POLICY = '[[quorum]]\nabove_usd = "2.00"\napprovals = 2\n'

APPROVAL_CHANNEL = "C0APPROVALS"


def render(message: dict[str, Any]) -> str:
    """Block Kit, as plain terminal text."""
    lines: list[str] = []
    for block in message.get("blocks") or [
        {"type": "section", "text": {"text": message.get("text", "")}}
    ]:
        kind = block.get("type")
        if kind == "header":
            lines += ["", f"── {block['text']['text']} ──"]
        elif kind == "divider":
            continue  # a header follows: the gap is enough
        elif kind in ("section", "context"):
            texts = (
                [block["text"]["text"]]
                if kind == "section"
                else [e["text"] for e in block["elements"]]
            )
            for text in texts:
                lines.append(_plain(text))
            if kind == "section" and "accessory" in block:
                lines[-1] += f"   [ {block['accessory']['text']['text']} ]"
        elif kind == "actions":
            parts = []
            for element in block["elements"]:
                if element["type"] == "button":
                    parts.append(f"[ {element['text']['text']} ]")
                else:
                    options = ", ".join(o["text"]["text"] for o in element.get("options", []))
                    parts.append(f"[ {element['placeholder']['text']} ▾ {options} ]")
            lines.append("   ".join(parts))
    return "\n".join(lines)


def _plain(text: str) -> str:
    text = re.sub(r"<@(U\w+)>", lambda m: "@" + NAMES.get(m.group(1), m.group(1)), text)
    text = re.sub(r"<#(C\w+)>", r"#approvals", text)
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class Console:
    """Plays Slack for the demo: prints what each person would see, remembers what was shown."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last_view: dict[str, Any] | None = None
        self.last_reply: dict[str, Any] = {}
        self.cards: dict[str, dict[str, Any]] = {}
        self.dms: dict[str, list[dict[str, Any]]] = {}
        self._ts = 0

    def show(self, where: str, message: dict[str, Any]) -> None:
        body = textwrap.indent(render(message), "    │ ")
        self.out.write(f"  {where}\n{body}\n\n")

    def step(self, text: str) -> None:
        self.out.write(f"\n▶ {text}\n\n")

    def ack_for(self, who: str) -> Callable[..., Awaitable[None]]:
        async def ack(text: str | None = None, **message: Any) -> None:
            if text or message.get("blocks"):
                self.show(f"only @{NAMES[who]} sees (at once):", {"text": text, **message})

        return ack

    def respond_for(self, who: str) -> Callable[..., Awaitable[None]]:
        async def respond(**message: Any) -> None:
            self.last_reply = message
            self.show(f"only @{NAMES[who]} sees:", message)

        return respond

    # The slice of Slack's Web API that numbot's notifier and listeners use.
    async def chat_postMessage(self, *, channel: str, **message: Any) -> dict[str, Any]:
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        if channel.startswith("U"):
            self.dms.setdefault(channel, []).append(message)
            self.show(f"numbot → DM to @{NAMES.get(channel, channel)}:", message)
        elif message.get("thread_ts"):
            self.show("numbot → the card's thread in #approvals:", message)
        else:
            self.cards[ts] = message
            self.show("numbot → #approvals (everyone in the channel sees):", message)
        return {"ok": True, "channel": channel, "ts": ts}

    async def chat_update(self, *, channel: str, ts: str, **message: Any) -> dict[str, Any]:
        if channel.startswith("U"):
            self.show(f"numbot updates its copy in @{NAMES.get(channel, channel)}'s DM:", message)
        else:
            self.cards[ts] = message
            self.show("numbot updates the card in #approvals:", message)
        return {"ok": True, "channel": channel, "ts": ts}

    async def views_publish(self, *, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
        self.show(f"numbot draws @{NAMES.get(user_id, user_id)}'s Home tab:", view)
        return {"ok": True, "view": view}

    async def views_open(self, *, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        self.last_view = view
        self.out.write(f'  a modal opens: "{view["title"]["text"]}"\n\n')
        return {"ok": True, "view": {"id": "V0DEMO"}}

    async def views_update(self, *, view_id: str, view: dict[str, Any]) -> dict[str, Any]:
        self.last_view = view  # the same modal, filled in once numbot has looked
        return {"ok": True, "view": {"id": view_id}}


def _button_value(message: dict[str, Any], action_id: str) -> str:
    for block in message.get("blocks", []):
        for element in [block.get("accessory", {}), *block.get("elements", [])]:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise LookupError(f"no {action_id} button in the message")


def _home_tab(who: str) -> dict[str, Any]:
    """The event Slack sends when someone opens numbot's Home tab."""
    return {"event": {"type": "app_home_opened", "user": who, "tab": "home"}}


def _select(message: dict[str, Any], agent_id: str) -> dict[str, Any]:
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("action_id") == ids.ASSIGN_AGENT:
                return {
                    "action_id": ids.ASSIGN_AGENT,
                    "block_id": block["block_id"],
                    "selected_option": {"value": agent_id},
                }
    raise LookupError("no agent menu in the message")


async def run_demo(*, db_path: str | None = None, out: TextIO = sys.stdout) -> int:
    with tempfile.TemporaryDirectory(prefix="numbot-demo-") as tmp:
        path = db_path or str(Path(tmp) / "demo.db")
        policy = Path(tmp) / "policy.toml"
        policy.write_text(DEMO_POLICY)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            NUMBOT_DB=path,
            NUMBOT_APPROVERS=(ALICE, BOB, CAROL),
            NUMBOT_APPROVAL_CHANNEL=APPROVAL_CHANNEL,
            NUMBOT_POLICY=str(policy),
            NUMBOT_DIGEST_HOUR="off",
        )
        console = Console(out)
        policies = build_policies(settings)
        approvers = build_approvers(settings, None, policies)
        service = build_service(
            settings,
            notifier=SlackNotifier(
                console, approval_channel=APPROVAL_CHANNEL, sandbox=True, approvers=approvers
            ),
            approvers=approvers,
            policies=policies,
        )
        out.write(
            "The team's spend policy (NUMBOT_POLICY): purchases above $2.00 need two approvers.\n"
        )
        try:
            return await _story(console, service, service.storage.audit, out)
        finally:
            await service.flowyte.aclose()
            service.storage.close()


async def _story(console: Console, service: Any, audit: AuditLog, out: TextIO) -> int:
    def user(who: str) -> dict[str, Any]:
        return {"user": {"id": who}, "trigger_id": "demo-trigger", "response_url": "demo"}

    async def click_approve(who: str, request_id: str) -> None:
        value = {"value": request_id}
        await approve(
            console.ack_for(who), user(who), value, console.respond_for(who), console, service
        )

    await service.owned.refresh()  # as a running numbot reads the owned numbers at start
    console.step("@alice types  /numbers search 415 features=voice")
    await numbers_command(
        console.ack_for(ALICE),
        {"text": "search 415 features=voice", "user_id": ALICE},
        console.respond_for(ALICE),
        service,
    )
    e164 = _button_value(console.last_reply, ids.RESERVE)

    console.step(f"@alice clicks [ Reserve ] next to {e164}")
    await reserve(
        console.ack_for(ALICE), user(ALICE), {"value": e164}, console.respond_for(ALICE), service
    )
    request_id = _button_value(console.last_reply, ids.REQUEST_PURCHASE)

    console.step("@alice clicks [ Request purchase ] and gives a reason")
    await request_purchase(
        console.ack_for(ALICE),
        user(ALICE),
        {"value": request_id},
        console.respond_for(ALICE),
        console,
        service,
    )
    assert console.last_view is not None
    view = {
        **console.last_view,
        "state": {
            "values": {ids.REASON_BLOCK: {ids.REASON_INPUT: {"value": "Bay Area support line"}}}
        },
    }
    await purchase_reason(console.ack_for(ALICE), user(ALICE), view, console, service)

    console.step("@alice clicks [ Approve ] on her own request")
    await click_approve(ALICE, request_id)

    console.step(
        "Twenty minutes pass and nobody has decided: with 10 minutes of hold left, the sweep "
        "reminds the approvers (in the card's thread, where they were called on) and @alice, once"
    )
    waiting = await service.request(request_id)
    assert waiting is not None
    await service.filing.remind(waiting)

    console.step("@bob, an approver, opens numbot's Home tab in Slack")
    await home_opened(_home_tab(BOB), service)

    console.step("@bob, an approver, clicks [ Approve ] (and confirms the amount): 1 of 2")
    await click_approve(BOB, request_id)

    console.step("@bob clicks [ Approve ] again: the same approver counts once")
    await click_approve(BOB, request_id)

    console.step("@carol, a second approver, clicks [ Approve ] in her DM: 2 of 2, bought")
    await click_approve(CAROL, request_id)

    console.step("@bob clicks [ Approve ] once more: a late click buys nothing more")
    await click_approve(BOB, request_id)

    console.step("@alice opens numbot's Home tab: her request, this month's spend, the new number")
    await home_opened(_home_tab(ALICE), service)

    console.step("@alice routes the number to the after-hours agent from the menu in her DM")
    await assign_agent(
        console.ack_for(ALICE),
        user(ALICE),
        _select(console.dms[ALICE][-1], "agt_draft"),
        console.respond_for(ALICE),
        service,
    )

    console.step("@alice clicks [ Publish ]")
    agent_id = _button_value(console.last_reply, ids.PUBLISH)
    await publish(
        console.ack_for(ALICE),
        user(ALICE),
        {"value": agent_id},
        console.respond_for(ALICE),
        service,
    )

    console.step("@alice types  /numbers list")
    await numbers_command(
        console.ack_for(ALICE),
        {"text": "list", "user_id": ALICE},
        console.respond_for(ALICE),
        service,
    )

    console.step("The audit log (numbot audit export)")
    for entry in audit.entries():
        who = NAMES.get(entry.actor, entry.actor)
        out.write(
            f"  #{entry.seq:<3} {entry.at}  {who:<7} {entry.action:<17} {entry.outcome:<8} {entry.subject}  {entry.detail}\n"
        )
    result = audit.verify()
    console.step("numbot audit verify")
    if not result.ok:
        out.write(f"  TAMPERED at entry {result.bad_seq}: {result.problem}\n")
        return 1
    out.write(f"  audit log intact: {result.entries} entries, head {result.head[:16]}…\n\n")
    out.write(
        "That was the sandbox: no Slack, no Flowyte account, no money. README.md shows how to install numbot in Slack.\n"
    )
    return 0

"""The real bolt app answers every id numbot declares, and builders and listeners agree.

Requests are signed like Slack's and dispatched into `bot.process.wiring.create_app`'s AsyncApp; the
Web API and response_urls are a FakeSlack on loopback, the workflow service a stand-in that
records what it was asked and refuses everything.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.config.settings import Settings
from bot.flowyte.models import Agent, AvailableNumber, OwnedNumber, SearchQuery
from bot.kernel.costs import MonthlyBill
from bot.kernel.outcomes import IdleList, Refused
from bot.process.wiring import create_app
from handlers import ids
from handlers.actions.request_release import IDLE_REASON
from handlers.blocks.common import message as as_message
from handlers.blocks.costs import build_idle
from handlers.blocks.home import build_home
from handlers.blocks.modals import build_reason_modal
from handlers.blocks.paging import search_value
from handlers.blocks.requests import build_approval_card, build_hold
from handlers.blocks.routing import build_number_list, build_purchased_dm, unpublished_warning
from handlers.blocks.search import build_search_results
from handlers.blocks.search_modal import build_search_button
from handlers.commands.parser import SUBCOMMANDS, escape_usage
from storage.owned import OwnedRow
from storage.requests import Request
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    app_home_opened_event,
    block_action_body,
    block_suggestion_body,
    event_callback_body,
    home_block_action_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
BOT_TOKEN = "xoxb-test"
SECRET = "s" * 32  # Slack's signing secrets are 32 characters
APPROVER = "U0BOB"
REQUESTER = "U0ALICE"


class StandInService:
    """Whatever numbot's listeners ask of the workflow service: recorded, then refused."""

    sandbox = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def method(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            if name == "request":  # look a request up: none found
                return None
            if name == "agents":  # the agent list: it reads as none, as when Flowyte fails
                return []
            return Refused("stand_in", f"stand-in refused {name}")

        return method

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.calls if n == name]


@pytest.fixture(scope="module")
def served() -> Iterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN)
    with fake.serve():
        yield fake


@pytest.fixture
def slack(served: FakeSlack) -> FakeSlack:
    served.reset()
    return served


@pytest.fixture
def service() -> StandInService:
    return StandInService()


@pytest.fixture
async def app(slack: FakeSlack, service: StandInService) -> AsyncApp:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        NUMBOT_APPROVERS=(APPROVER,),
        NUMBOT_APPROVAL_CHANNEL="C0APPROVALS",
    )
    return create_app(settings, service=service)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


async def dispatch(app: AsyncApp, body: str) -> BoltResponse:
    request = AsyncBoltRequest(body=body, headers=signed_headers(body, SECRET))
    return await app.async_dispatch(request)


async def answered(slack: FakeSlack, response_id: str) -> dict[str, Any]:
    """The listener finished: it posted its reply to the response_url."""
    [call] = await slack.async_wait_for(lambda c: c.response_id == response_id, timeout=5, count=1)
    return call.body


def click(
    slack: FakeSlack, element: dict[str, Any], block_id: str, rid: str, user: str = APPROVER
) -> str:
    """What Slack sends when `user` clicks this button or picks this menu's first option."""
    if element["type"] == "static_select":
        return block_action_body(
            element["action_id"],
            None,
            user,
            response_url=slack.response_url(rid),
            block_id=block_id,
            selected_option_value=element["options"][0]["value"],
        )
    return block_action_body(
        element["action_id"],
        element["value"],
        user,
        response_url=slack.response_url(rid),
        block_id=block_id,
    )


def elements_with_blocks(message: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    out = []
    for block in message["blocks"]:
        if block["type"] == "actions":
            out += [(e, block.get("block_id", "b1")) for e in block["elements"]]
        elif "accessory" in block and "action_id" in block["accessory"]:
            out.append((block["accessory"], block.get("block_id", "b1")))
    return out


# --------------------------------------------------------------------------- every id


async def test_unknown_ids_are_404_so_the_checks_below_mean_something(
    app: AsyncApp, slack: FakeSlack
) -> None:
    unknown = block_action_body("numbers_nope", "x", APPROVER, response_url=slack.response_url("u"))
    assert (await dispatch(app, unknown)).status == 404
    view = view_submission_body("numbers_nope", {"b": {"a": "x"}}, REQUESTER)
    assert (await dispatch(app, view)).status == 404
    command = slash_command_body("help", REQUESTER, command="/nope")
    assert (await dispatch(app, command)).status == 404
    forged = slash_command_body("help", REQUESTER)
    request = AsyncBoltRequest(body=forged, headers=signed_headers(forged, "x" * 16))
    assert (await app.async_dispatch(request)).status == 401


async def test_every_manifest_slash_command_is_handled(
    app: AsyncApp, slack: FakeSlack, manifest: dict[str, Any]
) -> None:
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands == [ids.COMMAND]
    for command in commands:
        response = await dispatch(app, slash_command_body("help", REQUESTER, command=command))
        assert response.status == 200, response.body
        body = json.loads(response.body)
        assert body["text"].startswith("numbot help") and body["text"].endswith("[SANDBOX]")
        assert all(
            f"/numbers {escape_usage(s.usage)}" in response.body for s in SUBCOMMANDS.values()
        )


PAGED_QUERY = SearchQuery(area_code="415", limit=50)
NEARBY_QUERY = SearchQuery(area_code="415", ends_with="CALL", best_effort=True)
# A value each button could carry; the rest carry a request id.
# Buttons that open a form at once, then fill it in or say why not: what they ask the service.
FORMS = {ids.REJECT: "rejectable", ids.REQUEST_PURCHASE: "requestable"}

VALUES = {
    ids.SEARCH_PREVIOUS: search_value(PAGED_QUERY, 0),
    ids.SEARCH_NEXT: search_value(PAGED_QUERY, 2),
    ids.SEARCH_NEARBY: search_value(NEARBY_QUERY, 0),
    ids.LIST_PREVIOUS: "0",
    ids.LIST_NEXT: "2",
    ids.IDLE_PREVIOUS: "0",
    ids.IDLE_NEXT: "2",
}


@pytest.mark.parametrize("action_id", [a for a in ids.ACTION_IDS if a != ids.OPEN_SEARCH])
async def test_every_action_id_is_handled(
    app: AsyncApp, slack: FakeSlack, service: StandInService, action_id: str
) -> None:
    rid = f"act-{action_id}"
    body = block_action_body(
        action_id,
        VALUES.get(action_id, "req_0123456789ab"),
        APPROVER,
        response_url=slack.response_url(rid),
        block_id="assign:req_0123456789ab",
        selected_option_value="agt_1" if action_id == ids.ASSIGN_AGENT else None,
    )
    response = await dispatch(app, body)
    assert response.status == 200, response.body
    if action_id in FORMS:  # the form opens first; a refusal is said in it
        updated = (await slack.async_wait_for("views.update", timeout=5))[-1]
        assert f"stand-in refused {FORMS[action_id]}" in json.dumps(updated.body["view"])
    else:
        reply = await answered(slack, rid)
        assert reply["response_type"] == "ephemeral" and reply["text"].endswith("[SANDBOX]")
    assert service.calls, "the listener never reached the service"


# A filled-in submission of each modal.
SUBMISSIONS: dict[str, dict[str, dict[str, Any]]] = {
    ids.PURCHASE_REASON_VIEW: {ids.REASON_BLOCK: {ids.REASON_INPUT: "new support line"}},
    ids.SEARCH_VIEW: {"area_code": {ids.SEARCH_INPUT: "415"}},
    ids.REJECT_VIEW: {ids.REASON_BLOCK: {ids.REASON_INPUT: "not this quarter"}},
}


@pytest.mark.parametrize("callback_id", ids.VIEW_CALLBACK_IDS)
async def test_every_view_callback_id_is_handled(
    app: AsyncApp, slack: FakeSlack, service: StandInService, callback_id: str
) -> None:
    body = view_submission_body(
        callback_id, SUBMISSIONS[callback_id], REQUESTER, private_metadata="req_0123456789ab"
    )
    response = await dispatch(app, body)
    assert response.status == 200, response.body
    if callback_id == ids.REJECT_VIEW:  # refused before the modal closes: told in place
        assert json.loads(response.body)["response_action"] == "errors"
    else:
        await slack.async_wait_for("chat.postMessage", timeout=5)
    assert service.calls


# --------------------------------------------------------------------------- subcommands


@pytest.mark.parametrize(
    ("text", "method", "args"),
    [
        ("search 415 limit=5", "search", (REQUESTER, SearchQuery(area_code="415", limit=5))),
        ("415", "search", (REQUESTER, SearchQuery(area_code="415"))),
        ("list", "list_numbers", (REQUESTER,)),
        ("wallet", "wallet", (REQUESTER,)),
        ("assign +14155550100 agt_1", "assign", (REQUESTER, "+14155550100", "agt_1")),
        ("unassign num_1", "unassign", (REQUESTER, "num_1")),
        ("publish agt_1", "publish", (REQUESTER, "agt_1")),
        ("release num_1 too many", "request_release", (REQUESTER, "num_1", "too many")),
        ("import +14155550100", "import_number", (REQUESTER, "+14155550100", None)),
    ],
)
async def test_subcommands_reach_the_service(
    app: AsyncApp,
    slack: FakeSlack,
    service: StandInService,
    text: str,
    method: str,
    args: tuple[Any, ...],
) -> None:
    rid = f"cmd-{text.split()[0]}-{method}"
    body = slash_command_body(text, REQUESTER, response_url=slack.response_url(rid))
    response = await dispatch(app, body)
    assert response.status == 200, response.body
    reply = await answered(slack, rid)
    assert f"stand-in refused {method}" in reply["text"]
    assert service.calls == [(method, args)]


@pytest.mark.parametrize("text", ["help", "help release", "frobnicate", "search <!channel>"])
async def test_help_and_usage_errors_are_answered_in_the_ack(
    app: AsyncApp, slack: FakeSlack, service: StandInService, text: str
) -> None:
    response = await dispatch(app, slash_command_body(text, REQUESTER))
    assert response.status == 200
    body = json.loads(response.body)
    assert body["text"].endswith("[SANDBOX]") and body["blocks"]
    assert "<!channel>" not in response.body
    assert service.calls == []


def test_manifest_usage_hint_names_only_subcommands_and_help_names_them_all(
    manifest: dict[str, Any],
) -> None:
    hint = manifest["features"]["slash_commands"][0]["usage_hint"]
    named = [part.split()[0] for part in hint.split("|")]
    assert set(named) <= set(SUBCOMMANDS) and "help" in named  # help lists the rest


# --------------------------------------------------------------------------- builders -> listeners


def _request(**changes: Any) -> Request:
    values: dict[str, Any] = {
        "id": "req_0123456789ab",
        "kind": "purchase",
        "status": "pending",
        "e164": "+14155550100",
        "requester": REQUESTER,
        "created_at": "2030-01-02T02:34:00Z",
        "updated_at": "2030-01-02T02:34:00Z",
        "setup_cost": Decimal("1.00"),
        "monthly_cost": Decimal("1.15"),
        "reason": "new line",
    }
    return Request(**{**values, **changes})


def _messages() -> list[tuple[str, dict[str, Any]]]:
    number = AvailableNumber.model_validate({"e164": "+14155550100", "setupCost": "1"})
    agents = [Agent.model_validate({"id": "agt_1"})]
    return [
        ("search", build_search_results(SearchQuery(area_code="415"), [number], sandbox=True)),
        ("hold", build_hold(_request(status="held"), sandbox=True)),
        ("card", build_approval_card(_request(), balance=Decimal(10), sandbox=True)),
        (
            "card_unfunded",
            build_approval_card(
                _request(status="unfunded", decided_by="U0BOB"), balance=None, sandbox=True
            ),
        ),
        ("dm", build_purchased_dm("Yours.", "req_0123456789ab", agents, sandbox=True)),
        ("warning", {"text": "x", "blocks": unpublished_warning(agents[0])}),
        (
            "search_page",
            build_search_results(
                PAGED_QUERY,
                [  # not reservable: only the page buttons are new here
                    AvailableNumber.model_validate(
                        {"e164": f"+1415555{i:04d}", "reservable": False}
                    )
                    for i in range(50)
                ],
                sandbox=True,
                page=1,
            ),
        ),
        (
            "list_page",
            build_number_list(
                [
                    OwnedNumber.model_validate({"id": f"num_{i}", "e164": f"+1415555{i:04d}"})
                    for i in range(50)
                ],
                {},
                sandbox=True,
                page=1,
            ),
        ),
        ("search_button", as_message("Search numbers", [build_search_button()], sandbox=True)),
        (
            "search_no_exact_match",
            build_search_results(
                NEARBY_QUERY.model_copy(update={"best_effort": None}), [number], sandbox=True
            ),
        ),
        ("home", {"text": "Home", "blocks": build_home(_home(), sandbox=True)["blocks"]}),
        (
            "idle",
            build_idle(
                IdleList(
                    [OwnedRow("+14155550100", "num_1", None, Decimal("1.15"))],
                    1,
                    MonthlyBill(Decimal("1.15"), 1, 0),
                    0,
                    frozenset(),
                    True,
                ),
                sandbox=True,
            ),
        ),
        (
            "idle_page",
            build_idle(
                IdleList(
                    [OwnedRow("+14155550100", "num_1", None, Decimal("1.15"))],
                    45,
                    MonthlyBill(Decimal("51.75"), 45, 0),
                    1,
                    frozenset(),
                    True,
                ),
                sandbox=True,
            ),
        ),
    ]


def _home() -> Any:
    """A Home with a hold of its own and a request waiting for this approver."""
    from datetime import UTC, datetime

    from bot.kernel.home import Capped, Home, MonthSpend

    month = datetime(2030, 1, 1, tzinfo=UTC)
    return Home(
        user=APPROVER,
        approver=True,
        now=month,
        holds=Capped([_request(status="held", requester=APPROVER)], 1),
        requests=[],
        waiting=Capped([_request()], 1),
        spend=MonthSpend(month, Decimal(0), 0),
        wallet=Decimal(10),
        numbers=[],
        agents={},
    )


def test_builders_only_use_registered_action_ids() -> None:
    from handlers.actions import LISTENERS

    used = {e["action_id"] for _, m in _messages() for e, _ in elements_with_blocks(m)}
    assert used <= set(ids.ACTION_IDS)
    assert set(LISTENERS) == set(ids.ACTION_IDS)
    assert used == set(ids.ACTION_IDS)  # no listener without a button


# What each element's listener must ask the service, given the ids the builder put there.
EXPECTED = {
    ids.RESERVE: ("reserve", (APPROVER, "+14155550100")),
    ids.REQUEST_PURCHASE: ("requestable", (APPROVER, "req_0123456789ab")),
    ids.APPROVE: ("approve", (APPROVER, "req_0123456789ab")),
    ids.REJECT: ("rejectable", (APPROVER, "req_0123456789ab")),
    ids.RETRY_PURCHASE: ("retry", (APPROVER, "req_0123456789ab")),
    ids.ASSIGN_AGENT: ("assign_purchased", (APPROVER, "req_0123456789ab", "agt_1")),
    ids.PUBLISH: ("publish", (APPROVER, "agt_1")),
    ids.SEARCH_PREVIOUS: ("search", (APPROVER, PAGED_QUERY)),
    ids.SEARCH_NEXT: ("search", (APPROVER, PAGED_QUERY)),
    ids.SEARCH_NEARBY: ("search", (APPROVER, NEARBY_QUERY)),
    ids.LIST_PREVIOUS: ("list_numbers", (APPROVER,)),
    ids.LIST_NEXT: ("list_numbers", (APPROVER,)),
    ids.IDLE_PREVIOUS: ("idle", (APPROVER, 0)),
    ids.IDLE_NEXT: ("idle", (APPROVER, 2)),
    ids.REQUEST_RELEASE: ("request_release", (APPROVER, "+14155550100", IDLE_REASON)),
}


async def test_every_builder_element_reaches_its_listener_with_its_ids(
    app: AsyncApp, slack: FakeSlack, service: StandInService
) -> None:
    seen = set()
    opens = rejects = 0
    for name, message in _messages():
        for n, (element, block_id) in enumerate(elements_with_blocks(message)):
            service.calls.clear()
            rid = f"{name}-{n}"
            response = await dispatch(app, click(slack, element, block_id, rid))
            assert response.status == 200, (name, element)
            seen.add(element["action_id"])
            if element["action_id"] == ids.OPEN_SEARCH:  # opens the modal; asks the service nothing
                opens += 1
                await slack.async_wait_for(
                    lambda c: (
                        c.method == "views.open"
                        and c.body["view"]["callback_id"] == ids.SEARCH_VIEW
                    ),
                    timeout=5,
                    count=opens,
                )
                assert service.calls == []
                continue
            if element["action_id"] in FORMS:  # opens the form at once, then fills it in
                rejects += 1
                await slack.async_wait_for("views.update", timeout=5, count=rejects)
            else:
                await answered(slack, rid)
            assert service.calls == [EXPECTED[element["action_id"]]], (name, element)
    assert seen == set(ids.ACTION_IDS)


async def test_the_reason_modal_round_trips(
    app: AsyncApp, slack: FakeSlack, service: StandInService
) -> None:
    modal = build_reason_modal("req_0123456789ab", "+14155550100")
    [field] = [b for b in modal["blocks"] if b["type"] == "input"]
    block_id, action_id = field["block_id"], field["element"]["action_id"]

    empty = view_submission_body(
        modal["callback_id"], {block_id: {action_id: " "}}, REQUESTER, modal["private_metadata"]
    )
    response = await dispatch(app, empty)
    assert response.status == 200
    assert set(json.loads(response.body)["errors"]) == {block_id}  # errors land on the field

    filled = view_submission_body(
        modal["callback_id"],
        {block_id: {action_id: "  new support line  "}},
        REQUESTER,
        modal["private_metadata"],
    )
    assert (await dispatch(app, filled)).status == 200
    [post] = await slack.async_wait_for("chat.postMessage", timeout=5)
    assert post.body["channel"] == REQUESTER
    assert service.calls == [
        ("request_purchase", (REQUESTER, "req_0123456789ab", "new support line"))
    ]


@pytest.mark.parametrize(
    ("typed", "refused", "stored"),
    [
        ("\u200b\u202e \n\u2060", True, None),  # only invisible characters: empty
        ("x" * 301, True, None),  # too long
        ("a\n\n" * 150, False, ("a " * 150).strip()),  # 450 typed, 299 after cleaning
        (
            "line\n*Costs now:* $0.01\u202e \ud800:ok:",
            False,
            "line *Costs now:* $0.01 :ok:",
        ),
    ],
)
async def test_the_reason_is_cleaned_before_it_is_checked_and_stored(
    app: AsyncApp,
    slack: FakeSlack,
    service: StandInService,
    typed: str,
    refused: bool,
    stored: str | None,
) -> None:
    body = view_submission_body(
        ids.PURCHASE_REASON_VIEW,
        {ids.REASON_BLOCK: {ids.REASON_INPUT: typed}},
        REQUESTER,
        "req_0123456789ab",
    )
    response = await dispatch(app, body)
    assert response.status == 200
    if refused:
        assert set(json.loads(response.body)["errors"]) == {ids.REASON_BLOCK}
        assert service.calls == []
    else:
        await slack.async_wait_for("chat.postMessage", timeout=5)
        assert service.calls == [("request_purchase", (REQUESTER, "req_0123456789ab", stored))]


# --------------------------------------------------------------------------- listener matchers


async def matching_listeners(app: AsyncApp, body: str) -> list[str]:
    """The names of the registered listeners whose matchers accept this request."""
    request = AsyncBoltRequest(body=body, headers=signed_headers(body, SECRET))
    response = BoltResponse(status=200)
    return [
        listener.ack_function.__name__
        for listener in app._async_listeners
        if await listener.async_matches(req=request, resp=response)
    ]


async def test_each_id_is_matched_by_exactly_one_listener(app: AsyncApp, slack: FakeSlack) -> None:
    """A second listener for an id would be shadowed silently; a missing one answers 404."""
    from handlers.actions import LISTENERS

    for action_id in ids.ACTION_IDS:
        body = block_action_body(
            action_id,
            "x",
            APPROVER,
            block_id="assign:req_1",
            selected_option_value="agt_1" if action_id == ids.ASSIGN_AGENT else None,
        )
        assert await matching_listeners(app, body) == [LISTENERS[action_id].__name__], action_id
    for callback_id in ids.VIEW_CALLBACK_IDS:
        body = view_submission_body(callback_id, {"b": {"a": "x"}}, REQUESTER)
        assert len(await matching_listeners(app, body)) == 1, callback_id
    from handlers.options import LISTENERS as OPTIONS

    assert set(OPTIONS) == set(ids.OPTIONS_ACTION_IDS)
    for action_id in ids.OPTIONS_ACTION_IDS:
        body = block_suggestion_body(action_id, "sal", REQUESTER)
        assert await matching_listeners(app, body) == [OPTIONS[action_id].__name__], action_id
    assert (
        await matching_listeners(app, block_suggestion_body("numbers_nope", "x", REQUESTER)) == []
    )
    assert await matching_listeners(app, slash_command_body("help", REQUESTER)) == [
        "numbers_command"
    ]
    for stranger in (
        block_action_body("numbers_nope", "x", APPROVER),
        slash_command_body("help", REQUESTER, command="/nope"),
        view_submission_body("numbers_nope", {"b": {"a": "x"}}, REQUESTER),
    ):
        assert await matching_listeners(app, stranger) == []


# --------------------------------------------------------------------------- an explicit client


async def test_create_app_uses_the_client_it_is_given(
    slack: FakeSlack, service: StandInService
) -> None:
    """Settings point at slack.com; every Web API call must still go to the client passed in."""
    from slack_sdk.web.async_client import AsyncWebClient

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        NUMBOT_APPROVERS=(APPROVER,),
        NUMBOT_APPROVAL_CHANNEL="C0APPROVALS",
    )
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5)
    app = create_app(settings, service=service, client=client)  # type: ignore[arg-type]
    body = view_submission_body(
        ids.PURCHASE_REASON_VIEW,
        {ids.REASON_BLOCK: {ids.REASON_INPUT: "why not"}},
        REQUESTER,
        private_metadata="req_1",
    )
    assert (await dispatch(app, body)).status == 200
    [post] = await slack.async_wait_for("chat.postMessage", timeout=5)
    assert post.token == BOT_TOKEN
    assert slack.calls("auth.test"), "bolt's lazy auth.test went elsewhere"
    assert service.called("request_purchase") == [(REQUESTER, "req_1", "why not")]


# --------------------------------------------------------------------------- the error handler


class ExplodingService(StandInService):
    """Fails in the same tick as the ack: the case handlers.errors.guarded exists for.

    (Left to slack_bolt, a listener that raises within ~10 ms of ack() is answered 404
    after the 3 s ack timeout: its asyncio runner resets ack.response after the error
    handler. numbot's listeners are guarded so that never reaches bolt.)
    """

    async def search(self, *args: Any) -> Any:
        raise RuntimeError("flowyte fell over with xoxb-leaked-token")

    async def reserve(self, *args: Any) -> Any:
        raise RuntimeError("flowyte fell over")


@pytest.fixture
async def exploding_app(slack: FakeSlack) -> AsyncApp:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        NUMBOT_APPROVERS=(APPROVER,),
        NUMBOT_APPROVAL_CHANNEL="C0APPROVALS",
    )
    return create_app(settings, service=ExplodingService())  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["command", "action"])
async def test_a_listener_that_raises_gets_a_reference_reply(
    exploding_app: AsyncApp, slack: FakeSlack, kind: str
) -> None:
    rid = f"boom-{kind}"
    if kind == "command":
        body = slash_command_body("search 415", REQUESTER, response_url=slack.response_url(rid))
    else:
        body = block_action_body(
            ids.RESERVE, "+14155550100", REQUESTER, response_url=slack.response_url(rid)
        )
    started = time.monotonic()
    # Acknowledged before the work, at once, even though the listener raises right after
    # ack() (which bolt alone would turn into a 3-second wait and a 404).
    assert (await dispatch(exploding_app, body)).status == 200
    assert time.monotonic() - started < 1.0
    reply = await answered(slack, rid)
    assert reply["text"].startswith(":warning: Something went wrong")
    assert reply["text"].endswith("[SANDBOX]")
    assert "reference `" in reply["text"]
    assert reply["response_type"] == "ephemeral" and reply.get("replace_original") is False
    assert "xoxb-leaked-token" not in json.dumps(reply)


async def test_searching_ack_escapes_the_query(app: AsyncApp, slack: FakeSlack) -> None:
    rid = "search-ack"
    body = slash_command_body(
        'search 415 city="<!channel> <https://evil|x>"',
        REQUESTER,
        response_url=slack.response_url(rid),
    )
    response = await dispatch(app, body)
    assert response.status == 200
    # A text-only ack goes back as text/plain, which Slack shows as an ephemeral message.
    ack = response.body
    assert ack.startswith("[SANDBOX] Searching")
    assert "<!channel>" not in ack and "<https://" not in ack and "&lt;!channel&gt;" in ack
    await answered(slack, rid)


# --------------------------------------------------------------------------- the search modal


async def test_numbers_alone_opens_the_search_modal_on_the_commands_trigger(
    app: AsyncApp, slack: FakeSlack, service: StandInService
) -> None:
    body = slash_command_body("", REQUESTER, trigger_id="1234.5678.abcdef")
    response = await dispatch(app, body)
    assert response.status == 200 and response.body == ""  # nothing shown in the channel
    [opened] = await slack.async_wait_for("views.open", timeout=5)
    assert opened.body["trigger_id"] == "1234.5678.abcdef"
    assert opened.body["view"]["callback_id"] == ids.SEARCH_VIEW
    assert service.calls == []


async def test_if_slack_will_not_open_the_modal_the_person_is_told_how_to_type_a_search(
    app: AsyncApp, slack: FakeSlack
) -> None:
    slack.fail("views.open", "expired_trigger_id")
    rid = "no-modal"
    response = await dispatch(
        app, slash_command_body("", REQUESTER, response_url=slack.response_url(rid))
    )
    assert response.status == 200
    told = await answered(slack, rid)
    assert "/numbers search 415" in told["text"] and told["response_type"] == "ephemeral"


async def test_search_modal_errors_land_under_their_fields(
    app: AsyncApp, slack: FakeSlack, service: StandInService
) -> None:
    body = view_submission_body(
        ids.SEARCH_VIEW,
        {
            "area_code": {ids.SEARCH_INPUT: "123"},
            "administrative_area": {ids.SEARCH_INPUT: "California"},
            "limit": {ids.SEARCH_INPUT: {"type": "number_input", "value": "51"}},
        },
        REQUESTER,
    )
    response = await dispatch(app, body)
    assert response.status == 200
    answer = json.loads(response.body)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"area_code", "administrative_area", "limit"}
    assert service.calls == []


async def test_a_submitted_search_is_answered_by_dm(
    app: AsyncApp, slack: FakeSlack, service: StandInService
) -> None:
    body = view_submission_body(
        ids.SEARCH_VIEW,
        {
            "area_code": {ids.SEARCH_INPUT: "415"},
            "locality": {ids.SEARCH_INPUT: "San Francisco"},
            "features": {
                ids.SEARCH_INPUT: {
                    "type": "checkboxes",
                    "selected_options": [{"value": "voice"}, {"value": "sms"}],
                }
            },
            "best_effort": {
                ids.SEARCH_INPUT: {"type": "checkboxes", "selected_options": [{"value": "exact"}]}
            },
            "limit": {ids.SEARCH_INPUT: {"type": "number_input", "value": "50"}},
        },
        REQUESTER,
    )
    response = await dispatch(app, body)
    assert response.status == 200 and response.body == ""  # the modal closes
    [dm] = await slack.async_wait_for("chat.postMessage", timeout=5)
    assert dm.body["channel"] == REQUESTER and "stand-in refused search" in dm.body["text"]
    assert service.calls == [
        (
            "search",
            (
                REQUESTER,
                SearchQuery(
                    area_code="415",
                    locality="San Francisco",
                    features=("voice", "sms"),
                    best_effort=False,
                    limit=50,
                ),
            ),
        )
    ]


async def test_an_error_after_the_search_modal_closed_is_told_by_dm(slack: FakeSlack) -> None:
    app = create_app(_settings(slack), service=ExplodingService())  # type: ignore[arg-type]
    body = view_submission_body(
        ids.SEARCH_VIEW, {"area_code": {ids.SEARCH_INPUT: "415"}}, REQUESTER
    )
    response = await dispatch(app, body)
    assert response.status == 200 and response.body == ""  # acknowledged: the modal closed
    [dm] = await slack.async_wait_for("chat.postMessage", timeout=5)
    assert dm.body["channel"] == REQUESTER
    assert "Something went wrong" in dm.body["text"] and "reference `" in dm.body["text"]
    assert "xoxb-leaked-token" not in json.dumps(dm.body)


# --------------------------------------------------------------------------- menu options


async def test_agent_menu_options_are_answered_in_the_response(
    app: AsyncApp, slack: FakeSlack, service: StandInService
) -> None:
    response = await dispatch(app, block_suggestion_body(ids.ASSIGN_AGENT, "sal", REQUESTER))
    assert response.status == 200
    assert json.loads(response.body) == {"options": []}  # the stand-in has no agents
    assert service.called("agents") == [()]


def _settings(slack: FakeSlack) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        NUMBOT_APPROVERS=(APPROVER,),
        NUMBOT_APPROVAL_CHANNEL="C0APPROVALS",
    )


# --------------------------------------------------------------------------- events, App Home


async def event(app: AsyncApp, body: str) -> BoltResponse:
    headers = signed_headers(body, SECRET, content_type="application/json")
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))


async def test_every_manifest_event_is_handled(
    app: AsyncApp, service: StandInService, manifest: dict[str, Any]
) -> None:
    from handlers.events import LISTENERS

    assert manifest["settings"]["event_subscriptions"]["bot_events"] == list(ids.EVENTS)
    assert set(LISTENERS) == set(ids.EVENTS)
    response = await event(app, event_callback_body(app_home_opened_event(REQUESTER)))
    assert response.status == 200  # acknowledged at once; the Home is drawn after
    for _ in range(500):
        if service.called("home_opened"):
            break
        await asyncio.sleep(0.01)
    assert service.called("home_opened") == [(REQUESTER,)]


async def test_opening_the_messages_tab_draws_no_home(
    app: AsyncApp, service: StandInService
) -> None:
    body = event_callback_body(app_home_opened_event(REQUESTER, tab="messages"))
    assert (await event(app, body)).status == 200
    body = event_callback_body(app_home_opened_event(APPROVER))  # a Home tab after it
    assert (await event(app, body)).status == 200
    for _ in range(500):
        if service.called("home_opened"):
            break
        await asyncio.sleep(0.01)
    assert service.called("home_opened") == [(APPROVER,)]


async def test_a_click_on_home_is_answered_by_dm(
    app: AsyncApp, slack: FakeSlack, service: StandInService
) -> None:
    """App Home gives no response_url: what the card's click would answer in place reaches
    the person in numbot's DM instead, through the same listener."""
    body = home_block_action_body(ids.APPROVE, "req_0123456789ab", APPROVER)
    assert (await dispatch(app, body)).status == 200
    [dm] = await slack.async_wait_for("chat.postMessage", timeout=5)
    assert dm.body["channel"] == APPROVER and "stand-in refused approve" in dm.body["text"]
    assert service.called("approve") == [(APPROVER, "req_0123456789ab")]
    assert slack.responses() == []

"""`/numbers` alone opens a search modal, through the real bot: checked in place, results
and refusals by DM (a modal has no response_url), and a button that opens it too."""

from handlers import ids
from tests.e2e.harness import ALICE, BotProcess, find_element, reply, texts


def text(value: str) -> dict:
    return {ids.SEARCH_INPUT: value}


def ticked(*values: str) -> dict:
    return {
        ids.SEARCH_INPUT: {
            "type": "checkboxes",
            "selected_options": [{"value": v} for v in values],
        }
    }


def test_numbers_alone_opens_the_modal_and_its_search_arrives_by_dm(
    bot: BotProcess, slack, flowyte
):
    response, _ = bot.command("", user=ALICE)
    assert response.status_code == 200 and response.text == ""  # nothing in the channel
    [opened] = slack.wait_for("views.open")
    view = opened.body["view"]
    assert view["callback_id"] == ids.SEARCH_VIEW and opened.body["trigger_id"]
    fields = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert fields == list(ids.SEARCH_FIELDS)

    # Bad values are refused under their fields, and nothing is searched.
    refused = bot.submit_view(
        ids.SEARCH_VIEW,
        {"area_code": text("123"), "administrative_area": text("California")},
        user=ALICE,
    )
    assert refused.status_code == 200
    answer = refused.json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"area_code", "administrative_area"}
    assert flowyte.calls("GET", "/numbers/search") == []

    # A good search closes the modal; the results come in the DM, pages and all.
    accepted = bot.submit_view(
        ids.SEARCH_VIEW,
        {
            "area_code": text("415"),
            "locality": text("San Francisco"),
            "features": ticked("voice"),
            "limit": {ids.SEARCH_INPUT: {"type": "number_input", "value": "50"}},
        },
        user=ALICE,
    )
    assert accepted.status_code == 200 and accepted.text == ""
    [dm] = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.body.get("channel") == ALICE
    )
    assert "available" in texts(dm.body) and find_element(dm.body, ids.RESERVE)
    [search] = flowyte.calls("GET", "/numbers/search")
    assert search.query == {
        "areaCode": "415",
        "locality": "San Francisco",
        "features": "voice",
        "limit": "50",
    }


def test_help_is_still_reachable(bot: BotProcess, slack):
    response, _ = bot.command("help", user=ALICE)
    assert "numbot help" in response.text
    assert slack.calls("views.open") == []


def test_a_refusal_after_the_modal_closed_reaches_the_person_by_dm(bot: BotProcess, slack, flowyte):
    flowyte.add_fault("GET", r"/numbers/search$", status=401)
    accepted = bot.submit_view(ids.SEARCH_VIEW, {"area_code": text("415")}, user=ALICE)
    assert accepted.status_code == 200 and accepted.text == ""
    [dm] = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.body.get("channel") == ALICE
    )
    assert ":no_entry_sign:" in dm.body["text"] and "admin" in dm.body["text"]


def test_the_search_button_opens_the_same_modal(bot: BotProcess, slack):
    response, _ = bot.click(ids.OPEN_SEARCH, "open", user=ALICE)
    assert response.status_code == 200
    [opened] = slack.wait_for("views.open")
    assert opened.body["view"]["callback_id"] == ids.SEARCH_VIEW


def test_if_the_modal_cannot_open_the_person_is_told_how_to_type_a_search(bot: BotProcess, slack):
    slack.fail("views.open", "expired_trigger_id")
    _, rid = bot.command("", user=ALICE)
    told = reply(slack, rid)
    assert "/numbers search 415" in texts(told)

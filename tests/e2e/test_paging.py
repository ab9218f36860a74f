"""No silent cuts, through the real bot: search results and the owned list page with
Previous / Next (the click re-runs the question and replaces the message), and a city of
several words needs no quotes."""

import httpx

from handlers import ids
from tests.e2e.harness import (
    ALICE,
    FLOWYTE_KEY,
    MALLORY,
    BotProcess,
    calls_made,
    find_element,
    reply,
    texts,
)


def reserve_values(message) -> list[str]:
    return [
        b["accessory"]["value"]
        for b in message.get("blocks", [])
        if b.get("accessory", {}).get("action_id") == ids.RESERVE
    ]


def test_a_search_past_one_page_pages_with_next_and_previous(bot: BotProcess, slack, flowyte):
    _, rid = bot.command("search 415 limit=50", user=ALICE)
    first = reply(slack, rid)
    page_1 = reserve_values(first)
    assert len(page_1) == 20 and "Page 1 of 2: numbers 1–20 of 30" in texts(first)
    following = find_element(first, ids.SEARCH_NEXT)

    _, rid = bot.click(ids.SEARCH_NEXT, following["value"], user=ALICE)
    second = reply(slack, rid)
    assert second.get("replace_original") is True  # the page replaces the message clicked
    page_2 = reserve_values(second)
    assert len(page_2) == 10 and not set(page_2) & set(page_1)
    assert "page 2 of 2" in second["text"]  # the fallback says which page

    _, rid = bot.click(
        ids.SEARCH_PREVIOUS, find_element(second, ids.SEARCH_PREVIOUS)["value"], user=ALICE
    )
    assert reserve_values(reply(slack, rid)) == page_1

    # Each click asked Flowyte the same question again; nothing was kept between clicks.
    searches = flowyte.calls("GET", "/numbers/search")
    assert len(searches) == 3
    assert all(c.query == {"areaCode": "415", "limit": "50"} for c in searches)


def test_a_forged_page_button_searches_nothing(bot: BotProcess, slack, flowyte):
    for value in ("page=9&areaCode=415&limit=50", "page=1&areaCode=415&limit=50&x=1", "<!channel>"):
        _, rid = bot.click(ids.SEARCH_NEXT, value, user=MALLORY)
        told = reply(slack, rid)
        assert "page button" in texts(told) and told.get("replace_original") is False
        assert "<!channel>" not in texts(told)
    _, rid = bot.click(ids.LIST_NEXT, "99999", user=MALLORY)
    assert "page button" in texts(reply(slack, rid))
    assert calls_made(flowyte, "GET", "/numbers/search") == []
    assert calls_made(flowyte, "GET", "/numbers") == []


def import_numbers(flowyte, count: int) -> list[str]:
    """Numbers the organization owns, brought in through Flowyte's own API (no charge)."""
    e164s = [f"+1212555{i:04d}" for i in range(count)]
    with httpx.Client(base_url=flowyte.url + "/api/v1", timeout=10) as http:
        for e164 in e164s:
            answer = http.post(
                "/numbers/import",
                json={"e164": e164},
                headers={"Authorization": f"Bearer {FLOWYTE_KEY}"},
            )
            assert answer.status_code == 201, answer.text
    flowyte.reset()  # forget these calls: the test counts numbot's own
    return e164s


def test_the_owned_list_pages_through_every_number(bot: BotProcess, slack, flowyte):
    owned = import_numbers(flowyte, 45)
    _, rid = bot.command("list", user=ALICE)
    message = reply(slack, rid)
    assert "45 numbers owned, page 1 of 3" in message["text"]
    seen = [e for e in owned if e in texts(message)]
    assert len(seen) == 20
    for expected_page in (2, 3):
        following = find_element(message, ids.LIST_NEXT)
        _, rid = bot.click(ids.LIST_NEXT, following["value"], user=ALICE)
        message = reply(slack, rid)
        assert message.get("replace_original") is True
        assert f"page {expected_page} of 3" in message["text"]
        seen += [e for e in owned if e in texts(message)]
    assert sorted(seen) == sorted(owned)  # every number, each once
    assert "numbers 41–45 of 45" in texts(message)
    # the command read Flowyte's (short) list once; the page clicks read numbot's index of it
    assert len(flowyte.calls("GET", "/numbers")) == 1


def test_a_city_of_several_words_needs_no_quotes(bot: BotProcess, slack, flowyte):
    response, rid = bot.command("search 415 city=San Francisco features=voice", user=ALICE)
    assert "Searching" in response.text
    results = reply(slack, rid)
    assert reserve_values(results)
    [search] = flowyte.calls("GET", "/numbers/search")
    assert search.query["locality"] == "San Francisco"
    assert search.query["areaCode"] == "415" and search.query["features"] == "voice"

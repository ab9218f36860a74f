"""`/numbers` text -> typed command or UsageError: table tests, hostile input, properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.flowyte.models import SearchQuery
from handlers.commands.parser import (
    SUBCOMMANDS,
    Assign,
    Help,
    Import,
    ListNumbers,
    Publish,
    Release,
    Search,
    SearchForm,
    ShowHolds,
    ShowIdle,
    ShowSpend,
    ShowWallet,
    Unassign,
    UsageError,
    escape_usage,
    parse,
)

COMMAND_TYPES = (
    Search,
    SearchForm,
    ListNumbers,
    ShowWallet,
    ShowIdle,
    ShowSpend,
    ShowHolds,
    Help,
    Assign,
    Unassign,
    Publish,
    Release,
    Import,
)
# Strict, ASCII-only shapes: no Unicode digits, no trailing newline.
STRICT_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
STRICT_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
STRICT_AREA_CODE = re.compile(r"[2-9][0-9]{2}")


def search(text: str) -> SearchQuery:
    result = parse(text)
    assert isinstance(result, Search), result
    return result.query


def usage_error(text: str) -> UsageError:
    result = parse(text)
    assert isinstance(result, UsageError), result
    return result


def without_usage(message: str) -> str:
    """The message minus the `Usage: ...` suffix numbot adds (its own `<placeholders>`)."""
    for sub in SUBCOMMANDS.values():
        message = message.replace(f"`/numbers {escape_usage(sub.usage)}`", "")
    return message


def assert_inert(message: str) -> None:
    """Nothing the user typed can become a mention, a ping or a link in the reply."""
    rest = without_usage(message)
    assert "<" not in rest and ">" not in rest, message


# --------------------------------------------------------------------------- search


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("search 415", {"area_code": "415"}),
        ("415", {"area_code": "415"}),  # `/numbers 415`
        ("415 type=local", {"area_code": "415", "number_type": "local"}),
        ("SEARCH 415", {"area_code": "415"}),
        ("search areaCode=212", {"area_code": "212"}),
        ("search area=212", {"area_code": "212"}),
        ("search 415 type=local", {"area_code": "415", "number_type": "local"}),
        ("search 415 type=toll-free", {"area_code": "415", "number_type": "toll_free"}),
        ("search 415 numberType=Mobile", {"area_code": "415", "number_type": "mobile"}),
        ('search city="San Francisco"', {"locality": "San Francisco"}),
        ("search city=“San Francisco”", {"locality": "San Francisco"}),  # typographic quotes
        ("search locality='Palo Alto'", {"locality": "Palo Alto"}),
        ("search city=‘Palo Alto’", {"locality": "Palo Alto"}),
        ("search state=ca", {"administrative_area": "CA"}),
        ("search administrativeArea=NY", {"administrative_area": "NY"}),
        ("search 415 features=voice,SMS", {"area_code": "415", "features": ("voice", "sms")}),
        (
            "search 415 features=voice,,sms,voice",
            {"area_code": "415", "features": ("voice", "sms")},
        ),
        ("search 415 contains=abc", {"area_code": "415", "contains": "ABC"}),
        ("search 415 startsWith=55", {"area_code": "415", "starts_with": "55"}),
        ("search 415 endswith=1234", {"area_code": "415", "ends_with": "1234"}),
        ("search country=us", {"country": "US"}),
        ("search 415 bestEffort=false", {"area_code": "415", "best_effort": False}),
        ("search 415 besteffort=YES", {"area_code": "415", "best_effort": True}),
        ("search 415 bestEffort=0", {"area_code": "415", "best_effort": False}),
        ("search 415 limit=1", {"area_code": "415", "limit": 1}),
        ("search 415 limit=50", {"area_code": "415", "limit": 50}),
        ("search limit=7 415", {"area_code": "415", "limit": 7}),
        ("  search   415  ", {"area_code": "415"}),
    ],
)
def test_search_maps_filters_to_query_fields(text: str, expected: dict[str, object]) -> None:
    query = search(text)
    defaults = SearchQuery().model_dump()
    assert query.model_dump() == {**defaults, **expected}


def test_search_query_params_use_the_api_names() -> None:
    query = search('search 415 type=local city="San Jose" state=CA features=sms limit=5')
    assert query.params() == {
        "areaCode": "415",
        "numberType": "local",
        "locality": "San Jose",
        "administrativeArea": "CA",
        "features": "sms",
        "limit": "5",
    }


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("search", "area code"),
        ("search 123", "`123`"),
        ("search 4155", "`4155`"),
        ("search abc", "`abc`"),
        ("search 015", "`015`"),
        ("search areaCode=123", "`areaCode`"),
        ("search areaCode=4155", "`areaCode`"),
        ("search areaCode=abc", "`areaCode`"),
        ("search 415 foo=bar", "unknown filter `foo`"),
        ("search 415 type=landline", "type is one of local, toll_free"),
        ("search 415 features=telepathy", "features are a comma list of voice"),
        ("search 415 features=voice,telepathy", "`features`"),
        ("search 415 limit=0", "`limit`"),
        ("search 415 limit=51", "`limit`"),
        ("search 415 limit=1000", "`limit`"),
        ("search 415 limit=-1", "`limit`"),
        ("search 415 limit=abc", "`limit`"),
        ("search 415 limit=", "`limit`"),
        ("search 415 bestEffort=maybe", "`bestEffort`"),
        ("search state=California", "`state`"),
        ("search country=USA", "`country`"),
        ("search 415 contains=12345678901", "`contains`"),
        ("search 415 contains=55-12", "`contains`"),
        ("search city=", "`city`"),
        ("search city=" + "x" * 65, "`city`"),
        ("search 415 416", "`areaCode` given twice"),
        ("search 415 areaCode=415", "`areaCode` given twice"),
        ("search 415 type=local TYPE=mobile", "`type` given twice"),
        ("search 415 limit=5 limit=6", "`limit` given twice"),
    ],
)
def test_search_usage_errors_name_what_to_fix(text: str, names: str) -> None:
    error = usage_error(text)
    assert names in error.message
    assert error.topic == "search"
    assert f"`/numbers {escape_usage(SUBCOMMANDS['search'].usage)}`" in error.message
    assert_inert(error.message)


# --------------------------------------------------------------------------- numbers and ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("assign +14155551234 agt_1", Assign("+14155551234", "agt_1")),
        ("assign num_123 agt-7", Assign("num_123", "agt-7")),
        ('assign "+1 (415) 555-1234" agt_1', Assign("+14155551234", "agt_1")),
        ("assign +1-415-555-1234 agt_1", Assign("+14155551234", "agt_1")),
        ("assign +1.415.555.1234 agt_1", Assign("+14155551234", "agt_1")),
        ("assign <tel:+14155551234|+14155551234> agt_1", Assign("+14155551234", "agt_1")),
        ("assign <tel:+14155551234> agt_1", Assign("+14155551234", "agt_1")),
        ("ASSIGN +442071838750 Agent9", Assign("+442071838750", "Agent9")),
        ("unassign +14155551234", Unassign("+14155551234")),
        ("unassign num_1", Unassign("num_1")),
        ("publish agt_1", Publish("agt_1")),
        ("release +14155551234", Release("+14155551234", "")),
        ("release num_1 no longer needed", Release("num_1", "no longer needed")),
        (
            'release +14155551234 "closing the Austin office"',
            Release("+14155551234", "closing the Austin office"),
        ),
        ("import +14155551234", Import("+14155551234", None)),
        ("import +14155551234 agt_1", Import("+14155551234", "agt_1")),
        ("import <tel:+14155551234|+14155551234> agt_1", Import("+14155551234", "agt_1")),
        ("list", ListNumbers()),
        ("LIST", ListNumbers()),
        ("wallet", ShowWallet()),
        ("idle", ShowIdle()),
        ("Spend", ShowSpend()),
        ("holds", ShowHolds()),
        ("Holds", ShowHolds()),
        ("help", Help(None)),
        ("help search", Help("search")),
        ("help RELEASE", Help("release")),
        ("", SearchForm()),  # `/numbers` alone opens the search modal
        ("   ", SearchForm()),
    ],
)
def test_subcommands_parse(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_none_text_opens_the_search_form() -> None:
    assert parse(None) == SearchForm()


def test_help_on_every_subcommand() -> None:
    for name in SUBCOMMANDS:
        assert parse(f"help {name}") == Help(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("assign <tel:+14155551234|+1 415 555 1234> agt_1", Assign("+14155551234", "agt_1")),
        ("unassign <tel:+14155551234|+1 415 555 1234>", Unassign("+14155551234")),
        ("import <tel:+14155551234|(415) 555-1234>", Import("+14155551234", None)),
    ],
)
def test_tel_links_with_a_spaced_label(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "names", "topic"),
    [
        ("frobnicate", "Unknown subcommand `frobnicate`", None),
        ("buy +14155551234", "Unknown subcommand `buy`", None),
        ("list everything", "wrong number of arguments", "list"),
        ("wallet now", "wrong number of arguments", "wallet"),
        ("assign +14155551234", "wrong number of arguments", "assign"),
        ("assign +14155551234 agt_1 extra", "wrong number of arguments", "assign"),
        ("unassign", "wrong number of arguments", "unassign"),
        ("unassign +14155551234 num_2", "wrong number of arguments", "unassign"),
        ("publish", "wrong number of arguments", "publish"),
        ("publish a b", "wrong number of arguments", "publish"),
        ("release", "wrong number of arguments", "release"),
        ("import", "wrong number of arguments", "import"),
        ("import +14155551234 agt_1 agt_2", "wrong number of arguments", "import"),
        ("help search list", "wrong number of arguments", "help"),
        ("help frobnicate", "no help on `frobnicate`", "help"),
        ("assign +1234 agt_1", "write it as +E.164", "assign"),
        ("assign +0123456789 agt_1", "`+0123456789` is not a phone number", "assign"),
        ("assign +1415555123456789 agt_1", "is not a phone number", "assign"),
        ("assign +1415abc1234 agt_1", "is not a phone number", "assign"),
        ("assign 4155551234 agt_1", "`4155551234` is neither a +E.164", "assign"),
        ("assign +14155551234 9agent", "`9agent` is not an agent id", "assign"),
        ('assign +14155551234 "agt 1"', "`agt 1` is not an agent id", "assign"),
        ("import num_1", "must be a phone number in +E.164 form", "import"),
        ("import +14155551234 bad.id", "`bad.id` is not an agent id", "import"),
        ("release +14155551234 " + "x" * 301, "under 300 characters", "release"),
    ],
)
def test_usage_errors_name_what_to_fix(text: str, names: str, topic: str | None) -> None:
    error = usage_error(text)
    assert names in error.message
    assert error.topic == topic
    if topic is not None:
        assert f"Usage: `/numbers {escape_usage(SUBCOMMANDS[topic].usage)}`" in error.message
    assert_inert(error.message)


@pytest.mark.parametrize("text", ['search city="San Francisco', "assign '+14155551234 agt_1", "“"])
def test_unclosed_quote(text: str) -> None:
    assert "quote is not closed" in usage_error(text).message


# --------------------------------------------------------------------------- hostile input


def test_over_long_text_is_refused_with_the_limit() -> None:
    error = usage_error("search 415 " + "x" * 500)
    assert "500" in error.message and "511" in error.message
    # 500 characters exactly is not refused for its length
    ok = parse("release +14155551234 " + "y" * (500 - len("release +14155551234 ")))
    assert not (isinstance(ok, UsageError) and "at most" in ok.message)


@pytest.mark.parametrize(
    "text",
    [
        "assign +14155551234 agt\u202e1",  # RIGHT-TO-LEFT OVERRIDE
        "search 415\u202etype=local",
        "publish agt\u200b1",  # ZERO WIDTH SPACE
        "publish agt\u200d1",  # ZERO WIDTH JOINER
        "publish \ufeffagt1",  # BOM
        "publish agt\u20661\u2069",  # directional isolates
        "search 415\x00",
        "search\x07 415",
        "release +14155551234 \x1b[31mred",
    ],
)
def test_control_and_invisible_characters_are_refused(text: str) -> None:
    error = usage_error(text)
    assert "invisible control or direction characters" in error.message
    assert "\u202e" not in error.message and "\u200b" not in error.message


@pytest.mark.parametrize(
    "text",
    [
        "search '; DROP TABLE requests; --",
        "'; DROP TABLE requests; --",
        'assign "\'; DROP TABLE requests; --" agt_1',
        'publish "agt_1\'; DROP TABLE requests; --"',
        "unassign 1;DELETE",
    ],
)
def test_sql_injection_text_is_a_usage_error(text: str) -> None:
    error = usage_error(text)
    assert error.message
    assert_inert(error.message)


@pytest.mark.parametrize(
    ("text", "echo"),
    [
        ("<!channel>", "`&lt;!channel&gt;`"),
        ("search <!channel>", "`&lt;!channel&gt;`"),
        ("search <!here> 415", "`&lt;!here&gt;`"),
        ("assign <@U123> agt_1", "`&lt;@U123&gt;`"),
        ("assign +14155551234 <@U123|bob>", "`&lt;@U123|bob&gt;`"),
        ("publish <https://evil|click>", "`&lt;https://evil|click&gt;`"),
        ("unassign <#C123|general>", "`&lt;#C123|general&gt;`"),
        ("help <!everyone>", "`&lt;!everyone&gt;`"),
        ("search 415 <!subteam^S1>=1", "`&lt;!subteam^S1&gt;`"),
        ("import <mailto:a@b.c|x>", "`&lt;mailto:a@b.c|x&gt;`"),
        ("frob`<!channel>`", "`frob'&lt;!channel&gt;'`"),  # backticks cannot break the span
        ("publish a&lt;b", "`a&amp;lt;b`"),  # a pre-escaped entity stays text
    ],
)
def test_markup_is_echoed_escaped(text: str, echo: str) -> None:
    error = usage_error(text)
    assert echo in error.message
    assert_inert(error.message)


def test_quoted_sql_is_just_text() -> None:
    """Balanced quotes make it an ordinary city name; numbot never builds SQL from it."""
    assert search("search city=x' OR '1'='1 415").locality == "x OR 1=1"


def test_echoes_are_truncated() -> None:
    error = usage_error("publish " + "<" * 200)
    assert error.message.split("` is not")[0].count("&lt;") == 40  # the echo, not the usage line


# --------------------------------------------------------------------------- once bugs


@pytest.mark.parametrize("text", ["search 415 limit=²", "search limit=①"])
def test_limit_with_superscript_digits_is_a_usage_error(text: str) -> None:
    assert isinstance(parse(text), UsageError)


@pytest.mark.parametrize(
    "text",
    [
        "assign +1٤١٥5551234 agt_1",
        "import +1٤١٥٥٥٥١٢٣٤",
        "search 4٤٥",
        'assign +14155551234 "agt_1\n"',
        'unassign "num_1\n"',
        'publish "agt_1\n"',
    ],
)
def test_only_ascii_digits_and_no_trailing_newline(text: str) -> None:
    assert isinstance(parse(text), UsageError)


@pytest.mark.parametrize(
    "text", ["release +14155551234 we don't need it", "release +14155551234 we don’t need it"]
)
def test_apostrophe_in_a_release_reason(text: str) -> None:
    result = parse(text)
    assert isinstance(result, Release)
    assert result.reason.startswith("we don")


# --------------------------------------------------------------------------- the table


def test_every_subcommand_has_usage_and_help() -> None:
    assert set(SUBCOMMANDS) == {
        *("search", "list", "wallet", "idle", "spend", "holds", "assign", "unassign"),
        *("publish", "release", "import", "help"),
    }
    for name, sub in SUBCOMMANDS.items():
        assert sub.usage.strip().startswith(name), name
        assert sub.help.strip(), name
        assert callable(sub.parse), name


# --------------------------------------------------------------------------- properties


def check_result(text: str) -> None:
    result = parse(text)
    assert isinstance(result, (*COMMAND_TYPES, UsageError)), result
    if isinstance(result, UsageError):
        assert result.message
        assert result.topic is None or result.topic in SUBCOMMANDS
        assert_inert(result.message)
        return
    match result:
        case Search(query):
            assert isinstance(query, SearchQuery)
            SearchQuery.model_validate(query.model_dump())  # still valid
            assert 1 <= query.limit <= 50
            if query.area_code is not None:
                assert STRICT_AREA_CODE.fullmatch(query.area_code)
        case Assign(number, agent_id):
            assert STRICT_E164.fullmatch(number) or STRICT_ID.fullmatch(number)
            assert STRICT_ID.fullmatch(agent_id)
        case Unassign(number) | Release(number, _):
            assert STRICT_E164.fullmatch(number) or STRICT_ID.fullmatch(number)
        case Publish(agent_id):
            assert STRICT_ID.fullmatch(agent_id)
        case Import(e164, agent_id):
            assert STRICT_E164.fullmatch(e164)
            assert agent_id is None or STRICT_ID.fullmatch(agent_id)
        case Help(topic):
            assert topic is None or topic in SUBCOMMANDS


def _safe_parse(text: str) -> None:
    """parse() never raises, and what it returns is well-formed."""
    check_result(text)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Characters that have tripped parsers: non-ASCII digits, odd spaces, quotes, newlines.
_TRICKY = "²①٤٥\u00a0\u2028\u3000“”‘’'\"\\\n=<>|&`"
_text = st.text(st.characters() | st.sampled_from(_TRICKY), max_size=10)


@FAST
@given(st.text(st.characters() | st.sampled_from(_TRICKY), max_size=600))
def test_arbitrary_text_never_raises(text: str) -> None:
    _safe_parse(text)


_junk = st.one_of(
    _text,
    _text.map(lambda t: f'"{t}"'),
    st.sampled_from(
        ["<!channel>", "<@U123>", "<https://evil|click>", "'; DROP TABLE requests; --"]
    ),
)
_area = st.from_regex(r"[2-9][0-9]{2}", fullmatch=True)
_number = st.one_of(
    st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    st.from_regex(r"\+1[ .-]?\(?[2-9][0-9]{2}\)?[.-]?[0-9]{3}-?[0-9]{4}", fullmatch=True),
    st.from_regex(r"\+[0-9() .-]{1,18}", fullmatch=True).map(lambda t: f'"{t}"'),
    st.from_regex(r"[2-9][0-9]{9}", fullmatch=True).map(lambda t: f"<tel:+1{t}|+1{t}>"),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,10}", fullmatch=True),
)
_agent = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,10}", fullmatch=True)
_VALUES = {
    "areacode": ["415", "212", "123", "4155"],
    "type": ["local", "toll-free", "Mobile", "landline"],
    "city": ['"San Francisco"', "Austin", "“New York”", ""],
    "state": ["ca", "NY", "California"],
    "features": ["voice", "voice,sms", "SMS,,mms", "telepathy"],
    "contains": ["55", "abc", "12345678901"],
    "startswith": ["4", "xyz"],
    "endswith": ["1234", "-1"],
    "country": ["us", "GB", "USA"],
    "besteffort": ["true", "no", "maybe"],
    "limit": ["1", "50", "0", "51", "007", "-3"],
}
_filter = st.builds(
    lambda key, values, junk, use_junk: f"{key}={junk if use_junk else values}",
    st.sampled_from(sorted(_VALUES)),
    st.sampled_from(sorted({v for vs in _VALUES.values() for v in vs})),
    _text,
    st.booleans(),
) | st.sampled_from([f"{k}={v}" for k, vs in _VALUES.items() for v in vs])
_ARGS = {
    "search": st.lists(st.one_of(_area, _filter, _filter), max_size=4),
    "list": st.lists(_junk, max_size=1),
    "wallet": st.lists(_junk, max_size=1),
    "holds": st.lists(_junk, max_size=1),
    "assign": st.tuples(_number, _agent).map(list),
    "unassign": st.tuples(_number).map(list),
    "publish": st.tuples(_agent).map(list),
    "release": st.tuples(_number, st.lists(_text, max_size=3)).map(lambda t: [t[0], *t[1]]),
    "import": st.tuples(_number, st.one_of(st.none(), _agent)).map(
        lambda t: [t[0]] if t[1] is None else list(t)
    ),
    "help": st.lists(st.sampled_from([*SUBCOMMANDS, "nope"]), max_size=1),
}


@st.composite
def command_texts(draw: st.DrawFn) -> str:
    """Mostly well-formed `/numbers` text, with junk tokens dropped in or swapped about."""
    name = draw(st.sampled_from([*SUBCOMMANDS, "415", "frob"]))
    args = list(draw(_ARGS.get(name, _ARGS["search"])))
    if draw(st.integers(0, 3)) == 0:
        args.insert(draw(st.integers(0, len(args))), draw(_junk))
    if draw(st.integers(0, 5)) == 0 and args:
        args.pop(draw(st.integers(0, len(args) - 1)))
    if args and draw(st.integers(0, 2)) == 0:  # put a tricky character into one token
        i = draw(st.integers(0, len(args) - 1))
        at = draw(st.integers(0, len(args[i])))
        replace = draw(st.booleans())
        args[i] = args[i][:at] + draw(st.sampled_from(_TRICKY)) + args[i][at + replace :]
        if draw(st.booleans()):
            args[i] = f'"{args[i]}"'
    name = draw(st.sampled_from([name, name.upper()]))
    return " ".join([name, *args])


@FAST
@given(command_texts())
def test_grammar_built_text_never_raises(text: str) -> None:
    _safe_parse(text)


# --------------------------------------------------------------------------- well-formed text parses exactly

_SEARCH_FIELDS = {
    # filter name as typed -> (SearchQuery field, values as typed, the value it must become)
    "areaCode": ("area_code", st.from_regex(r"[2-9][0-9]{2}", fullmatch=True), str),
    "type": ("number_type", st.sampled_from(["local", "toll_free", "national", "mobile"]), str),
    "state": ("administrative_area", st.from_regex(r"[a-zA-Z]{2}", fullmatch=True), str.upper),
    "country": ("country", st.from_regex(r"[a-zA-Z]{2}", fullmatch=True), str.upper),
    "contains": ("contains", st.from_regex(r"[0-9a-zA-Z]{1,10}", fullmatch=True), str.upper),
    "startsWith": ("starts_with", st.from_regex(r"[0-9a-zA-Z]{1,10}", fullmatch=True), str.upper),
    "endsWith": ("ends_with", st.from_regex(r"[0-9a-zA-Z]{1,10}", fullmatch=True), str.upper),
    "limit": ("limit", st.integers(1, 50).map(str), int),
    "bestEffort": ("best_effort", st.sampled_from(["true", "false"]), lambda v: v == "true"),
    "city": (
        "locality",
        st.from_regex(r"[A-Za-z][A-Za-z .'-]{0,30}[A-Za-z]", fullmatch=True),
        lambda v: v,
    ),
}


@st.composite
def well_formed_searches(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    names = draw(st.lists(st.sampled_from(sorted(_SEARCH_FIELDS)), min_size=1, unique=True))
    parts, expected = [], {}
    for name in draw(st.permutations(names)):
        field, values, convert = _SEARCH_FIELDS[name]
        raw = draw(values)
        expected[field] = convert(raw)
        if name == "city":
            raw = '"' + raw.replace('"', "") + '"'
        parts.append(f"{name}={raw}")
    return "search " + " ".join(parts), expected


@settings(max_examples=100, deadline=None)
@given(well_formed_searches())
def test_well_formed_searches_parse_to_exactly_their_filters(
    case: tuple[str, dict[str, object]],
) -> None:
    text, expected = case
    assert search(text).model_dump() == {**SearchQuery().model_dump(), **expected}


_e164 = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
_id = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,63}", fullmatch=True)
_reason = st.lists(st.from_regex(r"[A-Za-z0-9,.!?-]{1,12}", fullmatch=True), max_size=8)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.tuples(_e164 | _id, _id).map(lambda t: (f"assign {t[0]} {t[1]}", Assign(*t))),
        (_e164 | _id).map(lambda n: (f"unassign {n}", Unassign(n))),
        _id.map(lambda a: (f"publish {a}", Publish(a))),
        _e164.map(lambda n: (f"import {n}", Import(n, None))),
        st.tuples(_e164, _id).map(lambda t: (f"import {t[0]} {t[1]}", Import(*t))),
        st.tuples(_e164 | _id, _reason).map(
            lambda t: (f"release {t[0]} {' '.join(t[1])}".strip(), Release(t[0], " ".join(t[1])))
        ),
    )
)
def test_well_formed_commands_parse_exactly(case: tuple[str, object]) -> None:
    text, expected = case
    assert parse(text) == expected


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[2-9][0-9]{9}", fullmatch=True))
def test_every_way_slack_writes_a_us_number_is_the_same_number(digits: str) -> None:
    e164 = "+1" + digits
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    spellings = [
        e164,
        f'"+1 {area} {exchange} {line}"',
        f'"+1 ({area}) {exchange}-{line}"',
        f"+1-{area}-{exchange}-{line}",
        f"+1.{area}.{exchange}.{line}",
        f"<tel:{e164}|{e164}>",
        f"<tel:{e164}|+1 {area} {exchange} {line}>",
        f"<tel:{e164}|({area}) {exchange}-{line}>",
    ]
    for spelling in spellings:
        assert parse(f"unassign {spelling}") == Unassign(e164), spelling
        assert parse(f"import {spelling} agt_1") == Import(e164, "agt_1"), spelling


# --------------------------------------------------------------------------- found bugs


@pytest.mark.parametrize(
    "text",
    [
        'release "+1 415 555 1234" we don\'t need it',
        'release "+1 415 555 1234" we don’t need it',  # Slack sends typographic apostrophes
        "release '+14155551234' the team's old line",
    ],
)
def test_apostrophe_in_a_release_reason_after_a_quoted_number(text: str) -> None:
    result = parse(text)
    assert isinstance(result, Release), result
    assert result.number == "+14155551234"
    assert result.reason.startswith(("we don", "the team"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("search\u00a0415", "search"),
        ("assign +14155551234\u00a0agt_1", Assign("+14155551234", "agt_1")),
        ("publish\u3000agt_1", Publish("agt_1")),
    ],
)
def test_unicode_spaces_separate_words(text: str, expected: object) -> None:
    result = parse(text)
    if expected == "search":
        assert isinstance(result, Search) and result.query.area_code == "415", result
    else:
        assert result == expected


def test_unicode_spaces_never_produce_a_half_parsed_command() -> None:
    """Whatever the fix, a no-break space must not be silently kept inside an argument."""
    for text in (
        "assign +14155551234\u00a0agt_1",
        "publish agt\u00a01",
        "import +1415\u00a05551234",
    ):
        result = parse(text)
        if isinstance(result, Assign | Publish | Import):
            assert "\u00a0" not in repr(result)


# --------------------------------------------------------------------------- inert free text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("release num_1 first line\nsecond *line*", "first line second *line*"),
        ("release num_1 old \ud800 line", "old line"),  # a lone surrogate, as JSON can carry
        ("release num_1 cafe\u0301 closed", "café closed"),  # NFC, as the modal's reasons
        ("release num_1 para\u2029graph", "para graph"),
    ],
)
def test_a_release_reason_is_one_clean_line(text: str, reason: str) -> None:
    assert parse(text) == Release("num_1", reason)


def test_a_release_reason_is_measured_after_cleaning() -> None:
    assert "under 300 characters" in usage_error("release num_1 " + "ab " * 120).message
    assert parse("release num_1 " + "a\n\n\n" * 120) == Release("num_1", ("a " * 120).strip())


@pytest.mark.parametrize("text", ["assign \ud800 agt_1", "frobnicate\ud800", "assign +1\u2028 x"])
def test_echoed_tokens_are_valid_utf8_on_one_line(text: str) -> None:
    message = usage_error(text).message
    message.encode("utf-8")
    assert "\n" not in message and "\u2028" not in message


# --------------------------------------------------------------------------- unquoted cities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "search 415 city=San Francisco features=voice",
            {"area_code": "415", "locality": "San Francisco", "features": ("voice",)},
        ),
        ("search city=San Francisco", {"locality": "San Francisco"}),
        ("search CITY=New York City limit=3", {"locality": "New York City", "limit": 3}),
        (
            "search locality=Palo Alto state=CA",
            {"locality": "Palo Alto", "administrative_area": "CA"},
        ),
        (
            "search city=Coeur d'Alene state=ID",
            {"locality": "Coeur d'Alene", "administrative_area": "ID"},
        ),
        ("search city=Coeur d’Alene", {"locality": "Coeur d'Alene"}),  # Slack's apostrophe
        # An area code ends the city: no city has a three-digit word.
        ("search city=San Francisco 415", {"locality": "San Francisco", "area_code": "415"}),
        ("415 city=San Jose", {"area_code": "415", "locality": "San Jose"}),
        ("search city=San   Francisco\tlimit=5", {"locality": "San Francisco", "limit": 5}),
        # Quoted cities mean what they always meant.
        ('search city="San Francisco" 415', {"locality": "San Francisco", "area_code": "415"}),
        ("search city=Austin 512", {"locality": "Austin", "area_code": "512"}),
    ],
)
def test_a_city_of_several_words_needs_no_quotes(text: str, expected: dict[str, object]) -> None:
    assert search(text).model_dump() == {**SearchQuery().model_dump(), **expected}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('search city="San Francisco" CA', "`CA` is not a filter"),  # quoted: CA is not the city
        ('search city=San "Fran cisco"', "is not a filter"),  # a quote ends the unquoted city
        ("search city=" + "x " * 40, "`city`"),  # the city's length is checked whole
        ("search city=San Francisco foo=bar", "unknown filter `foo`"),
        ("search city=San Francisco city=Austin", "`city` given twice"),
    ],
)
def test_an_ambiguous_unquoted_city_is_still_a_usage_error(text: str, names: str) -> None:
    error = usage_error(text)
    assert names in error.message
    assert_inert(error.message)


def test_only_search_reads_unquoted_cities() -> None:
    assert parse("release num_1 moving to city=San Francisco") == Release(
        "num_1", "moving to city=San Francisco"
    )
    assert isinstance(parse("assign city=San Francisco"), UsageError)


@settings(max_examples=100, deadline=None)
@given(
    # The first word holds no quote (one that does is read by shlex, quotes and all, as ever);
    # the others may hold apostrophes, as in Coeur d'Alene.
    first=st.from_regex(r"[A-Za-z][A-Za-z.-]{0,12}", fullmatch=True),
    rest=st.lists(st.from_regex(r"[A-Za-z][A-Za-z.'-]{0,12}", fullmatch=True), max_size=3),
    area=st.none() | st.from_regex(r"[2-9][0-9]{2}", fullmatch=True),
    limit=st.none() | st.integers(1, 50),
    before=st.booleans(),
)
def test_any_unquoted_city_parses_to_its_words(
    first: str, rest: list[str], area: str | None, limit: int | None, before: bool
) -> None:
    city = " ".join([first, *rest])
    if len(city) > 64:
        return
    parts = [f"city={city}"]
    if limit is not None:
        parts.append(f"limit={limit}")
    if area is not None:
        parts.insert(0 if before else len(parts), area)
    query = search("search " + " ".join(parts))
    assert query.locality == city
    assert query.area_code == area
    assert query.limit == (limit if limit is not None else 10)

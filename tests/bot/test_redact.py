"""bot/kernel/redact.py: tokens, Bearer headers and registered secrets never reach logs."""

from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bot.kernel.redact as redact_module
from bot.kernel.redact import RedactingFilter, redact, register_secret


@pytest.fixture(autouse=True)
def no_registered_secrets(monkeypatch):
    """register_secret() fills a module-wide set: give every test its own."""
    monkeypatch.setattr(redact_module, "_known", set())


@pytest.mark.parametrize(
    "token",
    [
        "xoxb-1234567890-0987654321-AbCdEfGhIjKl",
        "xoxp-1-2-3-abc",
        "xoxa-2-abc",
        "xoxs-abc",
        "xoxr-abc",
        "xoxo-abc",
        "xapp-1-A0123-456-abcdef",
        "flowyte_sk_live_abcDEF123_x",
        "flowyte_sk_test",
    ],
)
def test_token_shapes_are_masked(token):
    text = f"before {token} after"
    assert redact(text) == "before *** after"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi_jkl~+/=", "Authorization: Bearer ***"),
        ("authorization: bearer 12345", "authorization: bearer ***"),
        ("BEARER   tok", "BEARER   ***"),
        ("{'Authorization': 'Bearer flowyte_sk_live_x'}", "{'Authorization': 'Bearer ***'}"),
    ],
)
def test_bearer_values_are_masked_keeping_the_word(text, expected):
    assert redact(text) == expected


def test_several_secrets_in_one_text():
    text = "bot=xoxb-1-a app=xapp-1-b key=flowyte_sk_live_c hdr=Bearer zzz"
    assert redact(text) == "bot=*** app=*** key=*** hdr=Bearer ***"


def test_ordinary_text_is_untouched():
    text = "Bought +14155550100 for $2.15, approved by <@U0123ABC>; req_0123456789ab"
    assert redact(text) == text


def test_registered_secrets_are_masked():
    register_secret("8f14e45fceea167a5a36dedd4bea2543")
    text = "signing secret 8f14e45fceea167a5a36dedd4bea2543 leaked"
    assert redact(text) == "signing secret *** leaked"


@pytest.mark.parametrize("value", [None, "", "abc", "12345"])
def test_short_or_empty_secrets_are_not_registered(value):
    register_secret(value)
    assert redact_module._known == set()
    assert redact("abc 12345") == "abc 12345"


tokenish = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda prefix, body, pre, post: pre + prefix + body + post,
        st.sampled_from(["xoxb-", "xapp-", "flowyte_sk_", "Bearer ", "bearer\t", "xoxp-"]),
        st.text(alphabet="abcXYZ019_-.~+/=", min_size=0, max_size=20),
        st.text(max_size=5),
        st.text(max_size=5),
    ),
)


@given(st.lists(tokenish, max_size=4).map(" ".join))
def test_redact_is_idempotent(text):
    once = redact(text)
    assert redact(once) == once


@given(
    slack=st.text(alphabet="abcXYZ0189-", min_size=1, max_size=30),
    flowyte=st.text(alphabet="abcXYZ0189_", min_size=1, max_size=30),
)
def test_no_part_of_a_token_survives(slack, flowyte):
    for token in ("xoxb-" + slack, "xapp-" + slack, "flowyte_sk_" + flowyte):
        assert redact(f"x {token} y") == "x *** y"


# --- the logging filter ---------------------------------------------------------------


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.bot.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_filter_redacts_message_and_args(captured):
    logger, stream = captured
    logger.warning("calling with %s and %r", "xoxb-1-secret", {"key": "flowyte_sk_live_s3cr3t"})
    out = stream.getvalue()
    assert "xoxb-1-secret" not in out and "flowyte_sk_live_s3cr3t" not in out
    assert out.count("***") == 2 and out.startswith("WARNING calling with")


def test_filter_redacts_exception_text(captured):
    logger, stream = captured
    register_secret("my-signing-secret-value")
    try:
        raise RuntimeError("boom: Bearer flowyte_sk_live_TRACE and my-signing-secret-value")
    except RuntimeError:
        logger.exception("it failed for xapp-1-abc")
    out = stream.getvalue()
    assert "flowyte_sk_live_TRACE" not in out
    assert "my-signing-secret-value" not in out
    assert "xapp-1-abc" not in out
    assert "RuntimeError: boom: Bearer *** and ***" in out
    assert "Traceback" in out


def test_filter_keeps_clean_records_as_they_are(captured):
    logger, stream = captured
    logger.info("plain %d", 42)
    assert stream.getvalue() == "INFO plain 42\n"


def test_filter_never_drops_a_record():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "xoxb-%s", ("1",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "***"


def test_a_badly_formatted_record_does_not_crash_the_caller(captured):
    logger, stream = captured
    logger.warning("count %d", "not a number")  # must not raise
    assert "count" in stream.getvalue()


def test_overlapping_registered_secrets_leave_no_tail():
    leaked = []
    for i in range(40):  # set order varies with the hash seed; 40 pairs make it certain
        redact_module._known.clear()
        short = f"sigsecret{i:03d}"
        whole = f"{short}TAIL{i:03d}xyz"
        register_secret(short)
        register_secret(whole)
        if "TAIL" in redact(f"value={whole}"):
            leaked.append(whole)
    assert leaked == []


@given(
    secret=st.text(alphabet="abcdef0123456789", min_size=6, max_size=40),
    around=st.text(alphabet=" =:,'\"abc", max_size=10),
)
def test_a_registered_secret_never_survives(secret, around):
    redact_module._known.clear()
    register_secret(secret)
    out = redact(around + secret + around)
    assert secret not in out and "***" in out
    assert redact(out) == out


def test_filter_redacts_a_record_with_exception_but_no_message_args():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed", None, exc_info=_exc_info("Bearer abc.def")
    )
    assert RedactingFilter().filter(record) is True
    text = record.getMessage()
    assert "abc.def" not in text and "Bearer ***" in text
    assert record.exc_info is None and record.exc_text is None


def _exc_info(message: str):
    try:
        raise ValueError(message)
    except ValueError:
        import sys

        return sys.exc_info()


def _redact_without_shortcut(text: str) -> str:
    for secret in sorted(redact_module._known, key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern in redact_module._PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "") + "***", text)
    return text


@given(
    st.lists(
        st.one_of(
            tokenish,
            st.sampled_from(
                [
                    "BEARER\t",
                    "bearer  x",
                    "s3cr(e)t+",
                    "xox",
                    "xapp-",
                    "postgresql://u:",
                    "pw@h",
                    "POSTGRES://:",
                ]
            ),
        ),
        max_size=6,
    ).map("".join)
)
def test_the_no_secret_shortcut_never_skips_one(text):
    """redact() returns text untouched when one scan finds nothing that could be a secret:
    it must answer exactly as substituting every pattern and secret in turn would."""
    redact_module._known.clear()
    redact_module._known.update({"s3cr(e)t+", "8f14e45fceea167a5a36dedd4bea2543"})
    assert redact(text) == _redact_without_shortcut(text)
    redact_module._known.clear()  # the pattern follows the set as it changes
    assert redact(text) == _redact_without_shortcut(text)

"""bot/kernel/text.py: user text becomes one visible line of valid Unicode, whatever was typed."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.kernel.text import _INVISIBLE, clean_user_text

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad\u034f\u3164"
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
FORBIDDEN = set(BIDI + ZERO_WIDTH + LINE_BREAKS)

# Any code point, lone surrogates included (they arrive from JSON like "\ud800"), with the
# characters this module exists for made common enough that hypothesis finds their mixes.
hostile_chars = st.one_of(
    st.characters(codec=None, categories=None),
    st.sampled_from([*sorted(FORBIDDEN), " ", "\t", "e", "\u0301", "\ud800", "\udfff", "\u2000"]),
)
hostile_text = st.text(alphabet=hostile_chars, max_size=80)
lengths = st.integers(min_value=0, max_value=100)


def forbidden_in(text: str) -> set[str]:
    return {
        c
        for c in text
        if c in FORBIDDEN or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
    }


@settings(max_examples=400)
@given(hostile_text, lengths)
@example("e\u200b\u0301", 10)  # a mark split from its letter by a zero-width space
@example("\u0958\u0958", 1)  # a letter NFC decomposes
@example("a\u2000\u2001b", 10)  # spaces NFC maps to other spaces
def test_clean_is_idempotent(text: str, max_length: int) -> None:
    once = clean_user_text(text, max_length=max_length)
    assert clean_user_text(once, max_length=max_length) == once


@settings(max_examples=400)
@given(hostile_text, lengths)
def test_clean_text_is_one_visible_trimmed_line_within_the_limit(
    text: str, max_length: int
) -> None:
    cleaned = clean_user_text(text, max_length=max_length)
    assert not forbidden_in(cleaned)
    assert len(cleaned) <= max_length
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert unicodedata.is_normalized("NFC", cleaned)
    cleaned.encode("utf-8")  # never a lone surrogate: SQLite and Slack both take it


@given(
    st.text(
        alphabet=st.characters(
            codec="utf-8", categories=["L", "N", "P", "S"], exclude_characters=_INVISIBLE
        )
    )
)
@example("\u115f")  # a Hangul filler: a letter (Lo) to Unicode, invisible on screen: removed
def test_ordinary_text_is_kept(text: str) -> None:
    """Letters, digits, punctuation and symbols survive, except the few letters that render
    as nothing (bot/kernel/text.py's _INVISIBLE), which are removed like format characters."""
    if text in _INVISIBLE:
        assert clean_user_text(text, max_length=1) == ""
        return
    text = unicodedata.normalize("NFC", text)
    assert clean_user_text(text, max_length=len(text)) == text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Bay Area support line", "Bay Area support line"),
        (
            "ok\n*Costs now:* $0.01\n:white_check_mark: Approved by <@U0BOB>",
            "ok *Costs now:* $0.01 :white_check_mark: Approved by <@U0BOB>",
        ),
        ("  two\t\tspaces \u00a0 here  ", "two spaces here"),
        ("rev\u202eersed\u202c and \u2066isolated\u2069", "reversed and isolated"),
        ("zero\u200bwidth\ufeff join\u200d", "zerowidth join"),
        ("soft\u00adhyphen", "softhyphen"),
        ("lone \ud800 surrogate", "lone surrogate"),
        ("line\u2028sep\u2029para\x85nel", "line sep para nel"),
        ("nul\x00and\x7fdel", "nul and del"),
        ("cafe\u0301", "café"),  # NFC
        ("emoji 👩‍💻 stays", "emoji 👩💻 stays"),  # the joiner goes, the people stay
    ],
)
def test_examples(raw: str, clean: str) -> None:
    assert clean_user_text(raw, max_length=300) == clean


def test_cut_to_the_limit_on_a_code_point_and_trimmed() -> None:
    assert clean_user_text("abc def", max_length=4) == "abc"
    assert clean_user_text("😀😀😀", max_length=2) == "😀😀"
    assert clean_user_text("anything", max_length=0) == ""
    with pytest.raises(ValueError):
        clean_user_text("x", max_length=-1)


@settings(max_examples=400)
@given(st.one_of(hostile_text, st.text(alphabet=st.characters(max_codepoint=0x7F))), lengths)
@example("  a\tb  c ", 3)
@example("a\x7fb", 10)  # DEL is ASCII but not printable: it becomes a space
def test_the_ascii_shortcut_cleans_as_the_full_path_does(text: str, max_length: int) -> None:
    from bot.kernel.text import _clean_any

    assert clean_user_text(text, max_length=max_length) == _clean_any(text, max_length)

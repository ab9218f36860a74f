"""Text people typed, made safe to store, audit and show: one line, visible, valid Unicode.

    clean_user_text("Bay Area\\n*Costs now:* $0.01\\u202e", max_length=300)
    -> "Bay Area *Costs now:* $0.01"

Pure, no I/O. This only decides *which characters* survive; whether Slack formats them is the
renderer's business (handlers/blocks puts user text in plain_text objects, where it cannot).
"""

from __future__ import annotations

import unicodedata

# Invisible characters Unicode does not class as format (Cf) characters, so the category test
# below misses them: combining grapheme joiner, Hangul and Khmer fillers, Mongolian
# free variation selectors. Each renders as nothing and can hide or fake the text around it.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u3164\uffa0")
# Control characters (Cc) and line/paragraph separators (Zl, Zp) break lines or do worse:
# they become a space, so words on either side stay apart.
_SPACE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# Format characters (Cf: bidi controls U+202A-202E, U+2066-2069, U+200E/200F, U+061C,
# zero-width U+200B-200D, U+2060-2064, U+FEFF, U+180E, the soft hyphen, tag characters...)
# and surrogates (Cs: in a Python str only ever a lone half, which UTF-8 cannot encode and
# SQLite's driver refuses) are removed outright.
_DROP_CATEGORIES = frozenset({"Cf", "Cs"})


MAX_REASON = 300  # characters: a reason for a purchase, a release or a rejection, everywhere


def clean_user_text(text: str, *, max_length: int) -> str:
    """One trimmed line of at most `max_length` code points, in NFC, with nothing invisible.

    Idempotent: cleaning clean text changes nothing. Never raises for any `str`, and the
    result always encodes to UTF-8.
    """
    if max_length < 0:
        raise ValueError("max_length must not be negative")
    if text.isascii() and text.isprintable():
        # Printable ASCII has nothing to drop, no control to turn into a space and is its
        # own NFC: only the whitespace and the length are left to settle (most text is this).
        return " ".join(text.split())[:max_length].rstrip()
    return _clean_any(text, max_length)


def _clean_any(text: str, max_length: int) -> str:
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category in _SPACE_CATEGORIES:
            kept.append(" ")
        elif category not in _DROP_CATEGORIES and char not in _INVISIBLE:
            kept.append(char)
    # Removal comes first, so a mark split from its letter by a zero-width space composes
    # again; whitespace collapses after NFC, which maps some spaces (U+2000) to others.
    normal = unicodedata.normalize("NFC", "".join(kept))
    line = " ".join(normal.split())
    # Slicing a str cuts between code points, never inside a UTF-8 or UTF-16 sequence.
    return line[:max_length].rstrip()


def inert(text: str) -> str:
    """Someone else's words (a reason, a search, a field) put inside one of numbot's own
    sentences: `&`, `<` and `>` become Slack's entities, so no renderer can take a mention,
    a channel, a date or a link from them, in blocks or in a notification's text. The
    renderer (handlers/blocks/common.sentence) keeps entities as they are."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

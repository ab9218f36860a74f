"""One word per idea (docs/glossary.md): no sentence numbot writes uses a word the glossary
retires. Every word in the glossary's "Not" column is either searched for in every sentence
the service and the Slack surface write, or named below with the sense numbot still uses it in.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary.md"

# The modules whose string literals are what people read: the service's sentences and
# refusals, the Block Kit builders, the listeners' replies, Flowyte's errors as numbot says them.
SENTENCE_MODULES = sorted(
    {
        *(ROOT / "bot" / "workflow").glob("*.py"),  # sentences.py, and refusals said in place
        *(ROOT / "handlers").rglob("*.py"),  # blocks/, and the listeners' replies
        ROOT / "bot" / "flowyte" / "errors.py",
    }
)

# Retired for one idea only; numbot still says them in another sense.
OTHER_SENSES = {
    "reject": "an approver's decision (only the requester's withdrawal is 'cancel')",
    "failed": "the status of a request that failed (only a lost answer is 'still confirming')",
    "pending": "Flowyte's and Slack's word in a few errors (a request waiting is 'waiting')",
    "price": "Flowyte's quote, re-checked before buying ('costs now' is what a purchase takes)",
    "admin": "whoever runs numbot ('your numbot admin'), never an approver",
    "account": "a carrier's or Flowyte's account, never the wallet",
    "accept": "Slack accepting a token, never an approver's decision",
    "order": "an order of things, never a purchase",
    "post": "to post a message to Slack (the approval message is the 'card')",
    "notification": "a phone's notification (an approver's own is a 'copy')",
    "unassign": "the `/numbers unassign` command's name (what it does is to route away)",
}


def retired() -> set[str]:
    """The words of the glossary's "Not" column, lower-case."""
    words: set[str] = set()
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and "**" in cells[0]:
            words |= {w.lower() for w in re.findall(r'"([^"]+)"', cells[2])}
    return words


def stem(word: str) -> re.Pattern[str]:
    """The word in any of its forms: "expires" finds expire, expired, expiry, expiring."""
    root = word.removesuffix("s")
    root = root.removesuffix("e") if len(root) > 4 else root
    return re.compile(rf"\b{re.escape(root)}\w*", re.IGNORECASE)


def sentences(path: Path) -> list[tuple[int, str]]:
    """String literals of more than one word (sentences and their pieces, f-strings' too),
    leaving out docstrings and what goes to the log."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            skip.add(id(first.value))  # a docstring
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("logger", "logging")
        ):
            skip |= {id(inner) for inner in ast.walk(node)}
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and " " in node.value.strip()
    ]


def test_the_glossary_retires_words_and_each_is_searched_for_or_explained():
    words = retired()
    assert {"expires", "reservation", "ticket", "deploy"} <= words  # the table was read
    assert set(OTHER_SENSES) <= words, "a word explained here is no longer in the glossary"


def test_no_sentence_uses_a_word_the_glossary_retires():
    searched = sorted(retired() - set(OTHER_SENSES))
    found = []
    for path in SENTENCE_MODULES:
        for line, text in sentences(path):
            for word in searched:
                if stem(word).search(text):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {word!r} in {text!r}")
    assert not found, "\n".join(found)


def test_the_search_finds_every_form_of_a_retired_word():
    assert all(stem("expires").search(s) for s in ("has expired", "Hold expires", "expiry"))
    assert not stem("expires").search("the hold lapses")
    planted = "The hold on that number has expired."
    assert any(stem(w).search(planted) for w in retired() - set(OTHER_SENSES))

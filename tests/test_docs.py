"""The documentation holds together: every relative link and anchor resolves, the README stays
a short front door without history, and each page in docs/ says first what it answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
TOP_LEVEL = ["README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md"]
PAGES = [
    "configuration.md",
    "policy.md",
    "approvals.md",
    "costs.md",
    "operations.md",
    "monitoring.md",
    "security.md",
    "architecture.md",
    "performance.md",
    "glossary.md",
    "flowyte-assumptions.md",
]
README_MAX_LINES = 250

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, …


def documents() -> list[Path]:
    return [REPO / name for name in TOP_LEVEL] + sorted(DOCS.glob("*.md"))


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code removed."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(INLINE_CODE.sub("", line))
    return lines


def links(text: str) -> list[str]:
    found = []
    for line in prose_lines(text):
        found += LINK.findall(line)
        reference = REFERENCE.match(line)
        if reference:
            found.append(reference.group(1))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text as rendered, lower case, punctuation dropped
    (letters, digits, `_`, `-` and spaces stay), spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "_- ")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub makes for the headings of `path` (a repeated one gets -1, -2, …)."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        heading = None if fenced else HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_the_slug_rules_are_github_s():
    assert slug("What happens when…") == "what-happens-when"
    assert slug("Check a policy: `numbot policy check`") == "check-a-policy-numbot-policy-check"
    assert slug("Who hears what (`NUMBOT_NOTIFY`)") == "who-hears-what-numbot_notify"
    assert slug("The examples' placeholders are refused") == "the-examples-placeholders-are-refused"
    assert slug("See [the README](../README.md) first") == "see-the-readme-first"


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(path):
    assert path.exists(), f"{path.relative_to(REPO)} is missing"
    broken = []
    for target in links(path.read_text(encoding="utf-8")):
        if EXTERNAL.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    assert not broken, f"{path.relative_to(REPO)}: " + "; ".join(broken)


def test_the_readme_is_a_short_front_door():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_the_readme_holds_no_history():
    """No "issue 11", no dated benchmark runs: history lives in CHANGELOG.md and git."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    issues = re.findall(r"\bissues?\s*#?\s*\d+", text, re.IGNORECASE)
    assert not issues, issues
    dates = re.findall(r"\b20\d\d-\d\d-\d\d\b", text)
    assert not dates, dates


def test_the_readme_links_every_page_and_the_top_level_files():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    targets = {target.partition("#")[0] for target in links(text)}
    for page in sorted(DOCS.glob("*.md")):
        assert f"docs/{page.name}" in targets, f"README.md does not link docs/{page.name}"
    for name in ("CONTRIBUTING.md", "CHANGELOG.md", "SECURITY.md", "LICENSE"):
        assert name in targets, f"README.md does not link {name}"


@pytest.mark.parametrize("name", PAGES)
def test_each_page_exists_and_starts_by_saying_what_it_answers(name):
    path = DOCS / name
    assert path.exists(), f"docs/{name} is missing"
    blocks = [b.strip() for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    assert blocks and blocks[0].startswith("# ") and "\n" not in blocks[0], (
        f"docs/{name} does not start with one title line"
    )
    first = blocks[1] if len(blocks) > 1 else ""
    assert first and not first.startswith(("#", "|", "-", "*", "```", ">", "1.")), (
        f"docs/{name}: the title is not followed by a paragraph saying what the page answers"
    )
    assert len(first.split()) >= 12, f"docs/{name}: its opening paragraph is too short"


def test_every_docs_page_is_one_the_tests_know():
    """A new page is added to PAGES (and so checked for its opening paragraph)."""
    assert {p.name for p in DOCS.glob("*.md")} == set(PAGES)


def test_the_configuration_page_names_every_setting():
    from bot.config.settings import Settings

    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`{name}`" not in page]
    assert not missing, f"docs/configuration.md does not name {missing}"

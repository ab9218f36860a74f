"""The house holds: every part of numbot imports only the parts below it (docs/architecture.md).

A module's imports are read from its source (ast), at any depth and inside functions, so a
lazy import that runs back up is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each part, and the other parts it may import. Anything not named is forbidden.
ALLOWED: dict[str, set[str]] = {
    "storage": set(),
    "bot.kernel": {"bot.flowyte", "storage"},  # Flowyte's models and storage's rows as data
    "bot.flowyte": {"bot.kernel"},
    "bot.sandbox": {"bot.kernel"},
    "bot.workflow": {"bot.kernel", "bot.flowyte", "storage"},
    "bot.ops": {"bot.kernel", "bot.config", "storage"},
    "bot.config": {"bot.kernel", "bot.ops", "bot.workflow", "storage"},
    "bot.slack": {"bot.kernel", "bot.config", "bot.ops"},
    "handlers": {"bot.kernel", "bot.flowyte", "bot.workflow", "bot.ops", "storage"},
    "bot.process": {
        "bot.kernel",
        "bot.flowyte",
        "bot.sandbox",
        "bot.workflow",
        "bot.ops",
        "bot.config",
        "bot.slack",
        "handlers",
        "storage",
    },
    "bot.cli": {"bot.process", "bot.config", "bot.ops", "bot.slack", "handlers", "storage"},
    "bot.__main__": {"bot.cli"},
    "bot.__init__": set(),
}


def part_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bot" and len(parts) > 1 else parts[0]


def modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("bot", "handlers", "storage"):
        for path in sorted((ROOT / top).rglob("*.py")):
            found.append((".".join(path.relative_to(ROOT).with_suffix("").parts), path))
    return found


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.split(".")[0] in ("bot", "handlers", "storage")}


@pytest.mark.parametrize(("module", "path"), modules(), ids=lambda v: str(v))
def test_each_module_imports_only_the_parts_below_it(module, path):
    part = part_of(module)
    assert part in ALLOWED, f"{module}: a new part of the house; add it to ALLOWED and the docs"
    wrong = {
        name
        for name in imports(path)
        if part_of(name) != part and part_of(name) not in ALLOWED[part]
    }
    assert not wrong, f"{module} imports {sorted(wrong)}, above or beside it"


def test_bot_s_root_holds_a_handful_of_modules():
    root = sorted(p.name for p in (ROOT / "bot").glob("*.py"))
    assert root == ["__init__.py", "__main__.py", "cli.py"]


def test_the_checker_does_not_import_the_executor():
    """The checker is given the capabilities it needs (settle, replay), not the executor."""
    names = imports(ROOT / "bot/workflow/checking.py")
    assert "bot.workflow.execution" not in names


def test_no_module_grows_past_its_seams():
    """A module past ~400 lines is split along its seams first (STYLE)."""
    long = {
        module: lines
        for module, path in modules()
        if (lines := len(path.read_text().splitlines())) > LIMIT and module not in KNOWN_LONG
    }
    assert not long, long


LIMIT = 450
KNOWN_LONG: set[str] = set()

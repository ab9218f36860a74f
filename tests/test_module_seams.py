"""The seams of the Flowyte client and the sandbox hold: imports run one way, and the
sandbox package still offers every name the single module did."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot.sandbox

ROOT = Path(__file__).resolve().parents[1]

# Every public name of bot/sandbox.py before it became a package.
SANDBOX_NAMES = [
    "ALL_SCOPES",
    "API_PREFIX",
    "FEATURES",
    "HOLD_DURATION",
    "IDEMPOTENCY_TTL",
    "JSON_MEDIA_TYPE",
    "KNOWN_AREAS",
    "NUMBER_TYPES",
    "ORGANIZATION_ID",
    "PRICES",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "READ_SCOPES",
    "TOLL_FREE_CODES",
    "Agent",
    "AgentVersion",
    "ApiError",
    "AvailableNumber",
    "OwnedNumber",
    "PaginationStyle",
    "ProblemStyle",
    "Reservation",
    "ReservationStyle",
    "SandboxFlowyte",
    "SearchQuery",
    "TopUp",
    "Variants",
    "Wallet",
    "dumps_json",
    "generate_inventory",
    "invalid",
    "loads_json",
    "parse_search",
    "problem_response",
]


def imports_of(package: str) -> dict[str, set[str]]:
    """Module file -> the absolute modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package.replace(".", "/")).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.name] = names
    return found


def test_the_sandbox_package_keeps_every_public_name():
    assert set(SANDBOX_NAMES) <= set(bot.sandbox.__all__)
    for name in SANDBOX_NAMES:
        assert getattr(bot.sandbox, name) is not None


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("bot.sandbox", ("bot.flowyte", "bot.workflow", "handlers", "storage", "slack")),
        ("bot.flowyte", ("bot.sandbox", "bot.workflow", "handlers", "storage", "slack", "sqlite")),
    ],
)
def test_imports_run_one_way(package, forbidden):
    for module, names in imports_of(package).items():
        wrong = sorted(n for n in names if n.startswith(forbidden))
        assert not wrong, f"{package}/{module} imports {wrong}"


@pytest.mark.parametrize("module", ["envelope.py", "retry.py", "scopes.py"])
def test_the_client_s_rules_do_not_import_the_client(module):
    assert "bot.flowyte.client" not in imports_of("bot.flowyte")[module]


def test_only_bot_metrics_knows_prometheus():
    """The registry and instruments live in bot/ops/metrics.py; everything else reports through
    observer methods (handlers, the workflow, the Flowyte client and storage never import it)."""
    packages = {"bot", "handlers", "storage"}
    packages |= {f"bot.{p.name}" for p in (ROOT / "bot").iterdir() if (p / "__init__.py").exists()}
    packages |= {
        f"handlers.{p.name}" for p in (ROOT / "handlers").iterdir() if (p / "__init__.py").exists()
    }
    checked = 0
    for package in sorted(packages):
        for module, names in imports_of(package).items():
            where = f"{package}.{module}"
            checked += 1
            if where != "bot.ops.metrics.py":
                assert not any(n.startswith("prometheus_client") for n in names), where
            if where.startswith(("handlers", "storage", "bot.flowyte", "bot.workflow")):
                assert "bot.ops.metrics" not in names, where
    assert checked > 50

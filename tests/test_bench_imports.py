"""The benchmark is run by hand, not in CI; importing it here keeps it from rotting unseen
when a module it measures is renamed or changes its signature."""

import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "tests.bench.bench",
        "tests.bench.audit_bench",
        "tests.bench.fakes",
        "tests.bench.stacks",
        "tests.bench.profiling",
        "tests.bench.lean",
        "tests.bench.openloop",
        "tests.bench.sustained",
        "tests.bench.tls",
        "tests.bench.sweep_stall",
        "tests.bench.owned_bench",
        "tests.bench.floor",
        "tests.bench.click_to_purchase",
        "tests.bench.load",
        "tests.bench.neighbours",
        "tests.bench.remote",
    ],
)
def test_benchmark_modules_import(module: str) -> None:
    assert importlib.import_module(module).__name__ == module


def test_audit_benchmark_runs_on_a_tiny_log(tmp_path) -> None:
    from tests.bench.audit_bench import bench_appends, bench_verify

    appends = bench_appends(tmp_path, rows=4, chunk=2)
    assert appends.rows == 4
    verified = bench_verify(tmp_path, rows=5)
    assert verified.ok and verified.entries == 5


def test_sustained_benchmark_arguments_parse() -> None:
    from tests.bench.sustained import parse_args

    args = parse_args(["--only", "knee,https", "--rate", "500"])
    assert args.only == {"knee", "https"} and args.rate == 500


def test_sweep_stall_benchmark_runs_on_a_small_database(capsys, monkeypatch) -> None:
    from tests.bench import sweep_stall

    monkeypatch.delenv("FLOWYTE_API_KEY", raising=False)
    sweep_stall.main(["--open", "300", "--due", "5"])
    out = capsys.readouterr().out
    assert "built 300 open + 5 lapsed" in out and "touched 5" in out and "worst stall" in out

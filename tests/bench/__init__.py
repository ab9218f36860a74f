"""Benchmarks for issue 4 (not collected by pytest): `python -m tests.bench.bench`."""

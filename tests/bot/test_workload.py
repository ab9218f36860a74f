"""bot/ops/workload.py: work is counted while it runs, and refused past capacity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ops.workload import Workload


def test_runs_past_capacity_are_turned_away_until_one_finishes() -> None:
    load = Workload(capacity=2)
    assert load.admit() and load.admit()
    assert load.full and not load.admit()
    assert load.turned_away == 1
    load.done()
    assert not load.full and load.admit()
    assert load.in_flight == 2


def test_a_run_counts_until_its_block_ends_even_when_it_raises() -> None:
    load = Workload(capacity=1)
    with pytest.raises(RuntimeError, match="boom"), load.run() as admitted:
        assert admitted and load.in_flight == 1
        raise RuntimeError("boom")
    assert load.in_flight == 0
    with load.run() as first, load.run() as second:
        assert first and not second
    assert load.in_flight == 0 and load.turned_away == 1


def test_done_without_admit_is_a_bug_not_a_negative_count() -> None:
    with pytest.raises(RuntimeError):
        Workload().done()
    with pytest.raises(ValueError):
        Workload(capacity=0)


@given(st.integers(1, 20), st.lists(st.booleans(), max_size=200))
def test_in_flight_never_exceeds_capacity(capacity: int, steps: list[bool]) -> None:
    load, admitted = Workload(capacity), 0
    for start in steps:
        if start:
            admitted += load.admit()
        elif admitted:
            load.done()
            admitted -= 1
        assert 0 <= load.in_flight == admitted <= capacity


def test_a_loop_that_stays_behind_turns_new_runs_away_until_it_catches_up() -> None:
    load = Workload(capacity=10, max_lag=0.05)
    load.note_lag(0.2)  # one late measure (a garbage collection): nobody turned away
    assert not load.full and load.admit()
    load.note_lag(0.08)  # two in a row over the limit: behind
    assert load.full and not load.admit()
    assert load.turned_away == 1
    with load.run(may_refuse=False) as taken:  # a submitted modal is still taken
        assert taken and load.in_flight == 2
    load.note_lag(0.01)  # caught up
    assert not load.full and load.admit()
    assert load.in_flight == 2


@given(st.lists(st.floats(0, 1), max_size=50))
def test_behind_means_the_last_two_measures_were_over_the_limit(lags: list[float]) -> None:
    load = Workload(max_lag=0.05)
    for lag in lags:
        load.note_lag(lag)
    assert load.full == (len(lags) >= 2 and min(lags[-2:]) > 0.05)


def test_without_a_lag_limit_only_capacity_turns_runs_away() -> None:
    load = Workload(capacity=1, max_lag=None)
    load.note_lag(10.0)
    load.note_lag(10.0)
    assert not load.full and load.admit()
    assert load.full and not load.admit()

"""The forked worker pool: results in task order, the worker's environment, errors raised where
the caller reads them, and no process left behind. What the zygote runs is pickled by reference,
so these tasks are built-ins (a test module cannot be imported in the zygote)."""

from __future__ import annotations

import os
from functools import partial

import pytest

from mlops_azure.execution.forked_pool import ForkedPool


def test_results_come_back_in_task_order_with_their_keys() -> None:
    pool: ForkedPool[int, int] = ForkedPool(2, abs)
    try:
        pool.load(partial(int, "1"))
        got = list(pool.run((i, -i) for i in range(40)))  # more tasks than the window
    finally:
        pool.close()
    assert got == [(i, i) for i in range(40)]
    assert pool._process.returncode == 0  # the zygote ended by itself, cleanly


def test_workers_run_with_one_openmp_thread() -> None:
    pool: ForkedPool[str, str | None] = ForkedPool(2, os.getenv, prepare=partial(int, "0"))
    try:
        pool.load(partial(int, "1"))
        assert list(pool.run([(0, "OMP_NUM_THREADS")])) == [(0, "1")]
    finally:
        pool.close()


def test_a_failing_loader_is_raised_by_run() -> None:
    pool: ForkedPool[int, int] = ForkedPool(2, abs)
    try:
        pool.load(partial(int, "not a number"))
        with pytest.raises(ValueError, match="not a number"):
            list(pool.run([(0, 1)]))
    finally:
        pool.close()


def test_a_failing_task_is_raised_by_run() -> None:
    pool: ForkedPool[str, int] = ForkedPool(2, int)
    try:
        pool.load(partial(int, "1"))
        with pytest.raises(ValueError, match="'x'"):
            list(pool.run([(0, "1"), (1, "x"), (2, "3")]))
    finally:
        pool.close()


def test_closing_before_any_task_stops_the_zygote() -> None:
    pool: ForkedPool[int, int] = ForkedPool(2, abs)
    pool.close()
    assert pool._process.returncode is not None

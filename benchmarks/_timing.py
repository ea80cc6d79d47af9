"""Shared timing helpers for the benchmark scripts (not a test: prints figures)."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def wall(cmd: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
         expect: int = 0) -> float:
    """Seconds one run of ``cmd`` takes; raises if it exits other than ``expect``."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=None if env is None else dict(env),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}, expected {expect}")
    return elapsed


def median_wall(cmd: Sequence[str], runs: int, *, cwd: Path | None = None,
                env: Mapping[str, str] | None = None, expect: int = 0) -> tuple[float, float, float]:
    """(median, min, max) over ``runs`` runs after one warm-up run."""
    wall(cmd, cwd=cwd, env=env, expect=expect)
    times = [wall(cmd, cwd=cwd, env=env, expect=expect) for _ in range(runs)]
    return statistics.median(times), min(times), max(times)

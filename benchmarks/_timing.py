"""Shared timing helpers for the benchmark scripts (not a test: prints figures)."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def wall(cmd: Sequence[str], *, cwd: Path | None = None) -> float:
    """Seconds one run of ``cmd`` takes; raises if it fails."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_wall(cmd: Sequence[str], runs: int, *, cwd: Path | None = None) -> tuple[float, float, float]:
    """(median, min, max) over ``runs`` runs after one warm-up run."""
    wall(cmd, cwd=cwd)
    times = [wall(cmd, cwd=cwd) for _ in range(runs)]
    return statistics.median(times), min(times), max(times)

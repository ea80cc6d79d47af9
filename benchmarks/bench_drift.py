"""Drift on 1,000,000 rows x 20 features (15 numeric, 5 categorical), measured in one run against:

- the floor: a bare numpy/pandas pass over the same data (one histogram per numeric column and
  sample, counts per categorical column and sample);
- a straightforward exact scipy implementation (``wasserstein_distance``, ``ks_2samp``, value
  counts + ``chi2_contingency``), which also gives the exact values our binned metrics are
  checked against.

Evidently (the peer the issue names) is not run here yet: it belongs in the benchmark's own
virtualenv, like mlflow in bench_endpoint.py. Usage: python benchmarks/bench_drift.py [ROWS]
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from mlops_azure.monitoring import compute_drift

NUMERIC = [f"n{i}" for i in range(15)]
CATEGORICAL = [f"c{i}" for i in range(5)]


def make(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        values = rng.normal(100 + i, 10 + i, rows) + shift * (10 + i) * (i % 3 == 0)
        values[rng.random(rows) < 0.01] = np.nan
        data[name] = values
    levels = np.array([f"level-{k}" for k in range(12)], dtype=object)
    for i, name in enumerate(CATEGORICAL):
        weights = np.linspace(1, 2 + i + shift * 3 * (i % 2), len(levels))
        data[name] = levels[rng.choice(len(levels), rows, p=weights / weights.sum())]
    return pd.DataFrame(data)


def floor(ref: pd.DataFrame, cur: pd.DataFrame) -> None:
    for name in NUMERIC:
        for frame in (ref, cur):
            values = frame[name].to_numpy()
            np.histogram(values[~np.isnan(values)], bins=4096)
    for name in CATEGORICAL:
        ref[name].value_counts()
        cur[name].value_counts()


def ours(ref: pd.DataFrame, cur: pd.DataFrame) -> Any:
    return compute_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL)


def scipy_exact(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, tuple[float, float]]:
    from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

    exact = {}
    for name in NUMERIC:
        r, c = ref[name].dropna().to_numpy(), cur[name].dropna().to_numpy()
        exact[name] = (wasserstein_distance(r, c) / r.std(), ks_2samp(r, c).statistic)
    for name in CATEGORICAL:
        a, b = ref[name].value_counts(), cur[name].value_counts()
        levels = a.index.union(b.index)
        chi2_contingency(np.vstack([a.reindex(levels, fill_value=0),
                                    b.reindex(levels, fill_value=0)]))
    return exact


def measure(fn: Callable[[pd.DataFrame, pd.DataFrame], Any], ref: pd.DataFrame,
            cur: pd.DataFrame, reps: int = 3) -> tuple[float, float, Any]:
    """(best wall seconds of ``reps`` untraced runs, peak MB of one more traced run, result).

    tracemalloc slows numpy down, so time and memory come from separate runs."""
    best, result = float("inf"), None
    for _ in range(reps):
        started = time.perf_counter()
        result = fn(ref, cur)
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    fn(ref, cur)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak, result


def main(rows: int) -> None:
    ref, cur = make(rows, 1, 0.0), make(rows, 2, 0.3)
    floor_s, floor_mb, _ = measure(floor, ref, cur)
    ours_s, ours_mb, report = measure(ours, ref, cur)
    exact_s, exact_mb, exact = measure(scipy_exact, ref, cur, reps=1)
    print(f"{rows:,} rows x {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical features")
    print("| method | wall s | peak MB (traced) | vs floor |")
    print("|---|---:|---:|---:|")
    for name, seconds, mb in (("floor (histograms + counts)", floor_s, floor_mb),
                              ("mlops compute_drift", ours_s, ours_mb),
                              ("scipy exact, straightforward", exact_s, exact_mb)):
        print(f"| {name} | {seconds:.3f} | {mb:.0f} | {seconds / floor_s:.2f}x |")
    gaps = []
    for feature in report.features:
        if feature.kind == "numeric":
            w, ks = exact[feature.feature]
            gaps.append((feature, abs(feature.wasserstein - w), w, abs(feature.ks_statistic - ks),
                         ks))
    drifted = [g for g in gaps if g[0].drifted]
    print(f"\ndrifted: {', '.join(report.drifted_features)}")
    print("Wasserstein (normalised): largest gap to scipy "
          f"{max(g[1] for g in gaps):.2e} (bound {max(g[0].wasserstein_error_bound for g in gaps):.2e});"
          f" on drifted features {max(g[1] / g[2] for g in drifted):.3%} of the exact value")
    print(f"KS statistic: largest gap {max(g[3] for g in gaps):.2e} "
          f"(bound {max(g[0].ks_error_bound for g in gaps):.2e}); on drifted features "
          f"{max(g[3] / g[4] for g in drifted):.3%} of the exact value")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

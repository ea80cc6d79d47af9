"""Drift on 1,000,000 rows x 20 features (15 numeric, 5 categorical), measured in one run against:

- the floor: a bare numpy/pandas pass over the same data (one histogram per numeric column and
  sample, counts per categorical column and sample);
- a straightforward exact scipy implementation (``wasserstein_distance``, ``ks_2samp``, value
  counts + ``chi2_contingency``), which also gives the exact values our binned metrics are
  checked against;
- Evidently's data drift preset (``Report([DataDriftPreset()])``, the peer the issue names), in its
  own virtualenv, benchmarks/.venv-evidently, made on first use like mlflow's in
  bench_endpoint.py: never a project dependency. Without it (no registry), one line says so and
  the rest still runs.

Each method runs in a fresh process (this file with --worker: the project's Python, or the
Evidently venv's) that loads the same two samples from .npy files, warms up on 2,000 rows, then
times the computation alone. Memory is the same measure for all: peak RSS during the timed runs
minus the RSS just before them, plus tracemalloc's peak from one more, traced run.

Usage: python benchmarks/bench_drift.py [ROWS] [--skip-evidently]. Details: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
EVIDENTLY_VENV = HERE / ".venv-evidently"
# evidently 0.7.23 (the newest release) imports a pandas helper that pandas 3 removed.
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas<3"]
NUMERIC = [f"n{i}" for i in range(15)]
CATEGORICAL = [f"c{i}" for i in range(5)]
LEVELS = np.array([f"level-{k}" for k in range(12)], dtype=object)
WARMUP_ROWS = 2000


def make_arrays(rows: int, seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """(numeric values, one row per feature; categorical level codes, one row per feature)."""
    rng = np.random.default_rng(seed)
    numeric = np.empty((len(NUMERIC), rows))
    for i in range(len(NUMERIC)):
        values = rng.normal(100 + i, 10 + i, rows) + shift * (10 + i) * (i % 3 == 0)
        values[rng.random(rows) < 0.01] = np.nan
        numeric[i] = values
    codes = np.empty((len(CATEGORICAL), rows), dtype=np.int8)
    for i in range(len(CATEGORICAL)):
        weights = np.linspace(1, 2 + i + shift * 3 * (i % 2), len(LEVELS))
        codes[i] = rng.choice(len(LEVELS), rows, p=weights / weights.sum())
    return numeric, codes


def frame(numeric: np.ndarray, codes: np.ndarray) -> pd.DataFrame:
    """Float64 numeric columns, object categorical columns holding the shared level strings."""
    data: dict[str, Any] = dict(zip(NUMERIC, numeric, strict=True))
    data.update((name, LEVELS[column]) for name, column in zip(CATEGORICAL, codes, strict=True))
    return pd.DataFrame(data)


# -- the methods: each takes (reference, current) ----------------------------------------------
def floor(ref: pd.DataFrame, cur: pd.DataFrame) -> None:
    for name in NUMERIC:
        for sample in (ref, cur):
            values = sample[name].to_numpy()
            np.histogram(values[~np.isnan(values)], bins=4096)
    for name in CATEGORICAL:
        ref[name].value_counts()
        cur[name].value_counts()


def ours(ref: pd.DataFrame, cur: pd.DataFrame) -> Any:
    from mlops_azure.monitoring import compute_drift

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


def evidently_preset(ref: pd.DataFrame, cur: pd.DataFrame) -> Any:
    """Evidently's defaults at this size: normed Wasserstein (numeric), Jensen-Shannon distance in
    nats (categorical), threshold 0.1 for both. Run by the Evidently venv's Python only."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    return Report([DataDriftPreset()]).run(Dataset.from_pandas(cur, data_definition=definition),
                                           Dataset.from_pandas(ref, data_definition=definition))


METHODS: dict[str, Callable[[pd.DataFrame, pd.DataFrame], Any]] = {
    "floor": floor, "ours": ours, "scipy": scipy_exact, "evidently": evidently_preset}


def summarise(method: str, result: Any) -> Any:
    """The result as JSON, outside the timed part."""
    if method == "ours":
        return {f.feature: {"kind": f.kind, "drifted": f.drifted, "js": f.js, "w": f.wasserstein,
                            "w_bound": f.wasserstein_error_bound, "ks": f.ks_statistic,
                            "ks_bound": f.ks_error_bound} for f in result.features}
    if method == "evidently":
        import evidently

        values = {m["config"]["column"]: {"value": float(m["value"]), "method": m["config"]["method"],
                                          "drifted": float(m["value"]) >= m["config"]["threshold"]}
                  for m in result.dict()["metrics"] if "column" in m["config"]}
        return {"version": evidently.__version__, "columns": values}
    return result


# -- one method in this process: --worker ------------------------------------------------------
def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (ru_maxrss) to the current RSS (Linux >= 4.0), so the
    peak of loading the data does not hide the peak of the computation."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def worker(method: str, data: Path, reps: int, traced: bool) -> dict[str, Any]:
    ref = frame(np.load(data / "ref_numeric.npy"), np.load(data / "ref_codes.npy"))
    cur = frame(np.load(data / "cur_numeric.npy"), np.load(data / "cur_codes.npy"))
    fn = METHODS[method]
    fn(ref.iloc[:WARMUP_ROWS], cur.iloc[:WARMUP_ROWS])  # lazy imports and one-off set-up
    gc.collect()
    before, reset = rss_bytes(), reset_peak_rss()
    times, result = [], None
    for _ in range(reps):
        started = time.perf_counter()
        result = fn(ref, cur)
        times.append(time.perf_counter() - started)
    peak_rss = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
    traced_peak = None
    if traced:  # tracemalloc slows allocation-heavy code down: a separate run
        result = None
        gc.collect()
        tracemalloc.start()
        result = fn(ref, cur)
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"seconds": min(times), "runs": times, "peak_rss_mb": peak_rss / 2**20,
            "rss_before_mb": before / 2**20, "peak_reset": reset,
            "traced_mb": None if traced_peak is None else traced_peak / 2**20,
            "versions": {"numpy": np.__version__, "pandas": pd.__version__},
            "result": summarise(method, result)}


def run_worker(python: str, method: str, data: Path, reps: int, traced: bool) -> dict[str, Any]:
    argv = [python, __file__, "--worker", method, str(data), "--reps", str(reps)]
    env = {**os.environ, "DO_NOT_TRACK": "1"}  # Evidently's telemetry switch: 127.0.0.1 only
    done = subprocess.run(argv + (["--traced"] if traced else []), check=True, env=env,
                          stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def evidently_python() -> str | None:
    """The Evidently venv's Python, made on first use; None (and one line why) if it cannot be."""
    python = str(EVIDENTLY_VENV / "bin" / "python")
    if (EVIDENTLY_VENV / "bin" / "evidently").exists():
        return python
    print(f"creating benchmarks/.venv-evidently: pip install {' '.join(EVIDENTLY_REQUIREMENTS)}",
          file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", *EVIDENTLY_REQUIREMENTS], check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"Evidently not run: could not create benchmarks/.venv-evidently ({error}); "
              "the other methods follow.")
        return None
    return python


# -- the comparison ----------------------------------------------------------------------------
def accuracy(report: dict[str, Any], exact: dict[str, list[float]],
             evidently: dict[str, Any] | None) -> None:
    gaps = [(f, abs(s["w"] - exact[f][0]), exact[f][0], abs(s["ks"] - exact[f][1]), exact[f][1])
            for f, s in report.items() if s["kind"] == "numeric"]
    drifted = [g for g in gaps if report[g[0]]["drifted"]]
    print(f"\ndrifted (ours): {', '.join(f for f, s in report.items() if s['drifted'])}")
    print("Wasserstein (normalised): largest gap to scipy "
          f"{max(g[1] for g in gaps):.2e} (bound {max(report[g[0]]['w_bound'] for g in gaps):.2e});"
          f" on drifted features {max(g[1] / g[2] for g in drifted):.3%} of the exact value")
    print(f"KS statistic: largest gap {max(g[3] for g in gaps):.2e} "
          f"(bound {max(report[g[0]]['ks_bound'] for g in gaps):.2e}); on drifted features "
          f"{max(g[3] / g[4] for g in drifted):.3%} of the exact value")
    if evidently is None:
        return
    columns = evidently["columns"]
    flagged = [name for name, c in columns.items() if c["drifted"]]
    print(f"drifted (Evidently, score >= 0.1): {', '.join(flagged) or 'none'}")
    w_gap = max(abs(report[f]["w"] - columns[f]["value"]) for f in NUMERIC)
    # Evidently's Jensen-Shannon distance uses natural logs, ours base 2: x sqrt(ln 2).
    js_gap = max(abs(report[f]["js"] * np.sqrt(np.log(2)) - columns[f]["value"]) for f in CATEGORICAL)
    print(f"Evidently's scores vs ours: normed Wasserstein largest gap {w_gap:.2e}; "
          f"Jensen-Shannon (in nats) largest gap {js_gap:.2e}")


def main(rows: int, skip_evidently: bool) -> None:
    load_start = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        data = Path(tmp)
        for sample, seed, shift in (("ref", 1, 0.0), ("cur", 2, 0.3)):
            numeric, codes = make_arrays(rows, seed, shift)
            np.save(data / f"{sample}_numeric.npy", numeric)
            np.save(data / f"{sample}_codes.npy", codes)
        del numeric, codes
        for method, reps in (("floor", 3), ("ours", 3), ("scipy", 1)):
            results[method] = run_worker(sys.executable, method, data, reps, traced=True)
        python = None if skip_evidently else evidently_python()
        if python is not None:
            try:  # one run, traced separately: a few minutes at 1,000,000 rows
                results["evidently"] = run_worker(python, "evidently", data, 1, traced=True)
            except (OSError, subprocess.CalledProcessError, ValueError, IndexError) as error:
                print(f"Evidently not run: its worker failed ({error}); the other methods follow.")
    evidently = results.get("evidently")
    versions = results["ours"]["versions"]
    print(f"{rows:,} rows x {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical features "
          "(reference vs current)")
    print(f"Python {platform.python_version()}, numpy {versions['numpy']}, pandas "
          f"{versions['pandas']}" + (f"; Evidently {evidently['result']['version']} with pandas "
                                     f"{evidently['versions']['pandas']}" if evidently else "")
          + f"; {os.cpu_count()} CPUs, shared with other work (load average "
          f"{load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end)")
    print("\n| method | wall s | peak RSS MB | tracemalloc peak MB | vs floor (wall) |")
    print("|---|---:|---:|---:|---:|")
    labels = {"floor": "floor (histograms + counts)", "ours": "mlops compute_drift",
              "scipy": "scipy exact, straightforward", "evidently": "Evidently DataDriftPreset"}
    floor_s = results["floor"]["seconds"]
    for method, r in results.items():
        print(f"| {labels[method]} | {r['seconds']:.3f} | {r['peak_rss_mb']:.0f} | "
              f"{r['traced_mb']:.0f} | {r['seconds'] / floor_s:.2f}x |")
    print("\nwall s: best of 3 runs (floor, ours) or 1 run (scipy, Evidently), after a warm-up on "
          f"{WARMUP_ROWS:,} rows; peak RSS: highest RSS during the timed runs minus the RSS just "
          "before them; tracemalloc peak: one more, traced run. Each method in a fresh process.")
    if not all(r["peak_reset"] for r in results.values()):
        print("(the peak-RSS mark could not be reset here: peak RSS may include loading the data)")
    ours_r = results["ours"]
    print(f"\nours / floor: {ours_r['seconds'] / floor_s:.2f}x wall (target <= 3x)")
    if evidently:
        print(f"Evidently / ours: {evidently['seconds'] / ours_r['seconds']:.0f}x wall "
              f"(target >= 50x), {evidently['peak_rss_mb'] / ours_r['peak_rss_mb']:.1f}x peak RSS, "
              f"{evidently['traced_mb'] / ours_r['traced_mb']:.1f}x tracemalloc peak")
    accuracy(ours_r["result"], results["scipy"]["result"], evidently and evidently["result"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--skip-evidently", action="store_true", help="floor, ours and scipy only")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--reps", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]), args.reps, args.traced)))
    else:
        main(args.rows, args.skip_evidently)

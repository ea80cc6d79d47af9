"""`mlops train` wall time against the same component scripts run back to back by hand.

Both sides start from a fresh copy of the example project with no champion, so both run the
four steps once. The difference is what mlops adds: config, data asset hashing, the pipeline
graph, SQLite records, the champion gate, lineage (git, environment hash) and registration.
Target: overhead <= 15 %. Usage: python benchmarks/bench_train_overhead.py [RUNS]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops_azure.config import load_config
from mlops_azure.example.scaffold import init_project

PYTHON = sys.executable
MLOPS = str(Path(PYTHON).with_name("mlops"))


def by_hand(project: Path, out: Path) -> float:
    """The four component commands, typed out as a person would run them."""
    config = load_config(project / "mlops.yaml")
    schema = out / "schema.json"
    schema.write_text(config.data.data_schema.to_json())
    params = config.training.params
    code = project / "components"
    steps = [
        ["-m", "data_check.data_check", "--data", str(project / "data/purchases.csv"),
         "--schema", str(schema), "--report", str(out / "report")],
        ["-m", "prep.prep", "--raw_data", str(project / "data/purchases.csv"),
         "--check_report", str(out / "report"), "--holdout_months", str(params["holdout_months"]),
         "--prepared", str(out / "prepared")],
        ["-m", "train.train", "--prepared", str(out / "prepared"),
         "--n_estimators", str(params["n_estimators"]), "--learning_rate", str(params["learning_rate"]),
         "--num_leaves", str(params["num_leaves"]), "--min_data_in_leaf", str(params["min_data_in_leaf"]),
         "--seed", str(params["seed"]), "--model", str(out / "model")],
        ["-m", "evaluate.evaluate", "--model", str(out / "model"), "--prepared", str(out / "prepared"),
         "--metrics", str(out / "metrics")],
    ]
    for name in ("report", "prepared", "model", "metrics"):
        (out / name).mkdir()
    start = time.perf_counter()
    for args in steps:
        subprocess.run([PYTHON, *args], cwd=code, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    json.loads((out / "metrics" / "metrics.json").read_text())  # the run really finished
    return elapsed


def with_mlops(project: Path) -> float:
    start = time.perf_counter()
    subprocess.run([MLOPS, "train"], cwd=project, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(runs: int) -> None:
    hand: list[float] = []
    tool: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs + 1):  # the first round warms the OS caches and is dropped
            a = init_project(Path(tmp) / f"hand{i}").root
            b = init_project(Path(tmp) / f"tool{i}").root
            (Path(tmp) / f"out{i}").mkdir()
            h = by_hand(a, Path(tmp) / f"out{i}")
            t = with_mlops(b)
            if i:
                hand.append(h)
                tool.append(t)
    h_med, t_med = statistics.median(hand), statistics.median(tool)
    print(f"runs: {runs} of each, alternating, after one warm-up round")
    print(f"component scripts by hand  median {h_med:.2f} s  (min {min(hand):.2f}, max {max(hand):.2f})")
    print(f"mlops train                median {t_med:.2f} s  (min {min(tool):.2f}, max {max(tool):.2f})")
    print(f"ratio mlops / by hand = {t_med / h_med:.3f}  (overhead {t_med / h_med - 1:+.1%}, "
          "target <= +15 %)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

"""`mlops init --data` on a wide table: 100,000 rows x 30 columns (20 numbers, 6 low-cardinality
text columns, an identifier, a date, a 0/1 flag and a text class label), as a user runs it.

Prints the wall time of the whole command (a new process: imports included) and of the
in-process call, and the time to read the same CSV with pandas for scale.
Usage: python benchmarks/bench_init_from_data.py [ROWS] [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_azure.init_from_data import init_from_data

MLOPS = str(Path(sys.executable).with_name("mlops"))


def make_table(path: Path, rows: int, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i:02d}": rng.normal(i, 1 + i % 3, rows).round(4) for i in range(20)})
    for i in range(6):
        frame[f"c{i}"] = rng.choice([f"level{j}" for j in range(3 + i * 4)], rows)
    frame["account_id"] = [f"A{n:07d}" for n in range(rows)]
    frame["day"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")
    frame["promo"] = rng.integers(0, 2, rows)
    frame["outcome"] = np.where(frame["x00"] + rng.normal(0, 1, rows) > 0, "won", "lost")
    frame.to_csv(path, index=False)


def main(rows: int, runs: int) -> None:
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "table.csv"
        make_table(data, rows)
        size = data.stat().st_size / 2**20
        cli, call, read = [], [], []
        for i in range(runs + 1):  # the first round warms caches and is dropped
            start = time.perf_counter()
            subprocess.run([MLOPS, "init", str(Path(tmp) / f"cli{i}"), "--data", str(data),
                            "--target", "outcome", "--time-column", "day"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t_cli = time.perf_counter() - start
            start = time.perf_counter()
            init_from_data(Path(tmp) / f"call{i}", data, column="outcome", time_column="day")
            t_call = time.perf_counter() - start
            start = time.perf_counter()
            pd.read_csv(data, dtype=str)
            t_read = time.perf_counter() - start
            if i:
                cli.append(t_cli)
                call.append(t_call)
                read.append(t_read)
    print(f"table: {rows} rows x 30 columns, {size:.1f} MiB CSV; {runs} runs after a warm-up")
    print(f"mlops init --data (new process)   median {statistics.median(cli):.2f} s")
    print(f"init_from_data (in process)       median {statistics.median(call):.2f} s")
    print(f"pandas read_csv(dtype=str) alone  median {statistics.median(read):.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3)

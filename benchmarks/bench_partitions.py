"""Many models at scale: 1,000 customer partitions, and batch scoring with them.

1. Training: ``train_partitions`` on 1,000 customers (10 organisations x 100 customers x 6
   materials x 36 months) with one process and with every core: models per second and the
   parallel speed-up (target >= 1.8x on 2 cores); the per-partition overhead beyond LightGBM's
   own fit (the fit alone is timed in-process on the same partitions).
2. Batch scoring: ``mlops_azure.lifecycle.batch.score_batch`` (chunks, worker processes, part
   files) against ``PartitionedModel.predict`` in-process on the same rows, loaded in memory
   (target >= 80 %), at the default chunk size and a smaller one; the CPU time and peak memory
   of ``mlops score batch`` run as its own process.

Usage: python benchmarks/bench_partitions.py [CUSTOMERS_PER_ORGANISATION]
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import yaml

from mlops_azure.backends import open_workspace
from mlops_azure.config import BatchConfig, ProjectConfig, load_config
from mlops_azure.example import write_purchases
from mlops_azure.example.regime import later_years
from mlops_azure.example.scaffold import init_project
from mlops_azure.lifecycle.batch import BatchResult, score_batch
from mlops_azure.lifecycle.training import train
from mlops_azure.workspace import Workspace

N_ESTIMATORS = 50
#: The holdout (1,000 customers x 6 materials x 6 months) repeated into later years.
COPIES = 40
#: Timed passes of each batch variant and of the in-process pass: the median is reported.
REPEATS = 3
#: The default, and a smaller chunk: more LightGBM calls per partition (each costs ~0.1 ms with
#: the partition's trees cold in cache) for less memory per worker.
CHUNK_ROWS, SMALL_CHUNK_ROWS = BatchConfig().chunk_rows, 100_000


def project(root: Path, customers: int) -> Path:
    init_project(root)
    write_purchases(root / "data" / "purchases.csv", organisations=10,
                    customers_per_organisation=customers, months=36)
    config_file = root / "mlops.yaml"
    document = yaml.safe_load(config_file.read_text())
    document["training"]["pipeline"] = "pipelines/training-partitioned.yml"
    document["training"]["params"]["n_estimators"] = N_ESTIMATORS
    document["data"]["schema"]["min_rows"] = 1
    document["partitions"] = {"levels": ["organisation_id", "customer_id"],
                              "model_levels": ["customer_id"], "min_rows": 24, "max_failed": 0}
    config_file.write_text(yaml.safe_dump(document))
    return config_file


def train_partitions(code: Path, prepared: Path, global_model: Path, out: Path,
                     workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "train_partitions.train_partitions", "--prepared", str(prepared),
         "--global_model", str(global_model), "--levels", "organisation_id,customer_id",
         "--model_levels", "customer_id", "--min_rows", "24", "--workers", str(workers),
         "--n_estimators", str(N_ESTIMATORS), "--model", str(out)],
        cwd=code, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    trained = int(re.search(r"(\d+) trained", done.stdout).group(1))  # type: ignore[union-attr]
    return seconds, trained


def fit_only(code: Path, prepared: Path, sample: int = 200) -> float:
    """Mean seconds of ``lgb.train`` alone per partition, in-process, same parameters."""
    sys.path.insert(0, str(code))
    from steel.features import FeatureSpec, read_frame
    from tabular.frame import encode
    from train_partitions.train_partitions import lightgbm_params

    spec = FeatureSpec.load(prepared / "features.json")
    frame = read_frame(prepared / "train.csv", "train", spec.features)

    class Args:
        n_estimators, learning_rate, num_leaves, min_data_in_leaf, seed = N_ESTIMATORS, 0.05, 31, 6, 42

    params = {**lightgbm_params(Args()), "num_threads": 1}
    groups = list(frame.groupby("customer_id").groups.values())[:sample]
    total = 0.0
    for index in groups:
        rows = frame.loc[index]
        data = lgb.Dataset(encode(rows, spec), label=rows[spec.target].to_numpy(dtype="float64"),
                           categorical_feature=spec.categorical_features, free_raw_data=True)
        started = time.perf_counter()
        lgb.train(params, data, num_boost_round=N_ESTIMATORS)
        total += time.perf_counter() - started
    return total / len(groups)


def cli_run(config_file: Path, rows: Path, out: Path, workers: int,
            chunk_rows: int) -> tuple[int, float]:
    """``mlops score batch`` as its own process, measured by a fresh wrapper (so nothing this
    benchmark ran before counts): the largest RSS (KiB) of it and its processes (zygote,
    workers), and the CPU seconds they used together."""
    mlops = str(Path(sys.executable).with_name("mlops"))
    project = config_file.parent
    wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
               "stdout=subprocess.DEVNULL); u = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(u.ru_maxrss, u.ru_utime + u.ru_stime)")
    done = subprocess.run([sys.executable, "-c", wrapper, mlops, "--config", str(config_file),
                           "score", "batch", "--input",
                           str(rows), "--output", str(out), "--chunk-rows", str(chunk_rows),
                           "--workers", str(workers)], cwd=project, capture_output=True,
                          text=True, check=True)
    rss, cpu = done.stdout.split()[-2:]
    return int(rss), float(cpu)


def main(customers: int) -> None:
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        config = load_config(project(root, customers))
        ws = open_workspace(config)
        started = time.perf_counter()
        outcome = train(ws, config, actor="bench")
        pipeline_s = time.perf_counter() - started
        assert outcome.model is not None, outcome.decision.reason
        job = outcome.job.id
        prepared = ws.jobs.output_path(job, "prepared")
        global_model = ws.jobs.output_path(job, "global_model")
        code = root / "components"
        runs = {w: train_partitions(code, prepared, global_model, Path(tmp) / f"p{w}", w)
                for w in (1, cores)}
        fit = fit_only(code, prepared)
        (seq_s, trained), (par_s, _) = runs[1], runs[cores]
        print(f"## Training {trained} partition models ({N_ESTIMATORS} trees each), "
              f"{cores} cores\n")
        print("| | wall s | models/s |\n|---|---:|---:|")
        print(f"| sequential (1 process) | {seq_s:.2f} | {trained / seq_s:.0f} |")
        print(f"| parallel ({cores} processes) | {par_s:.2f} | {trained / par_s:.0f} |")
        print(f"\nspeed-up {seq_s / par_s:.2f}x (target >= 1.8x on 2 cores); LightGBM's fit alone "
              f"{fit * 1000:.1f} ms a partition, sequential wall {seq_s / trained * 1000:.1f} ms: "
              f"overhead {(seq_s / trained - fit) * 1000:.1f} ms a partition (process start, "
              "data slicing, encoding, saving three files)")
        print(f"whole training pipeline through mlops (data check, prep, global model, "
              f"partitions, gate, registration): {pipeline_s:.1f} s")

        batch_scoring(ws, root, code, ws.models.local_path(outcome.model.name,
                                                          outcome.model.version),
                      pd.read_csv(prepared / "holdout.csv", dtype=str), Path(tmp), cores)


def timed_batch(ws: Workspace, config: ProjectConfig, rows: Path, out: Path, chunk_rows: int,
                workers: int) -> tuple[float, BatchResult]:
    """Median wall seconds of ``score_batch`` over REPEATS runs, each into a fresh folder
    (everything: hash and split the input, start the workers, load, read, score, write)."""
    walls = []
    for repeat in range(REPEATS):
        started = time.perf_counter()
        done = score_batch(ws, config, str(rows), out / str(repeat), chunk_rows=chunk_rows,
                           workers=workers)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls), done


def batch_scoring(ws: Workspace, root: Path, code: Path, model_dir: Path, holdout: pd.DataFrame,
                  tmp: Path, cores: int) -> None:
    rows_file, double_file = tmp / "rows.csv", tmp / "rows-x2.csv"
    later_years(holdout, COPIES).to_csv(rows_file, index=False)
    later_years(holdout, 2 * COPIES).to_csv(double_file, index=False)
    frame = pd.read_csv(rows_file, dtype={c: str for c in ("period", "organisation_id",
                        "customer_id", "material_id", "segment", "region", "company_size")})
    sys.path.insert(0, str(code))
    from steel.partitions import PartitionedModel

    model = PartitionedModel(model_dir)
    model.predict(frame.head(len(holdout)))  # every partition's model loaded: predict only
    load = os.getloadavg()[0]
    passes = []  # the first pass faults its arrays' memory in; later ones reuse the heap
    for _ in range(1 + REPEATS):
        started, cpu = time.perf_counter(), time.process_time()
        model.predict(frame)
        passes.append((time.perf_counter() - started, time.process_time() - cpu))
    first, first_cpu = passes[0]
    in_process, in_process_cpu = (statistics.median(p) for p in zip(*passes[1:], strict=True))
    # The example declares batch.block_imports: [sklearn]; the last variant goes without.
    unblocked = root / "mlops-unblocked.yaml"
    document = yaml.safe_load((root / "mlops.yaml").read_text())
    document["batch"]["block_imports"] = []
    unblocked.write_text(yaml.safe_dump(document))
    variants = [(CHUNK_ROWS, root / "mlops.yaml", ""),
                (SMALL_CHUNK_ROWS, root / "mlops.yaml", ""),
                (CHUNK_ROWS, unblocked, ", scikit-learn not blocked")]
    batch = []
    for number, (chunk_rows, config_file, label) in enumerate(variants):
        seconds, done = timed_batch(ws, load_config(config_file), rows_file,
                                    tmp / f"out-{number}", chunk_rows, cores)
        batch.append((chunk_rows, label, seconds, done.chunks,
                      *cli_run(config_file, rows_file, tmp / f"cli-{number}", cores, chunk_rows)))
    # Twice the rows: what each further row costs, apart from the fixed start-up.
    double_s, double = timed_batch(ws, load_config(root / "mlops.yaml"), double_file,
                                   tmp / "out-x2", CHUNK_ROWS, cores)
    marginal = (double.rows - done.rows) / (double_s - batch[0][2])
    size = rows_file.stat().st_size / 2**20
    print(f"\n## Batch scoring {done.rows:,} rows ({size:.0f} MiB CSV), {cores} workers "
          f"(load average {load:.1f} -> {os.getloadavg()[0]:.1f}; seconds: median of "
          f"{REPEATS} passes)\n")
    print("| | s | rows/s | batch / in-process (first / later passes) | CPU s | peak RSS MiB |\n"
          "|---|---:|---:|---:|---:|---:|")
    print(f"| in-process PartitionedModel.predict, first pass (rows in memory, models "
          f"loaded) | {first:.2f} | {len(frame) / first:,.0f} | | {first_cpu:.2f} | |")
    print(f"| in-process PartitionedModel.predict, later passes (rows in memory, models "
          f"loaded) | {in_process:.2f} | {len(frame) / in_process:,.0f} | | "
          f"{in_process_cpu:.2f} | |")
    for chunk_rows, label, seconds, chunks, peak, cpu_s in batch:
        print(f"| score_batch, {chunks} chunks of {chunk_rows:,}{label} (everything: hash and "
              "split the input, start workers, load models, read, score, write parts) | "
              f"{seconds:.2f} | {done.rows / seconds:,.0f} | {first / seconds:.0%} / "
              f"{in_process / seconds:.0%} | {cpu_s:.2f} | {peak / 1024:.0f} |")
    print(f"| score_batch, twice the rows ({double.rows:,}), chunks of {CHUNK_ROWS:,} | "
          f"{double_s:.2f} | {double.rows / double_s:,.0f} | | | |")
    print(f"\neach further row: {marginal:,.0f} rows/s, {marginal * in_process / len(frame):.0%} "
          f"of the in-process later passes' rate; fixed start-up "
          f"{batch[0][2] - done.rows / marginal:.2f} s (find and verify the model, start the "
          "zygote, import, load 1,000 boosters)")
    print("target: batch / in-process >= 80 % at the default chunk size "
          f"({CHUNK_ROWS:,}); CPU s and peak RSS (of the largest process) are of "
          "`mlops score batch` run as its own process, with its zygote and workers")

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)

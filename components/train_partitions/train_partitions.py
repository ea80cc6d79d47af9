"""Train one LightGBM model per partition, in parallel, next to the global model.

The output folder is the global model (copied from the train step) plus one model per partition
of each model level with at least ``min_rows`` training rows (see ``steel.partitions``). Smaller
partitions are left to their parent level (``fallback``). Partitions train in a process pool
over all cores, one LightGBM thread each; a partition that fails is recorded (``failed``, served
by its parent) and the step fails only when more than ``max_failed`` partitions did.

``MLOPS_FAIL_PARTITIONS`` (comma-separated partition names) makes those partitions fail: a fault
drill for the isolation and the threshold.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
from steel.cli import EXIT_FAILED, StepError, output_folder, run_step
from steel.features import FeatureSpec, encode, read_frame
from steel.model_io import FEATURES_FILE, save_model
from steel.partitions import (
    FAILED,
    FALLBACK,
    PARTITIONS_DIR,
    TRAINED,
    PartitionPlan,
    partition_names,
    write_index,
)
from train.train import add_hyperparameters, lightgbm_params

_FAIL_VARIABLE = "MLOPS_FAIL_PARTITIONS"
_shared: dict[str, Any] = {}


def _start_worker(frame: Any, spec: FeatureSpec, params: dict[str, Any], rounds: int,
                  out: Path) -> None:
    # Each worker gets the training rows once (fork copies them, spawn pickles them once), not
    # once per partition.
    _shared.update(frame=frame, spec=spec, params=params, rounds=rounds, out=out,
                   fail=set(filter(None, os.environ.get(_FAIL_VARIABLE, "").split(","))))


def train_one(task: tuple[str, str, Any]) -> dict[str, Any]:
    """Train the partition ``name`` (rows ``index`` of the shared frame); never raises."""
    name, level, index = task
    started = time.perf_counter()
    try:
        if name in _shared["fail"]:
            raise RuntimeError("failed on purpose (MLOPS_FAIL_PARTITIONS)")
        rows = _shared["frame"].loc[index]
        spec: FeatureSpec = _shared["spec"]
        data = lgb.Dataset(encode(rows, spec), label=rows[spec.target].to_numpy(dtype="float64"),
                           categorical_feature=spec.categorical_features, free_raw_data=True)
        booster = lgb.train(_shared["params"], data, num_boost_round=_shared["rounds"])
        folder = _shared["out"] / PARTITIONS_DIR / name
        folder.mkdir(parents=True, exist_ok=True)
        save_model(booster, spec, {**_shared["params"], "n_estimators": _shared["rounds"],
                                   "training_rows": len(rows), "partition": name}, folder)
        status, error = TRAINED, None
    except Exception as exc:  # isolation: one partition's failure must not end the others
        status, error = FAILED, f"{type(exc).__name__}: {exc}"
    return {"name": name, "level": level, "status": status, "rows": len(index), "error": error,
            "seconds": round(time.perf_counter() - started, 4)}


def plan_tasks(frame: Any, plan: PartitionPlan) -> tuple[list[tuple[str, str, Any]],
                                                         dict[str, dict[str, Any]]]:
    """The partitions to train, and the ones left to their parent for want of rows."""
    tasks, small = [], {}
    for level in plan.model_levels:
        names = partition_names(frame, plan.columns(level))
        for name, index in names.groupby(names, sort=True).groups.items():
            if len(index) < plan.min_rows:
                small[str(name)] = {"level": level, "status": FALLBACK, "rows": len(index),
                                    "error": None}
            else:
                tasks.append((str(name), level, index))
    return tasks, small


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="train_partitions", description=__doc__)
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--global_model", type=Path, required=True, help="the train step's output")
    parser.add_argument("--levels", required=True, help="partition columns, coarse to fine")
    parser.add_argument("--model_levels", required=True, help="the levels that get models")
    parser.add_argument("--min_rows", type=int, default=24)
    parser.add_argument("--max_failed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0, help="processes (0: every core)")
    add_hyperparameters(parser)
    parser.add_argument("--model", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)

    plan = PartitionPlan.parse(args.levels, args.model_levels, args.min_rows)
    if args.max_failed < 0:
        raise StepError(f"max_failed must not be negative (got {args.max_failed})")
    spec = FeatureSpec.load(args.prepared / FEATURES_FILE)
    frame = read_frame(args.prepared / "train.csv", "training data",
                       [*spec.features, spec.target, *plan.levels])
    # Small partitions want small leaves; one thread per process, the pool is the parallelism.
    params = {**lightgbm_params(args), "num_threads": 1,
              "min_data_in_leaf": min(args.min_data_in_leaf, max(2, plan.min_rows // 4))}
    out = output_folder(args.model, "model")
    shutil.copytree(args.global_model, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(PARTITIONS_DIR))
    tasks, results = plan_tasks(frame, plan)
    workers = args.workers or os.cpu_count() or 1
    started = time.perf_counter()
    init = (frame, spec, params, args.n_estimators, out)
    if workers == 1 or len(tasks) < 2:
        _start_worker(*init)
        outcomes = map(train_one, tasks)
    else:
        pool = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn").Pool(
            min(workers, len(tasks)), initializer=_start_worker, initargs=init)
        outcomes = pool.imap_unordered(train_one, tasks, chunksize=max(1, len(tasks) // (workers * 8)))
    for done, outcome in enumerate(outcomes, start=1):
        results[outcome.pop("name")] = outcome
        if outcome["status"] == FAILED or done % max(1, len(tasks) // 20) == 0 or done == len(tasks):
            print(f"train_partitions: {done}/{len(tasks)} partitions"
                  + (f"; FAILED {outcome['error']}" if outcome["status"] == FAILED else ""),
                  flush=True)
    if workers > 1 and len(tasks) >= 2:
        pool.close()
        pool.join()
    write_index(out, plan, results)
    counts = Counter(r["status"] for r in results.values())
    seconds = time.perf_counter() - started
    print(f"train_partitions: {counts.get(TRAINED, 0)} trained, {counts.get(FALLBACK, 0)} left to "
          f"their parent (under {plan.min_rows} rows), {counts.get(FAILED, 0)} failed; "
          f"{len(tasks) / seconds if seconds else 0:.1f} models/s on {workers} process(es)")
    failed = sorted(name for name, r in results.items() if r["status"] == FAILED)
    if len(failed) > args.max_failed:
        raise StepError(f"{len(failed)} partitions failed, more than max_failed={args.max_failed}: "
                        f"{', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}", EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(run_step("train_partitions", main))

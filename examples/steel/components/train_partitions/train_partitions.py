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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    # Run as the step: it fits with lgb.train only, so LightGBM's scikit-learn API, and the
    # 0.5 s of importing scikit-learn it costs before the first partition, can go. (Imported,
    # as by tests, the module leaves its importer's modules alone.)
    sys.modules.setdefault("sklearn", None)  # type: ignore[arg-type]

import lightgbm as lgb
from steel.features import FeatureSpec, read_frame
from steel.partitions import (
    FAILED,
    FALLBACK,
    PARTITIONS_DIR,
    TRAINED,
    PartitionPlan,
    partition_names,
    write_index,
)
from tabular.frame import FEATURES_FILE, encode
from tabular.model_io import save_model
from tabular.step import EXIT_FAILED, StepError, output_folder, run_step
from tabular.training import add_hyperparameters, lightgbm_params

_FAIL_VARIABLE = "MLOPS_FAIL_PARTITIONS"


@dataclass(frozen=True)
class Trainer:
    """What training one partition needs besides its rows; shared by the local process pool
    (one per worker) and the Azure ML parallel entry script (one per ``init()``)."""

    spec: FeatureSpec
    params: dict[str, Any]
    rounds: int
    out: Path
    fail: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def create(cls, spec: FeatureSpec, args: argparse.Namespace, min_rows: int,
               out: Path) -> Trainer:
        # Small partitions want small leaves; one thread per process, the pool (or the
        # parallel job's processes) is the parallelism.
        params = {**lightgbm_params(args), "num_threads": 1,
                  "min_data_in_leaf": min(args.min_data_in_leaf, max(2, min_rows // 4))}
        fail = frozenset(filter(None, os.environ.get(_FAIL_VARIABLE, "").split(",")))
        return cls(spec, params, args.n_estimators, out, fail)

    def train(self, name: str, level: str, rows: Any) -> dict[str, Any]:
        """Train partition ``name`` on ``rows`` into ``out/partitions/<name>/``; never raises
        (isolation: one partition's failure must not end the others)."""
        started = time.perf_counter()
        try:
            if name in self.fail:
                raise RuntimeError("failed on purpose (MLOPS_FAIL_PARTITIONS)")
            spec = self.spec
            data = lgb.Dataset(encode(rows, spec),
                               label=rows[spec.target].to_numpy(dtype="float64"),
                               categorical_feature=spec.categorical_features, free_raw_data=True)
            booster = lgb.train(self.params, data, num_boost_round=self.rounds)
            folder = self.out / PARTITIONS_DIR / name
            folder.mkdir(parents=True, exist_ok=True)
            save_model(booster, spec, {**self.params, "n_estimators": self.rounds,
                                       "training_rows": len(rows), "partition": name}, folder)
            status, error = TRAINED, None
        except Exception as exc:  # isolation, see above
            status, error = FAILED, f"{type(exc).__name__}: {exc}"
        return {"name": name, "level": level, "status": status, "rows": len(rows),
                "error": error, "seconds": round(time.perf_counter() - started, 4)}


_shared: dict[str, Any] = {}


def _start_worker(frame: Any, trainer: Trainer) -> None:
    # Each worker gets the training rows once (fork copies them, spawn pickles them once), not
    # once per partition.
    _shared.update(frame=frame, trainer=trainer)


def train_one(task: tuple[str, str, Any]) -> dict[str, Any]:
    """Train the partition ``name`` (rows ``index`` of the worker's frame); never raises."""
    name, level, index = task
    trainer: Trainer = _shared["trainer"]
    return trainer.train(name, level, _shared["frame"].loc[index])


def small_partition(level: str, rows: int) -> dict[str, Any]:
    """The index entry of a partition left to its parent level for want of rows."""
    return {"level": level, "status": FALLBACK, "rows": rows, "error": None}


def parser_for(prog: str) -> argparse.ArgumentParser:
    """The options the local step and the parallel entry script share."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--levels", required=True, help="partition columns, coarse to fine")
    parser.add_argument("--model_levels", required=True, help="the levels that get models")
    parser.add_argument("--min_rows", type=int, default=24)
    add_hyperparameters(parser, n_estimators=300)
    return parser


def report(results: dict[str, dict[str, Any]], plan: PartitionPlan, max_failed: int,
           rate: str = "") -> None:
    """The summary line, then ``StepError`` when more than ``max_failed`` partitions failed."""
    counts = Counter(r["status"] for r in results.values())
    print(f"train_partitions: {counts.get(TRAINED, 0)} trained, {counts.get(FALLBACK, 0)} left to "
          f"their parent (under {plan.min_rows} rows), {counts.get(FAILED, 0)} failed{rate}",
          flush=True)
    failed = sorted(name for name, r in results.items() if r["status"] == FAILED)
    if len(failed) > max_failed:
        raise StepError(f"{len(failed)} partitions failed, more than max_failed={max_failed}: "
                        f"{', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}", EXIT_FAILED)


def plan_tasks(frame: Any, plan: PartitionPlan) -> tuple[list[tuple[str, str, Any]],
                                                         dict[str, dict[str, Any]]]:
    """The partitions to train, and the ones left to their parent for want of rows."""
    tasks, small = [], {}
    for level in plan.model_levels:
        names = partition_names(frame, plan.columns(level))
        for name, index in names.groupby(names, sort=True).groups.items():
            if len(index) < plan.min_rows:
                small[str(name)] = small_partition(level, len(index))
            else:
                tasks.append((str(name), level, index))
    return tasks, small


def main(argv: Sequence[str] | None = None) -> None:
    parser = parser_for("train_partitions")
    parser.add_argument("--global_model", type=Path, required=True, help="the train step's output")
    parser.add_argument("--max_failed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0, help="processes (0: every core)")
    parser.add_argument("--model", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)

    plan = PartitionPlan.parse(args.levels, args.model_levels, args.min_rows)
    if args.max_failed < 0:
        raise StepError(f"max_failed must not be negative (got {args.max_failed})")
    spec = FeatureSpec.load(args.prepared / FEATURES_FILE)
    frame = read_frame(args.prepared / "train.csv", "training data",
                       [*spec.features, spec.target, *plan.levels])
    trainer = Trainer.create(spec, args, plan.min_rows, args.model)
    out = output_folder(args.model, "model")
    shutil.copytree(args.global_model, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(PARTITIONS_DIR))
    tasks, results = plan_tasks(frame, plan)
    workers = args.workers or os.cpu_count() or 1
    started = time.perf_counter()
    pooled = workers > 1 and len(tasks) >= 2
    if not pooled:
        _start_worker(frame, trainer)
        outcomes: Iterator[dict[str, Any]] = map(train_one, tasks)
    else:
        pool = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn").Pool(
            min(workers, len(tasks)), initializer=_start_worker, initargs=(frame, trainer))
        outcomes = pool.imap_unordered(train_one, tasks, chunksize=max(1, len(tasks) // (workers * 8)))
    for done, outcome in enumerate(outcomes, start=1):
        results[outcome.pop("name")] = outcome
        if outcome["status"] == FAILED or done % max(1, len(tasks) // 20) == 0 or done == len(tasks):
            print(f"train_partitions: {done}/{len(tasks)} partitions"
                  + (f"; FAILED {outcome['error']}" if outcome["status"] == FAILED else ""),
                  flush=True)
    if pooled:
        pool.close()
        pool.join()
    write_index(out, plan, results)
    seconds = time.perf_counter() - started
    report(results, plan, args.max_failed,
           f"; {len(tasks) / seconds if seconds else 0:.1f} models/s on {workers} process(es)")


if __name__ == "__main__":
    sys.exit(run_step("train_partitions", main))

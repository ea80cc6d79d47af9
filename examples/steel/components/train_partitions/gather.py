"""Assemble the parallel job's partition models into the folder the local step writes.

Input: the global model, the parallel step's ``models`` folder (``partitions/<name>/``) and its
``append_row_to`` output (one JSON line per partition). Output: the global model plus
``partitions/`` and ``partitions/index.json``, exactly as ``train_partitions`` writes locally,
so ``evaluate_partitions`` reads one layout whichever ran. A partition the training rows have
but no line reports (its mini-batch failed after the job's retries) counts as failed, and the
step fails when more than ``max_failed`` partitions failed — the same rule as locally.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from steel.partitions import FAILED, PARTITIONS_DIR, PartitionPlan, partition_names, write_index
from tabular.step import StepError, output_folder, run_step

from train_partitions.train_partitions import report, small_partition


def reported(results: Path) -> dict[str, dict[str, Any]]:
    """The JSON lines of the append_row output (a file, or every file of a folder)."""
    files = [results] if results.is_file() else sorted(p for p in results.rglob("*") if p.is_file())
    found: dict[str, dict[str, Any]] = {}
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = dict(json.loads(line))
                name = str(entry.pop("name"))
            except (ValueError, TypeError, KeyError):
                raise StepError(f"{file.name} line {number} is not a partition result") from None
            found[name] = entry
    return found


def expected(prepared: Path, plan: PartitionPlan) -> dict[str, dict[str, Any]]:
    """Every partition of every model level in the training rows, with its row count."""
    try:
        keys = pd.read_csv(prepared / "train.csv", usecols=list(plan.levels),
                           dtype={c: str for c in plan.levels})
    except (OSError, ValueError) as exc:
        raise StepError(f"training rows {prepared / 'train.csv'} unreadable ({exc})") from None
    wanted: dict[str, dict[str, Any]] = {}
    for level in plan.model_levels:
        for name, rows in partition_names(keys, plan.columns(level)).value_counts().items():
            wanted[str(name)] = small_partition(level, int(rows))
    return wanted


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gather_partitions", description=__doc__)
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--global_model", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--levels", required=True)
    parser.add_argument("--model_levels", required=True)
    parser.add_argument("--min_rows", type=int, default=24)
    parser.add_argument("--max_failed", type=int, default=0)
    parser.add_argument("--model", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)

    plan = PartitionPlan.parse(args.levels, args.model_levels, args.min_rows)
    if args.max_failed < 0:
        raise StepError(f"max_failed must not be negative (got {args.max_failed})")
    out = output_folder(args.model, "model")
    shutil.copytree(args.global_model, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(PARTITIONS_DIR))
    if (args.models / PARTITIONS_DIR).is_dir():
        shutil.copytree(args.models / PARTITIONS_DIR, out / PARTITIONS_DIR, dirs_exist_ok=True)
    found = reported(args.results)
    results: dict[str, dict[str, Any]] = {}
    for name, entry in expected(args.prepared, plan).items():
        if name in found:
            results[name] = found[name]
        elif entry["rows"] >= plan.min_rows:
            results[name] = {**entry, "status": FAILED,
                             "error": "its mini-batch failed (see the parallel step's logs)"}
        else:
            results[name] = entry
    unknown = sorted(set(found) - set(results))
    if unknown:
        raise StepError(f"the parallel step reported partitions the training rows do not have: "
                        f"{', '.join(unknown[:5])}")
    write_index(out, plan, results)
    report(results, plan, args.max_failed, " (Azure ML parallel job)")


if __name__ == "__main__":
    sys.exit(run_step("gather_partitions", main))

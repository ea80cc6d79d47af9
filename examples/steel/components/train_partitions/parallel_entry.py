"""Azure ML parallel job entry script: one model per partition, the SDK v2 successor of the
many-models accelerator's ParallelRunStep.

The job reads the prepared training rows as an ``mltable`` and hands ``run`` one mini-batch per
value of its ``partition_keys`` — the key columns of the coarsest model level (mlops sets them
from ``partitions.model_levels``), so every partition of every model level lies inside exactly
one mini-batch. ``run`` trains those partitions with the same ``Trainer`` the local process pool
uses, writes each model to ``--models/partitions/<name>/`` and returns one JSON line per
partition (its index entry), which the job appends to its ``append_row_to`` output. The
``gather_partitions`` step then assembles the layout the local step writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # components/, for ``steel``

import pandas as pd
from steel.features import CATEGORICAL, KEYS, FeatureSpec
from steel.partitions import PartitionPlan, partition_names
from tabular.frame import FEATURES_FILE
from tabular.step import StepError, output_folder

from train_partitions.train_partitions import Trainer, parser_for, small_partition

_state: dict[str, Any] = {}


def init() -> None:
    """Parse the program arguments (the job adds its own options: unknown ones are skipped),
    load the feature spec once per process."""
    parser = parser_for("train_partitions_parallel")
    parser.add_argument("--models", type=Path, required=True, help="output folder")
    args, _ = parser.parse_known_args()
    try:
        plan = PartitionPlan.parse(args.levels, args.model_levels, args.min_rows)
        spec = FeatureSpec.load(args.prepared / FEATURES_FILE)
        out = output_folder(args.models, "models")
        trainer = Trainer.create(spec, args, plan.min_rows, out)
    except StepError as exc:  # the job reports init failures with their message
        raise RuntimeError(exc.message) from None
    _state.update(plan=plan, trainer=trainer)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Key and category columns as strings, as ``read_frame`` reads them locally (the MLTable
    says so too; this guards against a table read without its column types)."""
    for column in dict.fromkeys([*KEYS, *CATEGORICAL]):
        if column in frame.columns and frame[column].dtype != object:
            values = frame[column]
            frame[column] = values.astype(str).where(values.notna(), None)
    return frame


def run(mini_batch: pd.DataFrame, mini_batch_context: Any = None) -> list[str]:
    """Train every model-level partition in this mini-batch; one JSON line per partition."""
    if "plan" not in _state:
        raise RuntimeError("init() has not run")
    plan: PartitionPlan = _state["plan"]
    trainer: Trainer = _state["trainer"]
    coarsest = plan.columns(min(plan.model_levels, key=plan.levels.index))
    keys = dict(getattr(mini_batch_context, "partition_key_value", None) or {})
    if keys and not set(keys) <= set(coarsest):
        # Finer keys would split a coarse partition across mini-batches (two half models).
        raise RuntimeError(f"partition_keys {sorted(keys)} must be {coarsest}: the key columns "
                           "of the coarsest model level")
    frame = _as_text(mini_batch.reset_index(drop=True))
    rows: list[str] = []
    for level in plan.model_levels:
        names = partition_names(frame, plan.columns(level))
        for name, index in names.groupby(names, sort=True).groups.items():
            if len(index) < plan.min_rows:
                entry = {"name": str(name), **small_partition(level, len(index))}
            else:
                entry = trainer.train(str(name), level, frame.loc[index])
            rows.append(json.dumps(entry, sort_keys=True))
            if entry["status"] == "failed":
                print(f"train_partitions_parallel: {name} FAILED {entry['error']}", flush=True)
    return rows

"""Prepare checked data for training: choose the features from the schema, drop rows without a
target, and split off a holdout (at random, stratified by class for a classifier, or the latest
rows by the time column).

Writes ``train.csv``, ``holdout.csv`` and ``features.json`` to the ``prepared`` folder. Refuses to
run when the data check's ``report.json`` says the data did not pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tabular.frame import FEATURES_FILE, FeatureSpec, read_frame
from tabular.split import split_rows
from tabular.step import (
    StepError,
    names,
    output_folder,
    require_passed_check,
    run_step,
    write_json,
    write_text,
)

NUMERIC_TYPES = ("integer", "float")
TEXT_TYPES = ("string", "boolean")


def column_types(schema_file: Path) -> dict[str, str]:
    """Column name -> declared type, from the data schema JSON."""
    try:
        columns = json.loads(schema_file.read_text(encoding="utf-8"))["columns"]
        return {str(name): str(spec["type"]) for name, spec in columns.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StepError(f"schema {schema_file} is not readable ({exc})") from None


def classes_of(values: pd.Series, target: str) -> list[str]:
    """The two class labels in sorted order (the second is the positive class)."""
    found = sorted(values.dropna().astype(str).unique().tolist())
    if len(found) != 2:
        raise StepError(f"{target} has {len(found)} classes ({', '.join(found[:5])}"
                        f"{', ...' if len(found) > 5 else ''}); this template trains binary "
                        "classifiers only")
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="prep", description=__doc__)
    parser.add_argument("--raw_data", type=Path, required=True)
    parser.add_argument("--check_report", type=Path, required=True)
    parser.add_argument("--schema", type=Path, required=True, help="the data schema (JSON)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", choices=("regression", "classification"), required=True)
    parser.add_argument("--id_columns", default="none", help="comma-separated, or none")
    parser.add_argument("--time_column", default="none", help="split by this date column, or none")
    parser.add_argument("--holdout_fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--prepared", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)

    require_passed_check(args.check_report)
    types = column_types(args.schema)
    ids = names(args.id_columns)
    time_column = (names(args.time_column) or [None])[0]
    for role, column in (("target", args.target), ("time_column", time_column), *(("id", c) for c in ids)):
        if column is not None and column not in types:
            raise StepError(f"{role} '{column}' is not a column of the schema")
    left_out = {args.target, *ids, *([time_column] if time_column else [])}
    features = [c for c, t in types.items() if c not in left_out and t in (*NUMERIC_TYPES, *TEXT_TYPES)]
    categorical = [c for c in features if types[c] in TEXT_TYPES]
    if not features:
        raise StepError("the schema leaves no feature column once target, ids and time are set aside")
    text = [*categorical, *ids, *([args.target] if args.task == "classification" else [])]
    raw = read_frame(args.raw_data, "raw data", [args.target, *features, *ids], text)
    frame = raw.drop_duplicates(ignore_index=True)
    dropped = {"duplicates": len(raw) - len(frame), "without_target": int(frame[args.target].isna().sum())}
    frame = frame[frame[args.target].notna()].reset_index(drop=True)
    classes = classes_of(frame[args.target], args.target) if args.task == "classification" else []
    codes = (frame[args.target].astype(str) == classes[1]).to_numpy() if classes else None
    train, holdout = split_rows(frame, args.holdout_fraction, args.seed, time_column, codes)
    spec = FeatureSpec(
        task=args.task, target=args.target, features=features, categorical_features=categorical,
        # From the training rows only: a value first seen later is unknown to the model.
        categories={c: sorted(train[c].dropna().astype(str).unique().tolist()) for c in categorical},
        classes=classes, id_columns=ids, time_column=time_column,
        train={"rows": len(train)},
        holdout={"rows": len(holdout), "split": "time" if time_column else
                 ("stratified" if classes else "random"), "fraction": args.holdout_fraction,
                 **({"start": str(holdout[time_column].min()), "end": str(holdout[time_column].max())}
                    if time_column else {})},
    )
    out = output_folder(args.prepared, "prepared")
    for name, part in (("train.csv", train), ("holdout.csv", holdout)):
        write_text(out / name, part.to_csv(index=False, lineterminator="\n"))
    write_json(out / FEATURES_FILE, spec.to_json())
    summary: dict[str, Any] = dropped
    print(f"prep: {len(train)} training and {len(holdout)} holdout rows ({spec.holdout['split']} "
          f"split), {len(features)} features ({len(categorical)} categorical), target {args.target}; "
          f"dropped {summary['duplicates']} duplicate(s) and {summary['without_target']} row(s) "
          "without a target")


if __name__ == "__main__":
    sys.exit(run_step("prep", main))

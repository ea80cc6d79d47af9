"""Train a LightGBM model (a regressor, or a binary classifier of ``spec.classes[1]``) on the
prepared rows; deterministic for the same data and parameters.

Writes ``model.txt``, ``features.json``, ``params.json``, ``parity.json`` (holdout rows with this
model's offline predictions, for the QA gate) and ``reference-predictions.json`` (its holdout
predictions, the reference of prediction drift) to the ``model`` folder.

``--reweight_by COLUMN`` weights rows inversely to their group's share, so every group weighs the
same in the loss; the unweighted model is trained too and ``mitigation.json`` holds the holdout
metric per group for both.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from tabular.frame import FEATURES_FILE, FeatureSpec, encode, read_frame
from tabular.model_io import (
    PARITY_FILE,
    REFERENCE_PREDICTIONS_FILE,
    LoadedModel,
    load_model,
    parity_sample,
    reference_predictions,
    save_model,
)
from tabular.step import StepError, output_folder, run_step, write_json

MITIGATION_FILE = "mitigation.json"


def thread_count() -> int:
    """``OMP_NUM_THREADS`` when set (Azure ML sets it per node), else 2."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 2


def lightgbm_params(args: argparse.Namespace, task: str) -> dict[str, Any]:
    """LightGBM parameters; ``StepError`` naming the first hyper-parameter out of range."""
    checks = (("n_estimators", args.n_estimators >= 1, "at least 1"),
              ("learning_rate", args.learning_rate > 0, "greater than 0"),
              ("num_leaves", args.num_leaves >= 2, "at least 2"),
              ("min_data_in_leaf", args.min_data_in_leaf >= 1, "at least 1"))
    for name, ok, rule in checks:
        if not ok:
            raise StepError(f"{name} must be {rule} (got {getattr(args, name)})")
    return {"objective": "binary" if task == "classification" else "regression",
            "learning_rate": args.learning_rate, "num_leaves": args.num_leaves,
            "min_data_in_leaf": args.min_data_in_leaf, "seed": args.seed,
            # Determinism: fixed seed, fixed thread count, row-wise histograms.
            "deterministic": True, "force_row_wise": True, "num_threads": thread_count(),
            "verbosity": -1}


def labels(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The training label: the target value, or 1/0 for the positive/negative class."""
    if spec.task == "classification":
        return spec.label_codes(frame)
    values = pd.to_numeric(frame[spec.target], errors="coerce")
    if values.isna().any():
        raise StepError(f"{spec.target} holds a value that is not a number, so it cannot be regressed")
    return values.to_numpy(dtype="float64")


def fit(params: dict[str, Any], spec: FeatureSpec, train: pd.DataFrame, rounds: int,
        weights: np.ndarray | None) -> Any:
    """A booster trained on ``train`` (row ``weights`` when given)."""
    dataset = lgb.Dataset(encode(train, spec), label=labels(train, spec), weight=weights,
                          categorical_feature=spec.categorical_features, free_raw_data=True)
    try:
        return lgb.train(params, dataset, num_boost_round=rounds)
    except lgb.basic.LightGBMError as exc:
        raise StepError(f"LightGBM refused to train: {exc}") from None


def group_weights(train: pd.DataFrame, column: str) -> np.ndarray:
    """Weights giving every group of ``column`` the same total weight, averaging 1 per row."""
    if column not in train.columns:
        raise StepError(f"--reweight_by names '{column}', which is not a column of the training data")
    groups = train[column].astype("string").fillna("<missing>")
    counts = groups.map(groups.value_counts())
    weights: np.ndarray = (len(groups) / (groups.nunique() * counts)).to_numpy(dtype="float64")
    return weights


def mitigation_evidence(column: str, spec: FeatureSpec, weighted: LoadedModel, unweighted: Any,
                        holdout: pd.DataFrame) -> dict[str, Any]:
    """The holdout error overall and per group of ``column``, unweighted (before) and after:
    mean absolute error for a regressor, error rate for a classifier."""
    actual = labels(holdout, spec)
    groups = holdout[column].astype("string").fillna("<missing>")
    metric = "error_rate" if spec.task == "classification" else "mae"

    def per_group(predicted: np.ndarray) -> dict[str, Any]:
        if spec.task == "classification":
            predicted = (predicted >= 0.5).astype("float64")
        error = pd.Series(np.abs(actual - predicted), index=holdout.index)
        return {"overall": float(error.mean()),
                "groups": {str(k): float(v) for k, v in error.groupby(groups).mean().items()}}

    before = LoadedModel(unweighted, spec, weighted.folder).predict(holdout)
    return {"method": "reweight", "by": column, "metric": metric,
            "before": per_group(before), "after": per_group(weighted.predict(holdout))}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="train", description=__doc__)
    parser.add_argument("--prepared", type=Path, required=True, help="the prep step's output folder")
    parser.add_argument("--n_estimators", type=int, default=200)
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--num_leaves", type=int, default=31)
    parser.add_argument("--min_data_in_leaf", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reweight_by", default="none", help='a column to reweight by, or "none"')
    parser.add_argument("--model", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    reweight_by = None if args.reweight_by.strip().lower() in ("", "none") else args.reweight_by

    spec = FeatureSpec.load(args.prepared / FEATURES_FILE)
    params = lightgbm_params(args, spec.task)
    extra = [reweight_by] if reweight_by and reweight_by not in spec.features else []
    train = read_frame(args.prepared / "train.csv", "training data",
                       [*spec.features, spec.target, *extra], spec.text_columns)
    weights = group_weights(train, reweight_by) if reweight_by else None
    booster = fit(params, spec, train, args.n_estimators, weights)
    out = output_folder(args.model, "model")
    save_model(booster, spec, {**params, "n_estimators": args.n_estimators,
                               "lightgbm_version": lgb.__version__, "training_rows": len(train)}, out)
    holdout = read_frame(args.prepared / "holdout.csv", "holdout",
                         [*spec.features, spec.target, *extra], spec.text_columns)
    saved = load_model(out)  # exactly what gets registered, read back from disk
    write_json(out / PARITY_FILE, parity_sample(saved, holdout))
    write_json(out / REFERENCE_PREDICTIONS_FILE, reference_predictions(saved, holdout))
    if reweight_by:
        unweighted = fit(params, spec, train, args.n_estimators, None)
        write_json(out / MITIGATION_FILE, mitigation_evidence(reweight_by, spec, saved, unweighted, holdout))
    kind = f"classifier of {spec.target}={spec.classes[1]}" if spec.classes else f"regressor of {spec.target}"
    print(f"train: LightGBM {kind}, {args.n_estimators} trees on {len(train)} rows and "
          f"{len(spec.features)} features (learning_rate={args.learning_rate}, "
          f"num_leaves={args.num_leaves}, seed={args.seed}, threads={params['num_threads']})")


if __name__ == "__main__":
    sys.exit(run_step("train", main))

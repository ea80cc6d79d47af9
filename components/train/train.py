"""Train a LightGBM model (a regressor, or a binary classifier of ``spec.classes[1]``) on the
prepared rows; deterministic for the same data and parameters.

Writes ``model.txt``, ``features.json``, ``params.json``, ``parity.json`` (holdout rows with this
model's offline predictions, for the QA gate) and ``reference-predictions.json`` (its holdout
predictions, the reference of prediction drift) to the ``model`` folder.

``--validation_metric NAME`` first trains on all but the last ``--validation_share`` of the
training rows (by the spec's time column, else a seeded random share) and reports NAME on the
held-out rows after every boosting round (``tabular.tracking``: what a sweep's trial is judged
by); the model saved is then trained on all the rows with the same parameters.

``--reweight_by COLUMN`` weights rows inversely to their group's share, so every group weighs the
same in the loss; the unweighted model is trained too and ``mitigation.json`` holds the holdout
metric per group for both.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from tabular.frame import FEATURES_FILE, FeatureSpec, read_frame
from tabular.model_io import (
    PARITY_FILE,
    REFERENCE_PREDICTIONS_FILE,
    LoadedModel,
    load_model,
    parity_sample,
    reference_predictions,
    save_model,
)
from tabular.step import output_folder, run_step, write_json
from tabular.tracking import flush
from tabular.training import (
    add_hyperparameters,
    add_validation,
    fit,
    group_weights,
    labels,
    lightgbm_params,
    validate,
    validation_name,
)

MITIGATION_FILE = "mitigation.json"


def mitigation_evidence(column: str, spec: FeatureSpec, weighted: LoadedModel[FeatureSpec], unweighted: Any,
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
    add_hyperparameters(parser)
    add_validation(parser)
    parser.add_argument("--reweight_by", default="none", help='a column to reweight by, or "none"')
    parser.add_argument("--model", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    reweight_by = None if args.reweight_by.strip().lower() in ("", "none") else args.reweight_by

    spec = FeatureSpec.load(args.prepared / FEATURES_FILE)
    params = lightgbm_params(args, spec.task)
    metric = validation_name(args, spec.task)
    extra = [reweight_by] if reweight_by and reweight_by not in spec.features else []
    time = [spec.time_column] if metric and spec.time_column else []
    train = read_frame(args.prepared / "train.csv", "training data",
                       list(dict.fromkeys([*spec.features, spec.target, *extra, *time])), spec.text_columns)
    validation: dict[str, Any] = {}
    if metric:
        validation = validate(params, spec, train, args.n_estimators, metric, args.validation_share,
                              spec.time_column,
                              lambda part: group_weights(part, reweight_by) if reweight_by else None)
        flush()
    weights = group_weights(train, reweight_by) if reweight_by else None
    booster = fit(params, spec, train, args.n_estimators, weights)
    out = output_folder(args.model, "model")
    save_model(booster, spec, {**params, "n_estimators": args.n_estimators,
                               "lightgbm_version": lgb.__version__, "training_rows": len(train),
                               **validation}, out)
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
    if validation:
        print(f"train: {metric} {validation['validation_value']:.6g} on {validation['validation_rows']} "
              f"validation rows after {args.n_estimators} rounds; the model saved is refit on all rows")


if __name__ == "__main__":
    sys.exit(run_step("train", main))

"""Train a LightGBM regressor on prepared data; deterministic for the same data and parameters.

Writes ``model.txt`` (the booster), ``features.json`` (how to encode inputs), ``params.json`` and
``parity.json`` (holdout rows with this model's offline predictions, for the release QA gate) and
``reference-predictions.json`` (its holdout predictions, the reference of prediction drift) to the
``model`` folder.

``--reweight_by COLUMN`` mitigates a quality gap between groups: rows are weighted inversely to
their group's share of the training rows, so every group weighs the same in the loss. The step
then also trains the unweighted model and writes ``mitigation.json``: the holdout metric overall
and per group for both, the evidence the model card shows.

``--validation_metric NAME`` (rmse, mae, r2 or wape) first trains on the rows of all but the last
``--validation_share`` of the training months and reports NAME on the rest after every boosting
round (``tabular.tracking``: what a sweep's trial is judged by), predictions clipped at 0 as
served; the model saved is then trained on all the rows with the same parameters.
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
from steel.features import FeatureSpec, read_frame
from steel.model_io import MITIGATION_FILE, LoadedModel, load_model
from tabular.frame import FEATURES_FILE
from tabular.model_io import (
    PARITY_FILE,
    REFERENCE_PREDICTIONS_FILE,
    parity_sample,
    reference_predictions,
    save_model,
)
from tabular.step import StepError, output_folder, run_step, write_json
from tabular.tracking import flush
from tabular.training import (
    add_hyperparameters,
    add_validation,
    fit,
    group_weights,
    lightgbm_params,
    validate,
    validation_name,
)


def mitigation_evidence(column: str, spec: FeatureSpec, weighted: LoadedModel, unweighted: Any,
                        holdout: pd.DataFrame) -> dict[str, Any]:
    """Holdout WAPE overall and per group of ``column``, before (unweighted) and after."""
    actual = holdout[spec.target].to_numpy(dtype="float64")
    before = LoadedModel(unweighted, spec, weighted.folder).predict(holdout)
    after = weighted.predict(holdout)
    groups = holdout[column].astype("string").fillna("<missing>")

    def wape(predicted: np.ndarray) -> dict[str, Any]:
        error = pd.Series(np.abs(actual - predicted), index=holdout.index)
        volume = pd.Series(np.abs(actual), index=holdout.index)
        per_group = error.groupby(groups).sum() / volume.groupby(groups).sum()
        return {"overall": float(error.sum() / volume.sum()),
                "groups": {str(k): float(v) for k, v in per_group.items()}}

    return {"method": "reweight", "by": column, "metric": "wape",
            "before": wape(before), "after": wape(after)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="train", description=__doc__)
    parser.add_argument("--prepared", type=Path, required=True, help="the prep step's output folder")
    add_hyperparameters(parser, n_estimators=300)
    add_validation(parser)
    parser.add_argument("--reweight_by", default="none",
                        help='weight rows inversely to the size of their group in this column '
                             '("none": unweighted)')
    parser.add_argument("--model", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    if args.reweight_by.strip().lower() in ("", "none"):
        args.reweight_by = None

    params = lightgbm_params(args)  # a regression
    spec = FeatureSpec.load(args.prepared / FEATURES_FILE)
    metric = validation_name(args, spec.task)
    time = [spec.time_column] if metric else []
    train = read_frame(args.prepared / "train.csv", "training data", [*spec.features, spec.target, *time])
    if train[spec.target].isna().any():
        raise StepError(f"training data has missing {spec.target} values")
    validation: dict[str, Any] = {}
    if metric:
        reweight_by = args.reweight_by
        validation = validate(params, spec, train, args.n_estimators, metric, args.validation_share,
                              spec.time_column,
                              lambda part: group_weights(part, reweight_by) if reweight_by else None,
                              # As served: purchases cannot be negative (steel.model_io).
                              lambda predicted: np.clip(predicted, 0.0, None))
        flush()
    weights = group_weights(train, args.reweight_by) if args.reweight_by else None
    booster = fit(params, spec, train, args.n_estimators, weights)
    out = output_folder(args.model, "model")
    save_model(booster, spec, {**params, "n_estimators": args.n_estimators,
                               "lightgbm_version": lgb.__version__, "training_rows": len(train),
                               **validation}, out)
    mitigation_columns = [spec.target, args.reweight_by] if args.reweight_by else []
    holdout = read_frame(args.prepared / "holdout.csv", "holdout",
                         [*spec.features, *mitigation_columns])
    # Predictions of the model as saved (reloaded from disk), i.e. exactly what gets registered.
    saved = load_model(out)
    write_json(out / PARITY_FILE, parity_sample(saved, holdout))
    write_json(out / REFERENCE_PREDICTIONS_FILE, reference_predictions(saved, holdout))
    if args.reweight_by:
        unweighted = fit(params, spec, train, args.n_estimators, None)
        evidence = mitigation_evidence(args.reweight_by, spec, saved, unweighted, holdout)
        write_json(out / MITIGATION_FILE, evidence)
        print(f"train: rows reweighted by {args.reweight_by}; holdout wape "
              f"{evidence['before']['overall']:.4f} unweighted, {evidence['after']['overall']:.4f} "
              "reweighted")
    print(f"train: {args.n_estimators} trees on {len(train)} rows and {len(spec.features)} features "
          f"(learning_rate={args.learning_rate}, num_leaves={args.num_leaves}, "
          f"min_data_in_leaf={args.min_data_in_leaf}, seed={args.seed}, threads={params['num_threads']})")
    if validation:
        print(f"train: {metric} {validation['validation_value']:.6g} on {validation['validation_rows']} "
              f"validation rows after {args.n_estimators} rounds; the model saved is refit on all rows")


if __name__ == "__main__":
    sys.exit(run_step("train", main))

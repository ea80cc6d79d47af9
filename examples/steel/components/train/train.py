"""Train a LightGBM regressor on prepared data; deterministic for the same data and parameters.

Writes ``model.txt`` (the booster), ``features.json`` (how to encode inputs), ``params.json`` and
``parity.json`` (holdout rows with this model's offline predictions, for the release QA gate) and
``reference-predictions.json`` (its holdout predictions, the reference of prediction drift) to the
``model`` folder.

``--reweight_by COLUMN`` mitigates a quality gap between groups: rows are weighted inversely to
their group's share of the training rows, so every group weighs the same in the loss. The step
then also trains the unweighted model and writes ``mitigation.json``: the holdout metric overall
and per group for both, the evidence the model card shows.
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
from steel.cli import StepError, output_folder, run_step, write_json
from steel.features import FeatureSpec, encode, read_frame
from steel.model_io import (
    FEATURES_FILE,
    MITIGATION_FILE,
    PARITY_FILE,
    REFERENCE_PREDICTIONS_FILE,
    LoadedModel,
    load_model,
    parity_sample,
    reference_predictions,
    save_model,
)


def thread_count() -> int:
    """``OMP_NUM_THREADS`` when set (Azure ML sets it per node), else 2."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 2


def lightgbm_params(args: argparse.Namespace) -> dict[str, Any]:
    """LightGBM parameters; ``StepError`` naming the first hyper-parameter out of range."""
    checks = (("n_estimators", args.n_estimators >= 1, "at least 1"),
              ("learning_rate", args.learning_rate > 0, "greater than 0"),
              ("num_leaves", args.num_leaves >= 2, "at least 2"),
              ("min_data_in_leaf", args.min_data_in_leaf >= 1, "at least 1"))
    for name, ok, rule in checks:
        if not ok:
            raise StepError(f"{name} must be {rule} (got {getattr(args, name)})")
    return {
        "objective": "regression",
        "learning_rate": args.learning_rate,
        "num_leaves": args.num_leaves,
        "min_data_in_leaf": args.min_data_in_leaf,
        "seed": args.seed,
        # Determinism: fixed seed, fixed thread count, row-wise histograms (LightGBM's own advice).
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": thread_count(),
        "verbosity": -1,
    }


def fit(params: dict[str, Any], spec: FeatureSpec, train: pd.DataFrame, rounds: int,
        weights: np.ndarray | None) -> Any:
    """A booster trained on ``train`` (row ``weights`` when given)."""
    dataset = lgb.Dataset(encode(train, spec), label=train[spec.target].to_numpy(dtype="float64"),
                          weight=weights, categorical_feature=spec.categorical_features,
                          free_raw_data=True)
    try:
        return lgb.train(params, dataset, num_boost_round=rounds)
    except lgb.basic.LightGBMError as exc:
        raise StepError(f"LightGBM refused to train: {exc}") from None


def group_weights(train: pd.DataFrame, column: str) -> np.ndarray:
    """Weights that give every group of ``column`` the same total weight, averaging 1 per row."""
    if column not in train.columns:
        raise StepError(f"--reweight_by names '{column}', which is not a column of the training data")
    groups = train[column].astype("string").fillna("<missing>")
    counts = groups.map(groups.value_counts())
    weights: np.ndarray = (len(groups) / (groups.nunique() * counts)).to_numpy(dtype="float64")
    return weights


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


def add_hyperparameters(parser: argparse.ArgumentParser) -> None:
    """The LightGBM options every training component takes (read by :func:`lightgbm_params`)."""
    parser.add_argument("--n_estimators", type=int, default=300)
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--num_leaves", type=int, default=31)
    parser.add_argument("--min_data_in_leaf", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="train", description=__doc__)
    parser.add_argument("--prepared", type=Path, required=True, help="the prep step's output folder")
    add_hyperparameters(parser)
    parser.add_argument("--reweight_by", default="none",
                        help='weight rows inversely to the size of their group in this column '
                             '("none": unweighted)')
    parser.add_argument("--model", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    if args.reweight_by.strip().lower() in ("", "none"):
        args.reweight_by = None

    params = lightgbm_params(args)
    spec = FeatureSpec.load(args.prepared / FEATURES_FILE)
    train = read_frame(args.prepared / "train.csv", "training data", [*spec.features, spec.target])
    if train[spec.target].isna().any():
        raise StepError(f"training data has missing {spec.target} values")
    weights = group_weights(train, args.reweight_by) if args.reweight_by else None
    booster = fit(params, spec, train, args.n_estimators, weights)
    out = output_folder(args.model, "model")
    save_model(booster, spec, {**params, "n_estimators": args.n_estimators,
                               "lightgbm_version": lgb.__version__, "training_rows": len(train)}, out)
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


if __name__ == "__main__":
    sys.exit(run_step("train", main))

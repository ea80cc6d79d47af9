"""Training a LightGBM model, the same way in every training step: its hyper-parameters and
their checks, deterministic parameters, the label of each task, and group reweighting."""

from __future__ import annotations

import argparse
import os
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tabular.frame import Spec, encode, label_codes
from tabular.step import StepError


def thread_count() -> int:
    """``OMP_NUM_THREADS`` when set (Azure ML sets it per node), else 2."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 2


def add_hyperparameters(parser: argparse.ArgumentParser, n_estimators: int = 200) -> None:
    """The LightGBM options every training step takes (read by :func:`lightgbm_params`)."""
    parser.add_argument("--n_estimators", type=int, default=n_estimators)
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--num_leaves", type=int, default=31)
    parser.add_argument("--min_data_in_leaf", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)


def lightgbm_params(args: argparse.Namespace, task: str = "regression") -> dict[str, Any]:
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


def labels(frame: pd.DataFrame, spec: Spec) -> np.ndarray:
    """The training label: the target value, or 1/0 for the positive/negative class."""
    if spec.task == "classification":
        return label_codes(spec, frame)
    values = pd.to_numeric(frame[spec.target], errors="coerce")
    if values.isna().any():
        raise StepError(f"{spec.target} holds a value that is not a number, so it cannot be regressed")
    return values.to_numpy(dtype="float64")


def fit(params: dict[str, Any], spec: Spec, train: pd.DataFrame, rounds: int,
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

"""Training a LightGBM model, the same way in every training step: its hyper-parameters and
their checks, deterministic parameters, the label of each task, group reweighting, and the
validation run that reports a metric per boosting round (what a sweep's trial is judged by)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tabular.frame import Spec, encode, label_codes
from tabular.metrics import validation_metric
from tabular.split import split_rows
from tabular.step import StepError
from tabular.tracking import log_metric


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


def add_validation(parser: argparse.ArgumentParser) -> None:
    """The options of the validation run (read by :func:`validation_name` and :func:`validate`)."""
    parser.add_argument("--validation_metric", default="none",
                        help="report this metric on held-out training rows after every boosting "
                             'round, then refit on all rows ("none": no validation run)')
    parser.add_argument("--validation_share", type=float, default=0.2,
                        help="the share of training rows held out for validation_metric")


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


def validation_name(args: argparse.Namespace, task: str) -> str | None:
    """``--validation_metric`` checked against the task (``None`` for "none"); ``StepError``
    naming a bad metric or share."""
    if not 0 < args.validation_share < 1:
        raise StepError(f"validation_share must be between 0 and 1 (got {args.validation_share})")
    name = str(args.validation_metric).strip().lower()
    if name in ("", "none"):
        return None
    validation_metric(name, task)
    return name


def validate(params: dict[str, Any], spec: Spec, train: pd.DataFrame, rounds: int, metric: str,
             share: float, time_column: str | None,
             weights: Callable[[pd.DataFrame], np.ndarray | None],
             served: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    """Train on all but the last ``share`` of ``train`` (by ``time_column``, else a seeded random,
    class-stratified share), reporting ``metric`` on the held-out rows after every round through
    :func:`tabular.tracking.log_metric`; returns what ``params.json`` records of the run.

    ``weights`` gives the row weights of a part; ``served`` maps raw predictions to served ones
    (a clip at 0, say), so the metric is the one evaluate would compute of this model."""
    formula, higher_is_better = validation_metric(metric, spec.task)
    stratify = label_codes(spec, train) if spec.task == "classification" and time_column is None else None
    fitting, held = split_rows(train, share, params["seed"], time_column, stratify,
                               option="validation_share", part="validation")
    actual = labels(held, spec)
    train_set = lgb.Dataset(encode(fitting, spec), label=labels(fitting, spec), weight=weights(fitting),
                            categorical_feature=spec.categorical_features, free_raw_data=True)
    valid_set = lgb.Dataset(encode(held, spec), label=actual, reference=train_set,
                            categorical_feature=spec.categorical_features, free_raw_data=True)

    def evaluate(predicted: np.ndarray, _: lgb.Dataset) -> tuple[str, float, bool]:
        # With a built-in objective LightGBM passes predictions as predict() gives them
        # (probabilities for a classifier), updated incrementally per round.
        shown = served(predicted) if served is not None else predicted
        return metric, formula(actual, np.asarray(shown, dtype="float64")), higher_is_better

    curve: list[float] = []

    def report(env: Any) -> None:
        for _, name, value, _ in env.evaluation_result_list:
            if name == metric:
                curve.append(float(value))
                log_metric(metric, float(value), step=env.iteration + 1)

    try:
        # "None": only our metric is computed per round (the parameter does not change the trees).
        lgb.train({**params, "metric": "None"}, train_set, num_boost_round=rounds,
                  valid_sets=[valid_set], valid_names=["validation"], feval=evaluate,
                  callbacks=[report])
    except lgb.basic.LightGBMError as exc:
        raise StepError(f"LightGBM refused to train: {exc}") from None
    return {"validation_metric": metric, "validation_share": share,
            "validation_rows": len(held), "validation_split": "time" if time_column else "random",
            "validation_value": curve[-1]}

"""Explanations with LightGBM's exact tree SHAP (``predict(..., pred_contrib=True)``).

Contributions are in the booster's raw output space: for a regressor the predicted value, for a
binary classifier the log-odds of the positive class (the probability is its logistic). Every
explanation names its space, so a probability is never read beside log-odds contributions.

A project whose endpoint serves something else than the raw output (the steel example clips at 0)
passes its own ``serve`` to :func:`explanations`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tabular.frame import Spec, encode
from tabular.model_io import jsonable

#: Rows whose contributions the SHAP summary keeps per feature (a plot, not a dataset).
SUMMARY_ROWS = 300
EXAMPLE_ROWS = 5


class Explainable(Protocol):
    """A model whose predictions can be explained: a LightGBM booster and its feature spec."""

    @property
    def booster(self) -> Any: ...
    @property
    def spec(self) -> Spec: ...


def space(spec: Spec) -> str:
    """The unit of contributions and base values."""
    return f"log-odds of {spec.target}={spec.classes[1]}" if spec.task == "classification" else spec.target


def contributions(booster: Any, matrix: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Per-row SHAP values, shape (rows, features + 1); the last column is the base value."""
    return np.asarray(booster.predict(matrix, pred_contrib=True), dtype="float64")


def served(spec: Spec, raw: float) -> float:
    """The prediction the endpoint serves for a raw output (a probability for a classifier)."""
    return 1.0 / (1.0 + math.exp(-raw)) if spec.task == "classification" else raw


def row_explanations(spec: Spec, frame: pd.DataFrame, contrib: np.ndarray, top: int | None = None,
                     serve: Callable[[float], float] | None = None) -> list[dict[str, Any]]:
    """Per row: its feature values, raw and served prediction (``serve`` of the raw one, by
    default :func:`served`), contributions by magnitude."""
    serve = serve or partial(served, spec)
    rows = []
    for i in range(len(contrib)):
        values = contrib[i, :-1]
        order = np.argsort(-np.abs(values), kind="stable")[:top]
        raw = float(contrib[i].sum())
        rows.append({
            "row": {f: jsonable(frame[f].iloc[i]) for f in spec.features},
            "base_value": float(contrib[i, -1]),
            "raw_prediction": raw,
            "prediction": serve(raw),
            "contributions": {spec.features[j]: float(values[j]) for j in order},
        })
    return rows


def explanations(model: Explainable, frame: pd.DataFrame, *, seed: int = 0,
                 serve: Callable[[float], float] | None = None) -> dict[str, Any]:
    """Importance (gain, mean |SHAP|), a SHAP summary sample for plots and a few individual
    explanations (served predictions by ``serve``, see :func:`row_explanations`): what evaluate
    writes to ``explanations.json``."""
    spec = model.spec
    matrix = encode(frame, spec)
    contrib = contributions(model.booster, matrix)
    gain = np.asarray(model.booster.feature_importance(importance_type="gain"), dtype="float64")
    mean_abs = np.abs(contrib[:, :-1]).mean(axis=0)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(frame), size=min(SUMMARY_ROWS, len(frame)), replace=False))
    summary: dict[str, Any] = {}
    for j, name in enumerate(spec.features):
        column = matrix[name].to_numpy()[picked]
        scaled: list[float | None] = [None] * len(picked)
        if name not in spec.categorical_features and not np.isnan(column).all():
            low, high = np.nanmin(column), np.nanmax(column)
            span = high - low if high > low else 1.0
            scaled = [None if math.isnan(v) else round(float((v - low) / span), 4) for v in column]
        summary[name] = {"values": scaled, "shap": [round(float(v), 6) for v in contrib[picked, j]]}
    examples = np.linspace(0, len(frame) - 1, num=min(EXAMPLE_ROWS, len(frame))).astype(int)
    return {
        "method": "lightgbm pred_contrib (exact tree SHAP, raw output space)",
        "space": space(spec),
        "rows": len(frame),
        "gain": {name: float(g) for name, g in zip(spec.features, gain, strict=True)},
        "mean_abs_shap": {name: float(v) for name, v in zip(spec.features, mean_abs, strict=True)},
        "base_value": float(contrib[0, -1]) if len(contrib) else 0.0,
        "summary": summary,
        "examples": row_explanations(spec, frame.iloc[examples], contrib[examples], top=8,
                                     serve=serve),
    }


def endpoint_explanations(spec: Spec, contrib: np.ndarray) -> list[dict[str, Any]]:
    """What score.py answers to ``"explain": true``: per row the base value, its space and every
    feature's contribution."""
    unit = space(spec)
    return [{"base_value": float(row[-1]), "space": unit,
             "contributions": dict(zip(spec.features, map(float, row[:-1]), strict=True))}
            for row in contrib]

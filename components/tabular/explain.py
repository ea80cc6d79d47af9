"""Explanations with LightGBM's exact tree SHAP (``predict(..., pred_contrib=True)``).

Contributions are in the booster's raw output space: for a regressor the predicted value, for a
binary classifier the log-odds of the positive class (the probability is its logistic). Every
explanation names its space, so a probability is never read beside log-odds contributions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tabular.frame import FeatureSpec, encode
from tabular.model_io import LoadedModel, jsonable

#: Rows whose contributions the SHAP summary keeps per feature (a plot, not a dataset).
SUMMARY_ROWS = 300
EXAMPLE_ROWS = 5


def space(spec: FeatureSpec) -> str:
    """The unit of contributions and base values."""
    return f"log-odds of {spec.target}={spec.classes[1]}" if spec.task == "classification" else spec.target


def contributions(booster: Any, matrix: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Per-row SHAP values, shape (rows, features + 1); the last column is the base value."""
    return np.asarray(booster.predict(matrix, pred_contrib=True), dtype="float64")


def served(spec: FeatureSpec, raw: float) -> float:
    """The prediction the endpoint serves for a raw output (a probability for a classifier)."""
    return 1.0 / (1.0 + math.exp(-raw)) if spec.task == "classification" else raw


def row_explanations(spec: FeatureSpec, frame: pd.DataFrame, contrib: np.ndarray,
                     top: int | None = None) -> list[dict[str, Any]]:
    """Per row: its feature values, raw and served prediction, contributions by magnitude."""
    rows = []
    for i in range(len(contrib)):
        values = contrib[i, :-1]
        order = np.argsort(-np.abs(values), kind="stable")[:top]
        raw = float(contrib[i].sum())
        rows.append({
            "row": {f: jsonable(frame[f].iloc[i]) for f in spec.features},
            "base_value": float(contrib[i, -1]),
            "raw_prediction": raw,
            "prediction": served(spec, raw),
            "contributions": {spec.features[j]: float(values[j]) for j in order},
        })
    return rows


def explanations(model: LoadedModel, frame: pd.DataFrame, *, seed: int = 0) -> dict[str, Any]:
    """Importance (gain, mean |SHAP|), a SHAP summary sample for plots and a few individual
    explanations: what evaluate writes to ``explanations.json``."""
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
        "examples": row_explanations(spec, frame.iloc[examples], contrib[examples], top=8),
    }

"""Explanations with LightGBM's own exact tree SHAP (``predict(..., pred_contrib=True)``).

Contributions are in the booster's raw output space: per row they add up, with the base value,
to the raw prediction. The served prediction is that value clipped at 0 (purchases cannot be
negative), so for the rare negative raw prediction the two differ; ``explain`` says so per row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from steel.features import FeatureSpec, encode
from steel.model_io import LoadedModel, jsonable

#: Rows whose contributions the SHAP summary keeps per feature (a plot, not a dataset).
SUMMARY_ROWS = 300
EXAMPLE_ROWS = 5


def contributions(booster: Any, matrix: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Per-row SHAP values, shape (rows, features + 1); the last column is the base value."""
    values = np.asarray(booster.predict(matrix, pred_contrib=True), dtype="float64")
    return values


def row_explanations(spec: FeatureSpec, frame: pd.DataFrame, contrib: np.ndarray,
                     top: int | None = None) -> list[dict[str, Any]]:
    """One entry per row: its feature values, raw and served prediction, contributions sorted by
    magnitude (the ``top`` largest when given)."""
    rows = []
    for i in range(len(contrib)):
        values = contrib[i, :-1]
        order = np.argsort(-np.abs(values), kind="stable")
        if top is not None:
            order = order[:top]
        raw = float(contrib[i].sum())
        rows.append({
            "row": {f: jsonable(frame[f].iloc[i]) for f in spec.features},
            "base_value": float(contrib[i, -1]),
            "raw_prediction": raw,
            "prediction": max(raw, 0.0),
            "contributions": {spec.features[j]: float(values[j]) for j in order},
        })
    return rows


def explanations(model: LoadedModel, frame: pd.DataFrame, *, seed: int = 0) -> dict[str, Any]:
    """Aggregate importance (gain and mean |SHAP| over every row of ``frame``), a SHAP summary
    sample for plots, and a few individual explanations: the ``explanations`` part of the
    responsible-ML report."""
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
        if name in spec.categorical_features:
            scaled: list[float | None] = [None] * len(picked)
        else:
            low, high = np.nanmin(column), np.nanmax(column)
            span = high - low if high > low else 1.0
            scaled = [None if math.isnan(v) else round(float((v - low) / span), 4) for v in column]
        summary[name] = {"values": scaled,
                         "shap": [round(float(v), 6) for v in contrib[picked, j]]}
    examples = np.linspace(0, len(frame) - 1, num=min(EXAMPLE_ROWS, len(frame))).astype(int)
    return {
        "method": "lightgbm pred_contrib (exact tree SHAP, raw output space)",
        "rows": len(frame),
        "gain": {name: float(g) for name, g in zip(spec.features, gain, strict=True)},
        "mean_abs_shap": {name: float(v) for name, v in zip(spec.features, mean_abs, strict=True)},
        "base_value": float(contrib[0, -1]) if len(contrib) else 0.0,
        "summary": summary,
        "examples": row_explanations(spec, frame.iloc[examples], contrib[examples], top=8),
    }

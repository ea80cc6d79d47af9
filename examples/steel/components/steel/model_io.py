"""Saving, finding and loading a trained model folder: ``model.txt`` (the LightGBM booster),
``features.json`` (how to encode inputs) and ``params.json`` (how it was trained)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from steel.cli import StepError, write_json, write_text
from steel.features import FeatureSpec, encode

MODEL_FILE = "model.txt"
FEATURES_FILE = "features.json"
PARAMS_FILE = "params.json"
#: Holdout rows as a scoring request with this model's offline predictions: the QA gate sends the
#: request to the endpoint and compares (offline/online parity).
PARITY_FILE = "parity.json"
#: This model's predictions on its holdout (rows it was not trained on): the reference that
#: prediction drift compares production predictions with.
REFERENCE_PREDICTIONS_FILE = "reference-predictions.json"
#: With ``--reweight_by``: the holdout metric per group with and without the reweighting.
MITIGATION_FILE = "mitigation.json"


def find_model_file(root: Path) -> Path:
    """``model.txt`` in ``root`` or, as Azure ML mounts models one folder deeper, below it."""
    direct = root / MODEL_FILE
    if direct.is_file():
        return direct
    # Shallowest first: a partitioned model also holds partition models further down.
    found = sorted(root.rglob(MODEL_FILE), key=lambda p: (len(p.parts), p)) if root.is_dir() else []
    if not found:
        raise StepError(f"no {MODEL_FILE} in {root}")
    return found[0]


@dataclass(frozen=True)
class LoadedModel:
    """A booster together with the feature spec it was trained with."""

    booster: Any  # lightgbm.Booster (lightgbm ships no type information)
    spec: FeatureSpec
    folder: Path

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Non-negative predictions for rows holding the spec's features (categoricals as text)."""
        matrix = encode(frame, self.spec)
        predictions = np.asarray(self.booster.predict(matrix), dtype="float64")
        clipped: np.ndarray = np.clip(predictions, 0.0, None)  # purchases cannot be negative
        return clipped


def load_model(root: Path, specs: dict[bytes, FeatureSpec] | None = None) -> LoadedModel:
    """Load the model found under ``root``; ``StepError`` naming the folder when unusable.

    ``specs`` caches feature specs by their file's bytes: the thousand partition models of a
    partitioned model share one ``features.json`` text, parsed (and translated) once."""
    model_file = find_model_file(root)
    spec_file = model_file.parent / FEATURES_FILE
    if specs is None:
        spec = FeatureSpec.load(spec_file)
    else:
        try:
            raw = spec_file.read_bytes()
        except OSError:
            raw = b""  # FeatureSpec.load names the file and the problem
        spec = specs.get(raw) if raw else None
        if spec is None:
            spec = FeatureSpec.load(spec_file)
            specs[raw] = spec
    try:
        # Read by Python, parsed from the string: LightGBM's own line-by-line file reader takes
        # about as long again as the parse (1,000 partition models: 1.5 s against 0.75 s).
        booster = lgb.Booster(model_str=model_file.read_text(encoding="utf-8"))
    except (lgb.basic.LightGBMError, OSError, UnicodeDecodeError) as exc:
        raise StepError(f"{model_file} is not a LightGBM model ({exc})") from None
    if list(booster.feature_name()) != spec.features:
        raise StepError(f"{model_file} was trained on other features than its {FEATURES_FILE} lists")
    return LoadedModel(booster, spec, model_file.parent)


def save_model(booster: Any, spec: FeatureSpec, params: dict[str, Any], folder: Path) -> None:
    """Write the three files of a model folder."""
    write_text(folder / MODEL_FILE, booster.model_to_string())
    write_json(folder / FEATURES_FILE, spec.to_json())
    write_json(folder / PARAMS_FILE, params)


def jsonable(value: Any) -> Any:
    """A numpy scalar as plain JSON: NaN as null."""
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def sample_request(frame: pd.DataFrame, spec: FeatureSpec, rows: int = 5) -> dict[str, Any]:
    """A scoring request ``{"data": [...]}`` built from the first ``rows`` rows of ``frame``
    (e.g. holdout.csv): the spec's features, categoricals as their text, missing values null."""
    missing = [c for c in spec.features if c not in frame.columns]
    if missing:
        raise StepError(f"cannot build a sample request: no column(s) {', '.join(missing)}")
    head = frame[spec.features].head(rows)
    records = [{k: jsonable(v) for k, v in row.items()}
               for row in head.to_dict(orient="records")]
    return {"data": records}


def sample_request_from_files(model_dir: Path, holdout_csv: Path, rows: int = 5) -> dict[str, Any]:
    """``sample_request`` for the model under ``model_dir`` from a prep ``holdout.csv``."""
    from steel.features import read_frame

    model = load_model(model_dir)
    return sample_request(read_frame(holdout_csv, "holdout", model.spec.features), model.spec, rows)


def parity_sample(model: LoadedModel, holdout: pd.DataFrame, rows: int = 200) -> dict[str, Any]:
    """``{"request": ..., "predictions": [...]}``: ``rows`` holdout rows spread over the whole
    holdout (not just its first month) as a scoring request, with ``model``'s predictions."""
    if holdout.empty:
        raise StepError("cannot build the parity sample: the holdout has no rows")
    step = max(1, len(holdout) // rows)
    picked = holdout.iloc[::step].head(rows).reset_index(drop=True)
    request = sample_request(picked, model.spec, rows=len(picked))
    return {"request": request, "predictions": [float(p) for p in model.predict(picked)],
            "rows": len(picked)}


def reference_predictions(model: LoadedModel, holdout: pd.DataFrame,
                          limit: int = 20_000) -> dict[str, Any]:
    """``model``'s predictions on the holdout, at most ``limit`` of them spread evenly (a drift
    reference needs the distribution, not every row)."""
    if holdout.empty:
        raise StepError("cannot build the reference predictions: the holdout has no rows")
    step = max(1, math.ceil(len(holdout) / limit))
    predictions = model.predict(holdout.iloc[::step])
    return {"source": "holdout", "holdout_rows": len(holdout),
            "predictions": [round(float(p), 6) for p in predictions]}

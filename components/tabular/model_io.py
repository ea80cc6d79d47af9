"""A model folder: ``model.txt`` (the LightGBM booster), ``features.json`` (its ``FeatureSpec``)
and ``params.json``; loading it back; and the evidence files mlops reads from it
(``parity.json``, ``reference-predictions.json``).

The evidence helpers take any model with a ``spec`` and a ``predict``: a project's own
``LoadedModel`` (the steel example clips its predictions at 0) writes the same files.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import lightgbm as lgb
import numpy as np
import pandas as pd

from tabular.frame import FEATURES_FILE, FeatureSpec, Spec, encode
from tabular.request import Encoding
from tabular.step import StepError, prefixed, write_json, write_text

MODEL_FILE = "model.txt"
PARAMS_FILE = "params.json"
#: Holdout rows as a scoring request with this model's offline predictions (QA gate parity).
PARITY_FILE = "parity.json"
#: This model's predictions on its holdout: the reference of prediction drift.
REFERENCE_PREDICTIONS_FILE = "reference-predictions.json"

M = TypeVar("M")
SpecT = TypeVar("SpecT", bound=Spec)


class Predictor(Protocol):
    """What the evidence files need of a model: its feature spec and its predictions."""

    @property
    def spec(self) -> Encoding: ...
    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...


def find_model_file(root: Path) -> Path:
    """``model.txt`` in ``root`` or below it (Azure ML mounts a model one folder deeper)."""
    direct = root / MODEL_FILE
    if direct.is_file():
        return direct
    # Shallowest first: a model folder may hold further models below it (partition models).
    found = sorted(root.rglob(MODEL_FILE), key=lambda p: (len(p.parts), p)) if root.is_dir() else []
    if not found:
        raise StepError(f"no {MODEL_FILE} in {root}")
    return found[0]


@dataclass(frozen=True)
class LoadedModel(Generic[SpecT]):
    """A booster with the feature spec it was trained with (this template's ``FeatureSpec``, or
    a project's own; a project serving something else than the booster's output overrides
    :meth:`predict_matrix`)."""

    booster: Any  # lightgbm.Booster (LightGBM ships no type information)
    spec: SpecT
    folder: Path

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Regression: the predicted values. Classification: the probability of the positive
        class (``spec.classes[1]``)."""
        return self.predict_matrix(encode(frame, self.spec).to_numpy(dtype="float64"))

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """``predict`` on rows already encoded (score.py builds the matrix from JSON itself)."""
        values: np.ndarray = np.asarray(self.booster.predict(matrix), dtype="float64")
        return values

    def labels(self, predictions: np.ndarray) -> list[str]:
        """Classification: the class each probability decides (positive from 0.5 on)."""
        # One numpy comparison, then a C-level pick per row (iterating numpy scalars in Python
        # costs ~0.2 ms per 1,000 rows).
        picks = (self.spec.classes[0], self.spec.classes[1])
        return list(map(picks.__getitem__, (np.asarray(predictions) >= 0.5).tolist()))


def read_booster(model_file: Path, features: Sequence[str]) -> Any:
    """The LightGBM booster in ``model_file``; ``StepError`` unless it is one trained on
    ``features``."""
    try:
        # Read by Python, parsed from the string: LightGBM's own line-by-line file reader takes
        # about as long again as the parse (noticeable with many partition models).
        booster = lgb.Booster(model_str=model_file.read_text(encoding="utf-8"))
    except (lgb.basic.LightGBMError, OSError, UnicodeDecodeError) as exc:
        raise StepError(f"{model_file} is not a LightGBM model ({exc})") from None
    # LightGBM stores a feature name with whitespace in it with underscores instead.
    if list(booster.feature_name()) != [re.sub(r"\s", "_", name) for name in features]:
        raise StepError(f"{model_file} was trained on other features than its {FEATURES_FILE} lists")
    return booster


def load_model(root: Path) -> LoadedModel[FeatureSpec]:
    """The model found under ``root``; ``StepError`` naming the folder when unusable."""
    model_file = find_model_file(root)
    spec = FeatureSpec.load(model_file.parent / FEATURES_FILE)
    return LoadedModel(read_booster(model_file, spec.features), spec, model_file.parent)


def deployed_model(load: Callable[[Path], M], purpose: str) -> M:
    """``load`` the model Azure ML mounted at ``$AZUREML_MODEL_DIR``, for score.py and
    batch_score.py; ``RuntimeError`` (the inference server's failure) when it cannot."""
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        raise RuntimeError(f"AZUREML_MODEL_DIR is not set: cannot find the model to {purpose}")
    try:
        return load(Path(root))
    except StepError as exc:
        raise RuntimeError(f"cannot load the model: {exc.message}") from None


def candidate_and_champion(load: Callable[[Path], M], candidate: Path,
                           champion: Path | None) -> tuple[M, M | None]:
    """The candidate model and, when given, the champion, each read by ``load``; a
    ``StepError`` says which of the two is unusable."""
    with prefixed("candidate model: "):
        first = load(candidate)
    with prefixed("champion model: "):
        second = load(champion) if champion is not None else None
    return first, second


def keyed_predictions(model: Predictor, frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Batch scoring's output: the ``keys`` columns of each row of ``frame`` and its prediction;
    ``ValueError`` naming the columns the rows lack."""
    missing = [c for c in [*keys, *model.spec.features] if c not in frame.columns]
    if missing:
        raise ValueError(f"the rows lack column(s) {', '.join(dict.fromkeys(missing))}")
    out = frame[keys].copy()
    out["prediction"] = model.predict(frame)
    return out


def save_model(booster: Any, spec: Spec, params: dict[str, Any], folder: Path) -> None:
    """Write the three files of a model folder."""
    write_text(folder / MODEL_FILE, booster.model_to_string())
    write_json(folder / FEATURES_FILE, spec.to_json())
    write_json(folder / PARAMS_FILE, params)


def jsonable(value: Any) -> Any:
    """A numpy or pandas scalar as plain JSON (NaN and NA as null)."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def sample_request(frame: pd.DataFrame, spec: Encoding, rows: int = 5) -> dict[str, Any]:
    """A scoring request ``{"data": [...]}`` from the first ``rows`` rows of ``frame``."""
    missing = [c for c in spec.features if c not in frame.columns]
    if missing:
        raise StepError(f"cannot build a sample request: no column(s) {', '.join(missing)}")
    head = frame[spec.features].head(rows)
    return {"data": [{k: jsonable(v) for k, v in row.items()}
                     for row in head.to_dict(orient="records")]}


def parity_sample(model: Predictor, holdout: pd.DataFrame, rows: int = 200) -> dict[str, Any]:
    """``rows`` holdout rows spread over the holdout, as a request with ``model``'s predictions."""
    if holdout.empty:
        raise StepError("cannot build the parity sample: the holdout has no rows")
    step = max(1, len(holdout) // rows)
    picked = holdout.iloc[::step].head(rows).reset_index(drop=True)
    return {"request": sample_request(picked, model.spec, rows=len(picked)),
            "predictions": [float(p) for p in model.predict(picked)], "rows": len(picked)}


def reference_predictions(model: Predictor, holdout: pd.DataFrame,
                          limit: int = 20_000) -> dict[str, Any]:
    """``model``'s predictions on at most ``limit`` holdout rows spread evenly (for a classifier:
    probabilities, so prediction drift sees a shift before it flips labels)."""
    if holdout.empty:
        raise StepError("cannot build the reference predictions: the holdout has no rows")
    step = max(1, math.ceil(len(holdout) / limit))
    predictions = model.predict(holdout.iloc[::step])
    return {"source": "holdout", "holdout_rows": len(holdout),
            "predictions": [round(float(p), 6) for p in predictions]}

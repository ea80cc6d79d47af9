"""The steel model: a LightGBM regressor of purchases, loaded from a model folder written by the
template's ``tabular.model_io`` (``model.txt``, ``features.json``, ``params.json`` and the
evidence files), whose predictions are clipped at 0: purchases cannot be negative."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tabular import model_io
from tabular.frame import FEATURES_FILE
from tabular.model_io import find_model_file, read_booster, sample_request

from steel.features import FeatureSpec, read_frame

#: With ``--reweight_by``: the holdout metric per group with and without the reweighting.
MITIGATION_FILE = "mitigation.json"


class LoadedModel(model_io.LoadedModel[FeatureSpec]):
    """The template's model (a booster with its feature spec), its predictions clipped at 0."""

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Non-negative predictions for encoded rows: purchases cannot be negative."""
        clipped: np.ndarray = np.clip(super().predict_matrix(matrix), 0.0, None)
        return clipped


def served(raw: float) -> float:
    """The prediction served for a raw model output (see :meth:`LoadedModel.predict`)."""
    return max(raw, 0.0)


def load_model(root: Path, specs: dict[bytes, FeatureSpec] | None = None) -> LoadedModel:
    """Load the model found under ``root``; ``StepError`` naming the folder when unusable.

    ``specs`` caches feature specs by their file's bytes: the thousand partition models of a
    partitioned model share one ``features.json`` text, parsed (and translated) once."""
    model_file = find_model_file(root)
    spec_file = model_file.parent / FEATURES_FILE
    cached, raw = None, b""
    if specs is not None:
        try:
            raw = spec_file.read_bytes()
        except OSError:
            raw = b""  # FeatureSpec.load names the file and the problem
        cached = specs.get(raw) if raw else None
    spec = cached or FeatureSpec.load(spec_file)
    if specs is not None and cached is None:
        specs[raw] = spec
    return LoadedModel(read_booster(model_file, spec.features), spec, model_file.parent)


def sample_request_from_files(model_dir: Path, holdout_csv: Path, rows: int = 5) -> dict[str, Any]:
    """``sample_request`` for the model under ``model_dir`` from a prep ``holdout.csv``."""
    model = load_model(model_dir)
    return sample_request(read_frame(holdout_csv, "holdout", model.spec.features), model.spec, rows)

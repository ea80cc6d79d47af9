"""Batch scoring script: Azure ML batch deployments (``init()`` / ``run(mini_batch)``) and
``mlops score batch`` (``init()`` / ``score_frame(frame)``) alike.

Rows carry the model's features, and its identifier columns when it has any; the output is one row
per input row: the time column and identifiers (in that order, as mlops reads Azure ML batch
output) and the prediction (for a classifier, the probability of the positive class).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # components/, for ``tabular``

import pandas as pd
from tabular.frame import FeatureSpec, read_frame
from tabular.model_io import LoadedModel, deployed_model, keyed_predictions, load_model

_model: LoadedModel[FeatureSpec] | None = None


def init() -> None:
    """Load the model under ``$AZUREML_MODEL_DIR``."""
    global _model
    _model = deployed_model(load_model, "score with")


def _columns() -> list[str]:
    if _model is None:
        raise RuntimeError("init() has not loaded a model")
    spec = _model.spec
    return [*([spec.time_column] if spec.time_column else []), *spec.id_columns]


def score_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The identifiers of each row and its prediction."""
    keys = _columns()
    assert _model is not None
    return keyed_predictions(_model, frame, keys)


def run(mini_batch: list[str]) -> Any:
    """Azure ML batch deployments: score the CSV files of one mini-batch."""
    text = _model.spec.text_columns if _model is not None else []
    parts = [score_frame(read_frame(Path(file), "input", [], text)) for file in mini_batch]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*_columns(), "prediction"])

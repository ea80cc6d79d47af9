"""Batch scoring script: Azure ML batch deployments (``init()`` / ``run(mini_batch)``) and
``mlops score batch`` (``init()`` / ``score_frame(frame)``, and ``preload()`` when present) alike.

Rows carry the model's features plus the forecast keys (``period`` and the series columns). Each
row is scored by its partition's model when the model is partitioned (see ``steel.partitions``);
the output is one row per input row: the keys and the prediction.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # components/, for ``steel``

import pandas as pd
from steel.features import KEYS, read_frame
from steel.partitions import PartitionedModel
from tabular.model_io import deployed_model, keyed_predictions

_model: PartitionedModel | None = None


def init() -> None:
    """Load the model under ``$AZUREML_MODEL_DIR`` (partitioned or not)."""
    global _model
    _model = deployed_model(PartitionedModel, "score with")


def preload() -> None:
    """Load every partition model now instead of on first use (``mlops score batch`` calls
    this before it forks its workers, so that they share one loaded copy; optional)."""
    if _model is None:
        raise RuntimeError("init() has not loaded a model")
    _model.load_all()


def score_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The keys of each row and its prediction."""
    if _model is None:
        raise RuntimeError("init() has not loaded a model")
    return keyed_predictions(_model, frame, KEYS)


def run(mini_batch: list[str]) -> Any:
    """Azure ML batch deployments: score the CSV files of one mini-batch."""
    parts = [score_frame(read_frame(Path(file), "input", [])) for file in mini_batch]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*KEYS, "prediction"])

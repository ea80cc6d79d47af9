"""Scoring script for ``azureml-inference-server-http`` (Azure ML online endpoints and local ones).

Request: the model's features as rows, in records or split orientation (see ``tabular.request``);
extra keys and columns are ignored, a malformed request gets a 400 naming the row and feature.

Response, one entry per row:

- regression: ``{"predictions": [value, ...]}``;
- classification: ``{"predictions": [probability, ...], "labels": [class, ...]}``, where each
  prediction is the probability of the positive class (``classes[1]`` in the model's
  ``features.json``) and each label the class it decides (positive from 0.5 on). Numbers in
  ``predictions`` keep parity checks and prediction drift meaningful for both tasks.

``"explain": true`` adds ``"explanations"``: per row the base value and each feature's SHAP
contribution (LightGBM's exact tree SHAP) and the ``space`` they are in: the target's units for a
regressor, the log-odds of the positive class for a classifier.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# The server imports this file by path: make the shared `tabular` package (one level up, in
# components/, the folder deployed as the code) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tabular.collect import AzureMLCollector, Collector
from tabular.explain import contributions, endpoint_explanations
from tabular.frame import FeatureSpec
from tabular.model_io import LoadedModel, deployed_model, load_model
from tabular.request import BadRequest, RequestDecoder, bad_request, json_answer, read_scoring_request

_model: LoadedModel[FeatureSpec] | None = None
_decoder: RequestDecoder | None = None
_collector: Collector | AzureMLCollector | None = None


def init() -> None:
    """Load the model under ``$AZUREML_MODEL_DIR`` (searched recursively: Azure ML mounts a
    model one folder deeper)."""
    global _model, _decoder, _collector
    _model = deployed_model(load_model, "serve")
    _decoder = RequestDecoder(_model.spec)
    # Off unless MLOPS_COLLECT_DIR (local) or MLOPS_COLLECT_AZUREML (Azure ML) is set.
    _collector = Collector.from_env() or AzureMLCollector.from_env()


def run(raw_data: Any) -> Any:
    """Predict each row of the request (see the module docstring for the answer's shape)."""
    if _model is None or _decoder is None:
        raise RuntimeError("init() has not loaded a model")
    try:
        request = read_scoring_request(raw_data, _decoder)
    except BadRequest as exc:
        return bad_request(str(exc))
    values = _model.predict_matrix(request.matrix)
    predictions = values.tolist()
    if _collector is not None and isinstance(raw_data, str | bytes | bytearray):
        _collector.record(raw_data, predictions, decoded=request.body)
    answer: dict[str, Any] = {"predictions": predictions}
    if _model.spec.task == "classification":
        answer["labels"] = _model.labels(values)
    if request.explain:
        answer["explanations"] = endpoint_explanations(_model.spec,
                                                       contributions(_model.booster, request.matrix))
    return json_answer(answer)

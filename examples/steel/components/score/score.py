"""Scoring script for ``azureml-inference-server-http`` (Azure ML online endpoints and local ones).

Request, either orientation, with the model's features (categoricals as their text, e.g.
``"customer_id": "CUST-0001"``; numbers as JSON numbers; null for missing):

- records: ``{"data": [{<feature>: value, ...}, ...]}``
- split (pandas' "split" orientation, columnar and about 2.5x smaller on the wire):
  ``{"columns": [<feature>, ...], "data": [[value, ...], ...]}``, also accepted wrapped as
  ``{"dataframe_split": {...}}`` (MLflow clients) or ``{"input_data": {...}}`` (Azure ML clients).

Extra keys or columns are ignored. Response: ``{"predictions": [float, ...]}``, one per row. A
malformed request gets a 400 with a one-sentence reason naming the row and feature, never a 500.

``"explain": true`` in the request (off by default: it costs about a prediction's time again)
adds ``"explanations"``: per row the base value, each feature's SHAP contribution and their
``space``, from LightGBM's exact tree SHAP in the model's raw output space (they add up to the
prediction before it is clipped at 0).

Speed: ``tabular.request`` (shared with the generic template) turns the rows straight from JSON
into the model's float matrix, encoded exactly as ``tabular.frame.encode`` encodes a frame, so
predictions equal ``LoadedModel.predict``'s bit for bit;
tests/integration/components/test_score_fast_path.py checks it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# The server imports this file by path, so only its own folder is importable; the shared
# `steel` package lives one level up, in components/ (deploy that folder as the code).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from steel.model_io import LoadedModel
from steel.partitions import PartitionedModel
from tabular.collect import AzureMLCollector, Collector
from tabular.explain import contributions, endpoint_explanations
from tabular.model_io import deployed_model
from tabular.request import BadRequest, RequestDecoder, bad_request, json_answer, read_scoring_request

_model: LoadedModel | None = None
#: Many models: routes each row to its partition's model (None for a single model).
_router: PartitionedModel | None = None
_decoder: RequestDecoder | None = None
_collector: Collector | AzureMLCollector | None = None


def init() -> None:
    """Load the model under ``$AZUREML_MODEL_DIR`` (searched recursively, as Azure ML mounts
    models at ``$AZUREML_MODEL_DIR/<folder>/...``)."""
    global _model, _decoder, _collector, _router
    router = deployed_model(PartitionedModel, "serve")  # the global model, and partitions if any
    _model = router.global_model
    _router = router if router.index is not None else None
    _decoder = RequestDecoder(_model.spec)
    # Off unless MLOPS_COLLECT_DIR (local) or MLOPS_COLLECT_AZUREML (Azure ML) is set.
    _collector = Collector.from_env() or AzureMLCollector.from_env()


def explain(model: LoadedModel, router: PartitionedModel | None,
            matrix: np.ndarray) -> list[dict[str, Any]]:
    """Per row: the base value, every feature's contribution and their space (raw output)."""
    contrib = (router.contributions_matrix(matrix) if router is not None
               else contributions(model.booster, matrix))
    return endpoint_explanations(model.spec, contrib)


def run(raw_data: Any) -> Any:
    """Predict purchases (tonnes) for each row of the request."""
    if _model is None or _decoder is None:
        raise RuntimeError("init() has not loaded a model")
    try:
        request = read_scoring_request(raw_data, _decoder)
    except BadRequest as exc:
        return bad_request(str(exc))
    predictions = (_router if _router is not None else _model).predict_matrix(request.matrix).tolist()
    if _collector is not None and isinstance(raw_data, str | bytes | bytearray):
        _collector.record(raw_data, predictions, decoded=request.body)
    answer: dict[str, Any] = {"predictions": predictions}
    if request.explain:
        answer["explanations"] = explain(_model, _router, request.matrix)
    return json_answer(answer)

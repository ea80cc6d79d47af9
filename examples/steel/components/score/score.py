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
adds ``"explanations"``: per row the base value and each feature's SHAP contribution, from
LightGBM's exact tree SHAP in the model's raw output space (they add up to the prediction before
it is clipped at 0).

Speed: ``tabular.request`` (shared with the generic template) turns the rows straight from JSON
into the model's float matrix. Its encoding must stay exactly ``steel.features.encode``'s, so
predictions equal ``LoadedModel.predict``'s bit for bit;
tests/integration/components/test_score_fast_path.py checks it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# The server imports this file by path, so only its own folder is importable; the shared
# `steel` package lives one level up, in components/ (deploy that folder as the code).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from steel.cli import StepError
from steel.explain import contributions
from steel.model_io import LoadedModel
from steel.partitions import PartitionedModel
from tabular.collect import AzureMLCollector, Collector
from tabular.request import BadRequest, RequestDecoder, decode_json, parse_request

try:
    from azureml_inference_server_http.api.aml_response import AMLResponse
except ImportError:  # running outside the inference server, e.g. in a plain Python session
    AMLResponse = None

_model: LoadedModel | None = None
#: Many models: routes each row to its partition's model (None for a single model).
_router: PartitionedModel | None = None
_decoder: RequestDecoder | None = None
_collector: Collector | AzureMLCollector | None = None


def init() -> None:
    """Load the model under ``$AZUREML_MODEL_DIR`` (searched recursively, as Azure ML mounts
    models at ``$AZUREML_MODEL_DIR/<folder>/...``)."""
    global _model, _decoder, _collector, _router
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: cannot find the model to serve")
    try:
        router = PartitionedModel(Path(root))  # the global model, and partitions if any
        _model = router.global_model
        _router = router if router.index is not None else None
    except StepError as exc:
        raise RuntimeError(f"cannot load the model: {exc.message}") from None
    _decoder = RequestDecoder(_model.spec)
    # Off unless MLOPS_COLLECT_DIR (local) or MLOPS_COLLECT_AZUREML (Azure ML) is set.
    _collector = Collector.from_env() or AzureMLCollector.from_env()


def predict(model: LoadedModel, matrix: np.ndarray) -> np.ndarray:
    """``LoadedModel.predict`` minus its pandas encoding, which ``RequestDecoder`` has done."""
    predictions = np.asarray(model.booster.predict(matrix), dtype="float64")
    clipped: np.ndarray = np.clip(predictions, 0.0, None)  # as LoadedModel.predict: no negatives
    return clipped


def _bad_request(message: str) -> Any:
    if AMLResponse is None:
        raise ValueError(message)
    return AMLResponse({"error": message}, 400, json_str=True)


def explain(model: LoadedModel, router: PartitionedModel | None,
            matrix: np.ndarray) -> list[dict[str, Any]]:
    """Per row: the base value and every feature's contribution (raw output space)."""
    contrib = (router.contributions_matrix(matrix) if router is not None
               else contributions(model.booster, matrix))
    names = model.spec.features
    return [{"base_value": float(row[-1]),
             "contributions": dict(zip(names, map(float, row[:-1]), strict=True))}
            for row in contrib]


def run(raw_data: Any) -> Any:
    """Predict purchases (tonnes) for each row of the request."""
    if _model is None or _decoder is None:
        raise RuntimeError("init() has not loaded a model")
    try:
        body = decode_json(raw_data) if isinstance(raw_data, str | bytes | bytearray) else raw_data
        matrix = parse_request(body, _decoder)
        wanted = body.get("explain", False) if isinstance(body, dict) else False
        if not isinstance(wanted, bool):
            raise BadRequest(f'"explain" must be true or false, not {json.dumps(wanted)[:60]}')
    except BadRequest as exc:
        return _bad_request(str(exc))
    predictions = (_router.predict_matrix(matrix) if _router is not None
                   else predict(_model, matrix)).tolist()
    if _collector is not None and isinstance(raw_data, str | bytes | bytearray):
        _collector.record(raw_data, predictions)
    if wanted:
        return {"predictions": predictions, "explanations": explain(_model, _router, matrix)}
    return {"predictions": predictions}

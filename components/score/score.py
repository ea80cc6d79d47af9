"""Scoring script for ``azureml-inference-server-http`` (Azure ML online endpoints and local ones).

Request:  ``{"data": [{<feature>: value, ...}, ...]}`` with the model's features, categoricals as
their text (e.g. ``"customer_id": "CUST-0001"``) and numbers as JSON numbers or null.
Response: ``{"predictions": [float, ...]}``, one per row. A malformed request gets a 400 with a
one-sentence reason, never a 500.
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

import pandas as pd
from steel.cli import StepError
from steel.model_io import LoadedModel, load_model

try:
    from azureml_inference_server_http.api.aml_response import AMLResponse
except ImportError:  # running outside the inference server, e.g. in a plain Python session
    AMLResponse = None

MAX_ROWS = 10_000
_model: LoadedModel | None = None


class BadRequest(ValueError):
    """The request cannot be scored; the message says why."""


def init() -> None:
    """Load the model under ``$AZUREML_MODEL_DIR`` (searched recursively, as Azure ML mounts
    models at ``$AZUREML_MODEL_DIR/<folder>/...``)."""
    global _model
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: cannot find the model to serve")
    try:
        _model = load_model(Path(root))
    except StepError as exc:
        raise RuntimeError(f"cannot load the model: {exc.message}") from None


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def parse_request(raw: Any, model: LoadedModel) -> pd.DataFrame:
    """The request's rows as a frame of the model's features; ``BadRequest`` when malformed."""
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"the request body is not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise BadRequest('the request must be a JSON object with a "data" list of rows')
    rows = raw["data"]
    if not rows:
        raise BadRequest('"data" is empty: send at least one row')
    if len(rows) > MAX_ROWS:
        raise BadRequest(f'"data" has {len(rows)} rows; at most {MAX_ROWS} per request')
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(f"data[{index}] is not an object of feature values")
        missing = [f for f in model.spec.features if f not in row]
        if missing:
            raise BadRequest(f"data[{index}] lacks feature(s) {', '.join(missing)}")
    for name in model.spec.features:
        accepts = _is_text if name in model.spec.categorical_features else _is_number
        for index, row in enumerate(rows):
            if not accepts(row[name]):
                kind = "text" if accepts is _is_text else "a number"
                raise BadRequest(f"data[{index}].{name} must be {kind} or null, "
                                 f"not {json.dumps(row[name])[:60]}")
    return pd.DataFrame.from_records([{f: row[f] for f in model.spec.features} for row in rows])


def _bad_request(message: str) -> Any:
    if AMLResponse is None:
        raise ValueError(message)
    return AMLResponse({"error": message}, 400, json_str=True)


def run(raw_data: Any) -> Any:
    """Predict purchases (tonnes) for each row of the request."""
    if _model is None:
        raise RuntimeError("init() has not loaded a model")
    try:
        frame = parse_request(raw_data, _model)
    except BadRequest as exc:
        return _bad_request(str(exc))
    return {"predictions": [float(p) for p in _model.predict(frame)]}

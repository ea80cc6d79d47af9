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

Speed: the rows go straight from JSON to the model's float matrix with per-column numpy work, and
never through a pandas frame (building and encoding one costs ~5 ms even for a single row). The
encoding must stay exactly ``steel.features.encode``'s, so predictions equal
``LoadedModel.predict``'s bit for bit; tests/integration/components/test_score_fast_path.py checks it.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from types import NoneType
from typing import Any

# The server imports this file by path, so only its own folder is importable; the shared
# `steel` package lives one level up, in components/ (deploy that folder as the code).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from steel.cli import StepError
from steel.collect import AzureMLCollector, Collector
from steel.explain import contributions
from steel.features import FeatureSpec
from steel.model_io import LoadedModel
from steel.partitions import PartitionedModel

try:  # ~3x faster than the stdlib on a 1,000-row body; optional, so the stdlib is the fallback
    import orjson
except ImportError:
    orjson = None  # type: ignore[assignment]

try:
    from azureml_inference_server_http.api.aml_response import AMLResponse
except ImportError:  # running outside the inference server, e.g. in a plain Python session
    AMLResponse = None

MAX_ROWS = 10_000
_NUMBER_TYPES = frozenset({int, float, NoneType})
_TEXT_TYPES = frozenset({str, NoneType})
_SHAPE = ('the request must be a JSON object with a "data" list of rows: records '
          '{"data": [{feature: value, ...}]} or split {"columns": [...], "data": [[...]]}')
_model: LoadedModel | None = None
#: Many models: routes each row to its partition's model (None for a single model).
_router: PartitionedModel | None = None
_decoder: RequestDecoder | None = None
_collector: Collector | AzureMLCollector | None = None


class BadRequest(ValueError):
    """The request cannot be scored; the message says why."""


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


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def decode_json(raw: str | bytes | bytearray) -> Any:
    """The JSON document in ``raw``; ``BadRequest`` when it is not JSON."""
    if orjson is not None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            # The stdlib decides and words the error: it also takes what orjson refuses (NaN,
            # integers beyond 64 bits, invalid UTF-8 replaced), so both paths accept the same bodies.
            pass
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes | bytearray) else raw
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"the request body is not valid JSON ({exc})") from None


class RequestDecoder:
    """Turns a decoded request body into the model's float matrix, one column per feature."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.features = list(spec.features)
        self.text = [name in spec.categorical_features for name in self.features]
        # Category index as float, the code steel.features.encode gives; unknown text -> NaN.
        self.lookups = {name: {value: float(i) for i, value in enumerate(spec.categories[name])}
                        for name in spec.categorical_features}
        self._pick: Callable[[Any], Any] = itemgetter(*self.features)

    def matrix(self, body: Any) -> np.ndarray:
        """The rows of ``body`` (decoded JSON, either orientation); ``BadRequest`` when malformed."""
        if not isinstance(body, dict):
            raise BadRequest(_SHAPE)
        for wrapper in ("dataframe_split", "input_data"):
            if wrapper in body and "data" not in body:
                inner = body[wrapper]
                if not isinstance(inner, dict) or "columns" not in inner:
                    raise BadRequest(f'"{wrapper}" must be an object with "columns" and "data" '
                                     "(the split orientation)")
                return self._split(inner, f"{wrapper}.data")
        if "columns" in body:
            return self._split(body, "data")
        return self._records(body)

    # -- the two orientations --------------------------------------------------------------------
    def _rows(self, body: dict[str, Any], where: str) -> list[Any]:
        rows = body.get("data")
        if not isinstance(rows, list):
            raise BadRequest(_SHAPE)
        if not rows:
            raise BadRequest(f'"{where}" is empty: send at least one row')
        if len(rows) > MAX_ROWS:
            raise BadRequest(f'"{where}" has {len(rows)} rows; at most {MAX_ROWS} per request')
        return rows

    def _records(self, body: dict[str, Any]) -> np.ndarray:
        rows = self._rows(body, "data")
        if set(map(type, rows)) != {dict}:
            self._explain_records(rows)  # raises, unless the rows are dict subclasses
        try:
            # C-level passes: a tuple of the features per row, then transposed to columns.
            columns: Sequence[Sequence[Any]] = (list(zip(*map(self._pick, rows), strict=True))
                                                if len(self.features) > 1
                                                else [[row[self.features[0]] for row in rows]])
        except KeyError:
            self._explain_records(rows)
            raise  # not reached: the scan finds the row lacking a feature and raises BadRequest
        return self._to_matrix(columns, len(rows), lambda i, name: f"data[{i}].{name}")

    def _explain_records(self, rows: list[Any]) -> None:
        # The slow row-by-row scan, only on a failed request, so the message names the first
        # faulty row exactly as it always has.
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise BadRequest(f"data[{index}] is not an object of feature values")
            missing = [f for f in self.features if f not in row]
            if missing:
                raise BadRequest(f"data[{index}] lacks feature(s) {', '.join(missing)}")

    def _split(self, body: dict[str, Any], where: str) -> np.ndarray:
        names = body.get("columns")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadRequest(f'"columns" must be a list of feature names, in the order of the values '
                             f'in each row of "{where}"')
        position = {name: i for i, name in enumerate(names)}
        if len(position) != len(names):
            twice = next(n for i, n in enumerate(names) if position[n] != i)
            raise BadRequest(f'"columns" names "{twice}" more than once')
        missing = [f for f in self.features if f not in position]
        if missing:
            raise BadRequest(f'"columns" lacks feature(s) {", ".join(missing)}')
        rows = self._rows(body, where)
        width = len(names)
        if set(map(type, rows)) != {list} or set(map(len, rows)) != {width}:
            for index, row in enumerate(rows):
                if not isinstance(row, list):
                    raise BadRequest(f"{where}[{index}] is not a list of values in \"columns\" order")
                if len(row) != width:
                    raise BadRequest(f'{where}[{index}] has {len(row)} value(s) but "columns" names {width}')
        every = list(zip(*rows, strict=True))
        columns = [every[position[name]] for name in self.features]
        return self._to_matrix(columns, len(rows),
                               lambda i, name: f'{where}[{i}][{position[name]}] ("{name}")')

    # -- per column, vectorised ------------------------------------------------------------------
    def _to_matrix(self, columns: Sequence[Sequence[Any]], n_rows: int,
                   label: Callable[[int, str], str]) -> np.ndarray:
        matrix = np.empty((n_rows, len(self.features)), dtype=np.float64)
        for j, (name, is_text, values) in enumerate(zip(self.features, self.text, columns, strict=True)):
            allowed = _TEXT_TYPES if is_text else _NUMBER_TYPES
            if not set(map(type, values)) <= allowed:
                # An exotic but acceptable value (an int or float subclass) passes the exact test.
                _check_column(values, name, is_text, label)
            if is_text:
                lookup = self.lookups[name]
                matrix[:, j] = np.fromiter(map(lookup.get, values, repeat(math.nan)),
                                           dtype=np.float64, count=n_rows)
            else:
                try:
                    matrix[:, j] = np.array(values, dtype=np.float64)  # None -> NaN
                except OverflowError:
                    index = next(i for i, v in enumerate(values) if v is not None and _overflows(v))
                    raise BadRequest(f"{label(index, name)} is too large for a number") from None
        return matrix


def _check_column(values: Sequence[Any], name: str, is_text: bool,
                  label: Callable[[int, str], str]) -> None:
    accepts = _is_text if is_text else _is_number
    for index, value in enumerate(values):
        if not accepts(value):
            kind = "text" if is_text else "a number"
            raise BadRequest(f"{label(index, name)} must be {kind} or null, not {json.dumps(value)[:60]}")


def _overflows(value: Any) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False


def parse_request(raw: Any, decoder: RequestDecoder) -> np.ndarray:
    """The request (a JSON text, its bytes, or the decoded object) as the model's float matrix."""
    body = decode_json(raw) if isinstance(raw, str | bytes | bytearray) else raw
    return decoder.matrix(body)


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

"""components/score/score.py's fast request path: both body orientations give predictions equal,
bit for bit, to ``LoadedModel.predict`` on a pandas frame of the same rows, and malformed
columnar bodies get a 400 that names the row and the column."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest


@pytest.fixture
def score(load_score: Callable[..., ModuleType], trained: dict[str, Path]) -> ModuleType:
    """score.py loaded as the server loads it, over the trained model, init() done."""
    return load_score(trained["model"], "steel_score_fast_path")


@pytest.fixture
def parity(trained: dict[str, Path]) -> dict[str, Any]:
    parity: dict[str, Any] = json.loads((trained["model"] / "parity.json").read_text(encoding="utf-8"))
    return parity


def _awkward(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with what real callers send: unknown and missing categories, nulls, integers
    where floats were, so the fast encoding is checked where it could differ from pandas'."""
    out = copy.deepcopy(rows)
    out[0]["customer_id"] = "CUST-NEVER-SEEN"
    out[1]["lag_1"] = None
    out[2]["segment"] = None
    out[3]["price_eur_per_tonne"] = int(out[3]["price_eur_per_tonne"] or 700)
    for row in out[5:25]:
        row["lag_12"] = None
    return out


def _split(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
    return {"columns": columns, "data": [[row.get(c) for c in columns] for row in rows]}


def _error(response: Any) -> str:
    assert response.status_code == 400
    message: str = json.loads(response.get_data(as_text=True))["error"]
    return message


def test_records_reproduce_the_parity_sample_exactly(score: ModuleType, parity: dict[str, Any]) -> None:
    assert score.run(json.dumps(parity["request"]))["predictions"] == parity["predictions"]


@pytest.mark.parametrize("decoder", ["orjson-if-installed", "stdlib"])
def test_both_orientations_equal_loaded_model_predict_bit_for_bit(
    score: ModuleType, parity: dict[str, Any], decoder: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if decoder == "stdlib":
        # The decoding is tabular.request's, which score.py imports.
        monkeypatch.setattr(sys.modules["tabular.request"], "orjson", None)
    rows = _awkward(parity["request"]["data"])
    features = list(score._model.spec.features)
    offline = score._model.predict(pd.DataFrame.from_records(rows)).tolist()

    records = score.run(json.dumps({"data": rows}))["predictions"]
    # Columns in another order than the model's, plus one it does not use: both are fine.
    columns = [*features[::-1], "note"]
    split = score.run(json.dumps(_split(rows, columns)))["predictions"]
    indexed = {**_split(rows, features), "index": list(range(len(rows)))}
    wrapped = score.run(json.dumps({"dataframe_split": indexed}))
    azure = score.run(json.dumps({"input_data": _split(rows, features)}).encode())

    assert records == offline
    assert split == offline
    assert wrapped["predictions"] == offline
    assert azure["predictions"] == offline


def test_a_single_row_and_a_decoded_body_are_scored_the_same(score: ModuleType,
                                                             parity: dict[str, Any]) -> None:
    row = parity["request"]["data"][7]
    expected = parity["predictions"][7]
    features = list(score._model.spec.features)
    assert score.run(json.dumps({"data": [row]}))["predictions"] == [expected]
    assert score.run(_split([row], features))["predictions"] == [expected]  # already decoded


def _columnar(parity: dict[str, Any], features: list[str], case: str) -> Any:
    body = _split(parity["request"]["data"][:4], features)
    where = {f: i for i, f in enumerate(features)}
    if case == "columns-not-list":
        body["columns"] = "customer_id,material_id"
    elif case == "missing-column":
        drop = where["lag_1"]
        body = {"columns": [f for f in features if f != "lag_1"],
                "data": [row[:drop] + row[drop + 1:] for row in body["data"]]}
    elif case == "duplicate-column":
        body["columns"] = [*features, "lag_2"]
        body["data"] = [[*row, 1.0] for row in body["data"]]
    elif case == "short-row":
        body["data"][2] = body["data"][2][:-1]
    elif case == "row-not-list":
        body["data"][1] = {"customer_id": "CUST-0001"}
    elif case == "text-for-number":
        body["data"][3][where["price_eur_per_tonne"]] = "expensive"
    elif case == "number-for-text":
        body["data"][0][where["customer_id"]] = 17
    elif case == "bool-for-number":
        body["data"][2][where["promotion"]] = True
    elif case == "empty":
        body["data"] = []
    elif case == "wrapped-not-split":
        body = {"dataframe_split": [[1, 2]]}
    return body


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("columns-not-list", '"columns" must be a list of feature names'),
        ("missing-column", '"columns" lacks feature(s) lag_1'),
        ("duplicate-column", '"columns" names "lag_2" more than once'),
        ("short-row", 'data[2] has {n_1} value(s) but "columns" names {n}'),
        ("row-not-list", 'data[1] is not a list of values in "columns" order'),
        ("text-for-number", '("price_eur_per_tonne") must be a number or null, not "expensive"'),
        ("number-for-text", '("customer_id") must be text or null, not 17'),
        ("bool-for-number", '("promotion") must be a number or null, not true'),
        ("empty", '"data" is empty'),
        ("wrapped-not-split", '"dataframe_split" must be an object with "columns" and "data"'),
    ],
)
def test_bad_columnar_bodies_get_a_400_naming_row_and_column(
    score: ModuleType, parity: dict[str, Any], case: str, says: str,
) -> None:
    features = list(score._model.spec.features)
    message = _error(score.run(json.dumps(_columnar(parity, features, case))))
    assert says.format(n=len(features), n_1=len(features) - 1) in message
    assert "\n" not in message and "Traceback" not in message
    if case in ("text-for-number", "number-for-text", "bool-for-number"):
        row = {"text-for-number": 3, "number-for-text": 0, "bool-for-number": 2}[case]
        assert message.startswith(f"data[{row}][")  # the row, then the column's position


def test_records_errors_name_the_first_faulty_row_as_before(score: ModuleType,
                                                            parity: dict[str, Any]) -> None:
    rows = copy.deepcopy(parity["request"]["data"][:5])
    rows[3]["lag_2"] = "n/a"  # a type fault in a later row...
    del rows[4]["lag_1"]      # ...and a missing feature: the missing one is reported first
    assert _error(score.run(json.dumps({"data": rows}))) == "data[4] lacks feature(s) lag_1"
    rows[4]["lag_1"] = 1.0
    assert _error(score.run(json.dumps({"data": rows}))) == \
        'data[3].lag_2 must be a number or null, not "n/a"'
    rows[0]["lag_1"] = 10**400  # valid JSON, but no float holds it
    assert "data[0].lag_1 is too large" in _error(score.run(json.dumps({"data": rows})))


def test_the_stdlib_decides_what_orjson_refuses(score: ModuleType, parity: dict[str, Any]) -> None:
    # NaN is not JSON but Python's json (and so the server before orjson) accepts it as missing.
    row = dict(parity["request"]["data"][0], lag_1=None)
    with_null = score.run(json.dumps({"data": [row]}))["predictions"]
    assert score.run(json.dumps({"data": [dict(row, lag_1=float("nan"))]}))["predictions"] == with_null
    assert "not valid JSON" in _error(score.run(b"{\"data\": [\xff"))


def test_split_body_through_the_inference_server(
    through_server: Callable[[str, Path, Any], Any], trained: dict[str, Path], parity: dict[str, Any]
) -> None:
    features = json.loads((trained["model"] / "features.json").read_text(encoding="utf-8"))["features"]
    rows = parity["request"]["data"][:20]
    bad = _split(rows, features)
    bad["data"][5][features.index("customer_id")] = 3.5
    bodies = [json.dumps(_split(rows, features)), json.dumps({"dataframe_split": _split(rows, features)}),
              json.dumps(bad), "[" * 100_000]
    out = through_server(
        "out = [[r.status_code, r.get_json()] for r in\n"
        "       (client.post('/score', data=body, content_type='application/json') for body in payload)]",
        trained["model"], bodies)
    (split, wrapped, wrong, deep) = out
    assert deep == [400, {"error": "the request body nests arrays or objects too deeply to be a "
                                   "scoring request"}]
    assert split == [200, {"predictions": parity["predictions"][:20]}]
    assert wrapped == split
    column = features.index("customer_id")
    assert wrong[0] == 400
    assert wrong[1]["error"] == f'data[5][{column}] ("customer_id") must be text or null, not 3.5'

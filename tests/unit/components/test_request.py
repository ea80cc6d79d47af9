"""components/tabular/request.py: JSON bodies to the model's matrix, and the answers it gives."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "components"))

import tabular.request as tabular_request
from tabular.request import TOO_DEEP, BadRequest, RequestDecoder, decode_json


@dataclass(frozen=True)
class Spec:
    features: list[str] = field(default_factory=lambda: ["x", "colour"])
    categorical_features: list[str] = field(default_factory=lambda: ["colour"])
    categories: dict[str, list[str]] = field(default_factory=lambda: {"colour": ["red", "blue"]})


@pytest.fixture(params=["orjson-if-installed", "stdlib"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The request module, with orjson or (hidden) with the stdlib's json alone."""
    if request.param == "stdlib":
        monkeypatch.setattr(tabular_request, "orjson", None)
    return tabular_request


@pytest.mark.parametrize("body", ["[" * 100_000, "[" * 5_000 + "]" * 5_000,
                                  '{"data": [' + '{"x": ' * 3_000 + "1" + "}" * 3_000 + "]}"])
def test_a_body_nested_beyond_the_parser_is_a_bad_request(parser: ModuleType, body: str) -> None:
    for raw in (body, body.encode()):
        with pytest.raises(BadRequest) as refused:
            decode_json(raw)
        assert str(refused.value) == TOO_DEEP


def test_sane_nesting_still_decodes(parser: ModuleType) -> None:
    # 64 levels parse; the decoder then refuses the shape with its own sentence.
    deep = "[" * 64 + "]" * 64
    assert decode_json(deep) == json.loads(deep)
    with pytest.raises(BadRequest, match="must be a JSON object"):
        RequestDecoder(Spec()).matrix(decode_json(deep))


def _nested(levels: int) -> Any:
    value: Any = 1.0
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(("value", "shown"), [(_nested(100_000), "a list"), ({"a": 1}, "an object"),
                                              ("1.5", '"1.5"'), (True, "true")])
def test_a_wrong_value_is_named_without_encoding_containers(value: Any, shown: str) -> None:
    for body in ({"data": [{"x": 1.0, "colour": "red"}, {"x": value, "colour": "red"}]},
                 {"columns": ["colour", "x"], "data": [["red", 1.0], ["red", value]]}):
        with pytest.raises(BadRequest) as refused:
            RequestDecoder(Spec()).matrix(body)
        assert str(refused.value).endswith(f"must be a number or null, not {shown}")
        assert str(refused.value).startswith("data[1]")


def test_both_orientations_give_one_row_major_matrix() -> None:
    decoder = RequestDecoder(Spec())
    rows = [{"x": 1, "colour": "blue"}, {"x": None, "colour": "green"}, {"x": 2.5, "colour": None}]
    expected = np.array([[1.0, 1.0], [np.nan, np.nan], [2.5, np.nan]])
    for body in ({"data": rows},
                 {"columns": ["colour", "x", "extra"], "data": [[r["colour"], r["x"], 0] for r in rows]}):
        matrix = decoder.matrix(body)
        assert matrix.flags.c_contiguous and matrix.dtype == np.float64
        np.testing.assert_array_equal(matrix, expected)


def test_read_scoring_request_keeps_the_decoded_body() -> None:
    read = tabular_request.read_scoring_request('{"data": [{"x": 1, "colour": "red"}], "explain": true}',
                                        RequestDecoder(Spec()))
    assert read.body == {"data": [{"x": 1, "colour": "red"}], "explain": True}
    assert read.explain is True and read.matrix.tolist() == [[1.0, 0.0]]


def test_the_answer_is_encoded_only_inside_the_server() -> None:
    flask = pytest.importorskip("flask")
    answer = {"predictions": [0.1, 2.5e-07, 1e16], "labels": ["a", "b", "c"]}
    assert tabular_request.json_answer(answer) is answer  # a plain call: the dict
    with flask.Flask(__name__).test_request_context("/score", method="POST"):
        response = tabular_request.json_answer(answer)
    if tabular_request.orjson is None:  # without orjson the server's own json.dumps encodes it
        assert response is answer
        return
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.get_data()) == answer

"""The generic template's components/score/score.py over a tiny classifier: labels, the answer
the inference server sends, collection and a body nested too deeply."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

TEMPLATE = Path(__file__).resolve().parents[3] / "components"
SCORE = TEMPLATE / "score" / "score.py"


@pytest.fixture
def score(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """score.py loaded by path over a 5-tree classifier of ``x`` and ``colour``, init() done,
    collecting into ``tmp_path / "collected"``."""
    sys.path.insert(0, str(TEMPLATE))
    import lightgbm as lgb
    from tabular.frame import FeatureSpec
    from tabular.model_io import save_model

    rng = np.random.default_rng(1)
    matrix = np.column_stack([rng.normal(size=400), rng.integers(0, 2, 400)])
    label = (matrix[:, 0] + matrix[:, 1] > 0.5).astype(float)
    params = {"objective": "binary", "verbose": -1, "min_data_in_leaf": 5, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(matrix, label, feature_name=["x", "colour"]), 5)
    spec = FeatureSpec(task="classification", target="y", features=["x", "colour"],
                       categorical_features=["colour"], categories={"colour": ["red", "blue"]},
                       classes=["no", "yes"])
    (tmp_path / "model").mkdir()
    save_model(booster, spec, params, tmp_path / "model")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("MLOPS_COLLECT_DIR", str(tmp_path / "collected"))
    loaded = importlib.util.spec_from_file_location("template_score_under_test", SCORE)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    module.init()
    return module


ROWS = [{"x": 2.0, "colour": "blue"}, {"x": -2.0, "colour": "red"}, {"x": None, "colour": "green"}]


def _collected(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.read_bytes().splitlines()]


def test_labels_follow_the_probabilities_and_requests_are_collected(score: ModuleType,
                                                                   tmp_path: Path) -> None:
    body = json.dumps({"data": ROWS})
    answer = score.run(body)
    assert answer["labels"] == ["yes" if p >= 0.5 else "no" for p in answer["predictions"]]
    assert answer["labels"][:2] == ["yes", "no"]
    score.run(json.dumps({"data": ROWS, "mlops_probe": "qa"}))  # the tool's own: not collected
    assert [(r["request"], r["predictions"]) for r in _collected(tmp_path / "collected")] == [
        ({"data": ROWS}, answer["predictions"])]


def test_inside_the_server_the_answer_is_sent_as_encoded(score: ModuleType) -> None:
    from flask import Flask, Response

    plain = score.run(json.dumps({"columns": ["colour", "x"], "data": [[r["colour"], r["x"]] for r in ROWS]}))
    with Flask(__name__).test_request_context("/score", method="POST"):
        sent = score.run(json.dumps({"data": ROWS}))
    assert isinstance(sent, Response) and sent.status_code == 200
    assert sent.mimetype == "application/json" and json.loads(sent.get_data()) == plain


@pytest.mark.parametrize("body", ["[" * 100_000, '{"data": [' + '{"x": ' * 5_000 + "1" + "}" * 5_000 + "]}"])
def test_a_body_nested_too_deeply_gets_one_sentence_400(score: ModuleType, body: str) -> None:
    refused = score.run(body)
    assert refused.status_code == 400
    message = json.loads(refused.get_data())["error"]
    assert message == "the request body nests arrays or objects too deeply to be a scoring request"

"""Explanations (LightGBM's tree SHAP) from the evaluate step and from score.py, and the train
step's reweighting mitigation."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.integration.components.conftest import COMPONENTS, RunComponent

sys.path.insert(0, str(COMPONENTS))
from steel.explain import contributions, explanations
from steel.features import encode, read_frame
from steel.model_io import load_model


def _holdout(trained: dict[str, Path]) -> pd.DataFrame:
    return read_frame(trained["prepared"] / "holdout.csv", "holdout", [])


def test_contributions_add_up_to_the_raw_prediction(trained: dict[str, Path]) -> None:
    model = load_model(trained["model"])
    matrix = encode(_holdout(trained), model.spec)
    contrib = contributions(model.booster, matrix)
    assert contrib.shape == (len(matrix), len(model.spec.features) + 1)
    raw = model.booster.predict(matrix, raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=1e-9, atol=1e-6)
    # The base value is one number: the model's expected raw output.
    assert np.ptp(contrib[:, -1]) == pytest.approx(0.0)


def test_contributions_match_shap_tree_explainer(trained: dict[str, Path]) -> None:
    shap = pytest.importorskip("shap", reason="shap (the peer) is not installed")
    model = load_model(trained["model"])
    matrix = encode(_holdout(trained), model.spec).head(200)
    ours = contributions(model.booster, matrix)
    theirs = shap.TreeExplainer(model.booster).shap_values(matrix)
    np.testing.assert_allclose(ours[:, :-1], theirs, rtol=1e-6, atol=1e-6)


def test_explanations_rank_features_and_keep_a_summary(trained: dict[str, Path]) -> None:
    model = load_model(trained["model"])
    holdout = _holdout(trained)
    found = explanations(model, holdout)
    features = model.spec.features
    assert set(found["gain"]) == set(found["mean_abs_shap"]) == set(features)
    # The recent volume drives a purchase forecast more than the calendar quarter.
    assert found["mean_abs_shap"]["lag_1"] > found["mean_abs_shap"]["quarter"]
    matrix = encode(holdout, model.spec)
    expected = np.abs(contributions(model.booster, matrix)[:, :-1]).mean(axis=0)
    assert [found["mean_abs_shap"][f] for f in features] == pytest.approx(expected.tolist())
    summary = found["summary"]["price_eur_per_tonne"]
    assert len(summary["values"]) == len(summary["shap"]) == min(300, len(holdout))
    assert all(v is None or 0.0 <= v <= 1.0 for v in summary["values"])
    assert set(found["summary"]["segment"]["values"]) == {None}  # categorical: no scale
    example = found["examples"][0]
    assert len(example["contributions"]) == 8  # the largest, by magnitude
    sizes = [abs(v) for v in example["contributions"].values()]
    assert sizes == sorted(sizes, reverse=True)
    assert example["prediction"] == max(example["raw_prediction"], 0.0)
    json.dumps(found, allow_nan=False)


def test_evaluate_writes_explanations_and_group_columns(trained: dict[str, Path]) -> None:
    found = json.loads((trained["metrics"] / "explanations.json").read_text(encoding="utf-8"))
    assert found["rows"] == len(_holdout(trained))
    predictions = pd.read_csv(trained["metrics"] / "predictions.csv")
    assert {"segment", "region", "company_size", "quantity_tonnes", "candidate"} <= set(
        predictions.columns)


def test_score_explains_on_request_only(trained: dict[str, Path],
                                        load_score: Callable[..., ModuleType]) -> None:
    score = load_score(trained["model"])
    request: dict[str, Any] = json.loads(
        (trained["model"] / "parity.json").read_text(encoding="utf-8"))["request"]
    plain = score.run(json.dumps(request))
    assert set(plain) == {"predictions"}
    explained = score.run(json.dumps({**request, "explain": True}))
    assert explained["predictions"] == plain["predictions"]
    for prediction, row in zip(explained["predictions"], explained["explanations"], strict=True):
        raw = row["base_value"] + sum(row["contributions"].values())
        assert max(raw, 0.0) == pytest.approx(prediction, abs=1e-6)
    refused = score.run(json.dumps({**request, "explain": "yes"}))
    assert refused.status_code == 400
    assert '"explain" must be true or false' in json.loads(refused.get_data(as_text=True))["error"]


def test_train_reweights_by_group_and_reports_before_and_after(
        trained: dict[str, Path], run_component: RunComponent, tmp_path: Path) -> None:
    done = run_component("train", {"prepared": trained["prepared"], "reweight_by": "segment"},
                         {"model": tmp_path / "model"})
    assert done.returncode == 0, done.stderr
    evidence = json.loads((tmp_path / "model" / "mitigation.json").read_text(encoding="utf-8"))
    assert evidence["method"] == "reweight" and evidence["by"] == "segment"
    holdout = _holdout(trained)
    assert set(evidence["after"]["groups"]) == set(holdout["segment"].unique())
    # "after" is the registered (weighted) model's holdout WAPE, recomputed here.
    predicted = load_model(tmp_path / "model").predict(holdout)
    actual = holdout["quantity_tonnes"].to_numpy()
    assert evidence["after"]["overall"] == pytest.approx(
        np.abs(actual - predicted).sum() / np.abs(actual).sum())
    # and the weighted model is a different model from the unweighted one.
    assert evidence["before"]["overall"] != evidence["after"]["overall"]
    unweighted = run_component("train", {"prepared": trained["prepared"]},
                               {"model": tmp_path / "plain"})
    assert unweighted.returncode == 0 and not (tmp_path / "plain" / "mitigation.json").exists()


def test_train_rejects_an_unknown_reweighting_column(
        trained: dict[str, Path], run_component: RunComponent, tmp_path: Path) -> None:
    done = run_component("train", {"prepared": trained["prepared"], "reweight_by": "colour"},
                         {"model": tmp_path / "model"})
    assert done.returncode == 2
    assert "--reweight_by names 'colour'" in done.stderr

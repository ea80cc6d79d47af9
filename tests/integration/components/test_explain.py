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
from steel.features import read_frame
from steel.model_io import load_model
from tabular.frame import encode


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


def test_contributions_of_a_one_split_tree_are_the_hand_computed_ones() -> None:
    import lightgbm as lgb

    # One split on x: three rows at 0 with y=1, two at 1 with y=5; z never splits. The tree
    # predicts each side's mean, the expected value is the mean of y (2.6), so a row at x=0 gets
    # x: 1 - 2.6 = -1.6 and a row at x=1 gets 5 - 2.6 = +2.4; z gets 0.
    x = np.array([[0.0, 7.0], [0.0, 3.0], [0.0, 7.0], [1.0, 3.0], [1.0, 7.0]])
    y = np.array([1.0, 1.0, 1.0, 5.0, 5.0])
    params = {"objective": "regression", "num_leaves": 2, "min_data_in_leaf": 1,
              "min_data_in_bin": 1, "learning_rate": 1.0, "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(x, y, params={"min_data_in_bin": 1}), 1)
    found = contributions(booster, np.array([[0.0, 3.0], [1.0, 7.0]]))
    np.testing.assert_allclose(found, [[-1.6, 0.0, 2.6], [2.4, 0.0, 2.6]], atol=1e-9)


def test_contributions_match_shaps_own_tree_shap(trained: dict[str, Path]) -> None:
    shap = pytest.importorskip("shap", reason="shap (the peer) is not installed")
    import lightgbm as lgb

    # shap.TreeExplainer hands a LightGBM booster to pred_contrib itself; its own algorithm
    # (the "internal" tree ensemble) is an independent check, exact on numeric splits.
    model = load_model(trained["model"])
    numeric = model.spec.numeric_features
    train = read_frame(trained["prepared"] / "train.csv", "train", [])
    booster = lgb.train({"objective": "regression", "verbosity": -1, "seed": 1},
                        lgb.Dataset(train[numeric].astype("float64"),
                                    train[model.spec.target]), 40)
    matrix = _holdout(trained)[numeric].astype("float64").head(200)
    explainer = shap.TreeExplainer(booster)
    explainer.model.model_type = "internal"
    theirs = explainer.shap_values(matrix)
    ours = contributions(booster, matrix)
    np.testing.assert_allclose(ours[:, :-1], theirs, rtol=1e-6, atol=1e-6)
    assert ours[:, -1] == pytest.approx(float(np.ravel(explainer.expected_value)[0]), rel=1e-6)


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
    # The template's explanations name their space: here the target's own units.
    assert found["space"] == "quantity_tonnes"
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
        assert row["space"] == "quantity_tonnes"
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

"""The train components' validation run (the trial side of a sweep): one metrics-file line per
boosting round whose values are the metric of an independently trained booster on the held-out
rows, the saved model refit on all rows, one sentence for a bad metric, and the default unchanged.
On the steel example's data and on the generic template over a small generated frame."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from tests.integration.components.conftest import COMPONENTS, TEMPLATE_COMPONENTS, RunComponent, run

sys.path.insert(0, str(TEMPLATE_COMPONENTS))
sys.path.insert(1, str(COMPONENTS))

from steel.features import FeatureSpec as SteelSpec
from tabular.frame import FeatureSpec, encode, label_codes
from tabular.metrics import VALIDATION_METRICS
from tabular.split import split_rows

#: params.json keys that are not LightGBM parameters.
NOT_LIGHTGBM = {"n_estimators", "lightgbm_version", "training_rows", "validation_metric",
                "validation_share", "validation_rows", "validation_split", "validation_value"}


def _ok(done: Any) -> None:
    assert done.returncode == 0, done.stdout + done.stderr


def _lines(file: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]


def _independent_curve(params: dict[str, Any], spec: Any, fitting: pd.DataFrame, held: pd.DataFrame,
                       actual: np.ndarray, label: np.ndarray, name: str, clip: bool) -> list[float]:
    """The metric after each round of a booster trained here on ``fitting`` alone."""
    lightgbm = {k: v for k, v in params.items() if k not in NOT_LIGHTGBM}
    booster = lgb.train(lightgbm, lgb.Dataset(encode(fitting, spec), label=label,
                                              categorical_feature=spec.categorical_features),
                        num_boost_round=params["n_estimators"])
    formula = VALIDATION_METRICS[name][1]
    matrix = encode(held, spec)
    curve = []
    for rounds in range(1, params["n_estimators"] + 1):
        predicted = booster.predict(matrix, num_iteration=rounds)
        curve.append(formula(actual, np.clip(predicted, 0.0, None) if clip else predicted))
    return curve


# -- the steel example ---------------------------------------------------------------------------

def test_steel_reports_wape_per_round_and_saves_the_refit_model(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent,
) -> None:
    prepared = trained["prepared"]
    metrics = tmp_path / "metrics.jsonl"
    done = run("train", {"prepared": prepared, "n_estimators": 25, "validation_metric": "wape"},
               {"model": tmp_path / "validated"}, env={"MLOPS_METRICS_FILE": str(metrics)})
    _ok(done)
    lines = _lines(metrics)
    assert [(line["name"], line["step"]) for line in lines] == [("wape", k) for k in range(1, 26)]

    # Independently: the last 20 % of the 24 training months held out, a booster trained on the rest.
    train = pd.read_csv(prepared / "train.csv", dtype=str)
    months = sorted(train["period"].unique())
    held_out = train["period"] >= months[int(len(months) * 0.8)]
    assert held_out.sum() == 5 * 24  # 5 months x 24 series
    params = json.loads((tmp_path / "validated" / "params.json").read_text(encoding="utf-8"))
    spec = SteelSpec.load(prepared / "features.json")
    numbers = pd.read_csv(prepared / "train.csv")
    target = numbers["quantity_tonnes"].to_numpy()
    curve = _independent_curve(params, spec, train[~held_out], train[held_out], target[held_out.to_numpy()],
                               target[~held_out.to_numpy()], "wape", clip=True)
    assert [line["value"] for line in lines] == pytest.approx(curve, rel=1e-9)
    assert curve[-1] < curve[0]  # it learns: the curve is not flat
    assert params["validation_value"] == lines[-1]["value"]
    assert (params["validation_metric"], params["validation_share"], params["validation_rows"],
            params["training_rows"]) == ("wape", 0.2, 120, len(train))
    assert "wape" in done.stdout and "refit on all rows" in done.stdout

    # The model saved is the one trained on all the rows: what a plain run of the same parameters saves.
    _ok(run_component("train", {"prepared": prepared, "n_estimators": 25}, {"model": tmp_path / "plain"}))
    saved = (tmp_path / "validated" / "model.txt").read_bytes()
    assert saved == (tmp_path / "plain" / "model.txt").read_bytes()
    plain = json.loads((tmp_path / "plain" / "params.json").read_text(encoding="utf-8"))
    assert plain == {k: v for k, v in params.items() if not k.startswith("validation_")}


def test_steel_validation_with_reweighting_keeps_the_mitigation_evidence(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent,
) -> None:
    metrics = tmp_path / "metrics.jsonl"
    inputs = {"prepared": trained["prepared"], "n_estimators": 10, "reweight_by": "segment"}
    _ok(run("train", {**inputs, "validation_metric": "rmse", "validation_share": 0.25},
            {"model": tmp_path / "validated"}, env={"MLOPS_METRICS_FILE": str(metrics)}))
    assert [line["step"] for line in _lines(metrics)] == list(range(1, 11))
    _ok(run_component("train", inputs, {"model": tmp_path / "plain"}))
    for name in ("model.txt", "mitigation.json"):
        assert (tmp_path / "validated" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    params = json.loads((tmp_path / "validated" / "params.json").read_text(encoding="utf-8"))
    assert params["validation_rows"] == 6 * 24  # int(24 x 0.75) = 18 months kept, 6 held out


@pytest.mark.parametrize(("inputs", "message"), [
    ({"validation_metric": "mape"}, "train: validation_metric 'mape' is unknown; known metrics are rmse, "
                                    "mae, r2, wape, auc, log_loss, brier, accuracy (or none)\n"),
    ({"validation_metric": "auc"}, "train: validation_metric 'auc' measures a classification, not a "
                                   "regression; use one of rmse, mae, r2, wape\n"),
    ({"validation_metric": "wape", "validation_share": 1}, "train: validation_share must be between "
                                                           "0 and 1 (got 1.0)\n"),
])
def test_steel_bad_validation_input_is_one_sentence(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent, inputs: dict[str, Any],
    message: str,
) -> None:
    done = run_component("train", {"prepared": trained["prepared"], **inputs}, {"model": tmp_path / "m"})
    assert (done.returncode, done.stderr) == (2, message)
    assert not (tmp_path / "m").exists()


def test_steel_without_validation_writes_no_metric(tmp_path: Path, trained: dict[str, Path]) -> None:
    metrics = tmp_path / "metrics.jsonl"
    _ok(run("train", {"prepared": trained["prepared"], "n_estimators": 5}, {"model": tmp_path / "m"},
            env={"MLOPS_METRICS_FILE": str(metrics)}))
    assert not metrics.exists()
    params = json.loads((tmp_path / "m" / "params.json").read_text(encoding="utf-8"))
    assert not [k for k in params if k.startswith("validation")]


# -- the generic template ------------------------------------------------------------------------

def _template_project(root: Path, task: str, time_column: str | None) -> Path:
    """A generated frame (240 rows) prepared by the template's own prep."""
    rng = np.random.default_rng(5)
    rows = 240
    frame = pd.DataFrame({"size": rng.normal(10, 3, rows), "kind": rng.choice(["a", "b", "c"], rows),
                          "month": [f"2024-{m:02d}-01" for m in rng.integers(1, 13, rows)]})
    signal = frame["size"] + frame["kind"].map({"a": 0.0, "b": 4.0, "c": -3.0}) + rng.normal(0, 1, rows)
    frame["y"] = np.where(signal > 10, "yes", "no") if task == "classification" else signal
    frame.to_csv(root / "data.csv", index=False)
    schema = {"columns": {"size": {"type": "float"}, "kind": {"type": "string"}, "month": {"type": "date"},
                          "y": {"type": "string" if task == "classification" else "float"}}}
    (root / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    (root / "check").mkdir()
    (root / "check" / "report.json").write_text('{"passed": true}', encoding="utf-8")
    _ok(run("prep", {"raw_data": root / "data.csv", "check_report": root / "check",
                     "schema": root / "schema.json", "target": "y", "task": task,
                     "time_column": time_column or "none"},
            {"prepared": root / "prepared"}, root=TEMPLATE_COMPONENTS))
    return root / "prepared"


@pytest.mark.parametrize(("task", "time_column", "metric"), [
    ("classification", None, "auc"), ("regression", "month", "rmse"), ("classification", "month", "log_loss"),
])
def test_template_reports_per_round_and_saves_the_refit_model(
    tmp_path: Path, task: str, time_column: str | None, metric: str,
) -> None:
    prepared = _template_project(tmp_path, task, time_column)
    metrics = tmp_path / "metrics.jsonl"
    common = {"prepared": prepared, "n_estimators": 15, "min_data_in_leaf": 5}
    _ok(run("train", {**common, "validation_metric": metric}, {"model": tmp_path / "validated"},
            root=TEMPLATE_COMPONENTS, env={"MLOPS_METRICS_FILE": str(metrics)}))
    lines = _lines(metrics)
    assert [(line["name"], line["step"]) for line in lines] == [(metric, k) for k in range(1, 16)]

    spec = FeatureSpec.load(prepared / "features.json")
    train = pd.read_csv(prepared / "train.csv", dtype={"kind": str, "y": str} if task == "classification"
                        else {"kind": str})
    if time_column:
        months = sorted(train[time_column].unique())
        held_out = (train[time_column] >= months[int(len(months) * 0.8)]).to_numpy()
        fitting, held = train[~held_out], train[held_out]
    else:  # the seeded, class-stratified share prep's holdout is drawn with too
        fitting, held = split_rows(train, 0.2, 42, None, label_codes(spec, train))
    label = (lambda part: label_codes(spec, part)) if task == "classification" else \
        (lambda part: part["y"].to_numpy(dtype="float64"))
    params = json.loads((tmp_path / "validated" / "params.json").read_text(encoding="utf-8"))
    curve = _independent_curve(params, spec, fitting, held, label(held), label(fitting), metric, clip=False)
    assert [line["value"] for line in lines] == pytest.approx(curve, rel=1e-9)
    assert (params["validation_rows"], params["training_rows"]) == (len(held), len(train))
    assert params["validation_split"] == ("time" if time_column else "random")

    _ok(run("train", common, {"model": tmp_path / "plain"}, root=TEMPLATE_COMPONENTS))
    saved = (tmp_path / "validated" / "model.txt").read_bytes()
    assert saved == (tmp_path / "plain" / "model.txt").read_bytes()
    fit_part = lgb.Booster(model_str=(tmp_path / "plain" / "model.txt").read_text(encoding="utf-8"))
    assert not np.array_equal(fit_part.predict(encode(held, spec)),
                              lgb.train({k: v for k, v in params.items() if k not in NOT_LIGHTGBM},
                                        lgb.Dataset(encode(fitting, spec), label=label(fitting),
                                                    categorical_feature=spec.categorical_features),
                                        num_boost_round=15).predict(encode(held, spec)))


def test_template_refuses_a_metric_of_the_other_task(tmp_path: Path) -> None:
    prepared = _template_project(tmp_path, "classification", None)
    done = run("train", {"prepared": prepared, "validation_metric": "wape"}, {"model": tmp_path / "m"},
               root=TEMPLATE_COMPONENTS)
    assert done.returncode == 2 and done.stderr == (
        "train: validation_metric 'wape' measures a regression, not a classification; use one of auc, "
        "log_loss, brier, accuracy\n")

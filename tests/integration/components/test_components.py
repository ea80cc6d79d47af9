"""The example's components as real subprocesses on small generated data, run exactly as the
local runner runs them (see conftest.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_azure.example import write_purchases

COMPONENTS = Path(__file__).resolve().parents[3] / "examples" / "steel" / "components"
RunComponent = Any


def _check(run_component: RunComponent, data: Path, schema: Path, report: Path
           ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = run_component("data_check", {"data": data, "schema": schema}, {"report": report})
    return done, json.loads((report / "report.json").read_text(encoding="utf-8"))


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr


# -- data_check ---------------------------------------------------------------------------------

def test_data_check_passes_generated_data_with_warnings(trained: dict[str, Path]) -> None:
    report = json.loads((trained["report"] / "report.json").read_text(encoding="utf-8"))
    assert report["passed"] is True and report["errors"] == []
    assert (report["rows"], report["columns"]) == (720, 10)
    warned = {(w["check"], w["column"]): w["count"] for w in report["warnings"]}
    assert warned[("nulls", "price_eur_per_tonne")] == 4  # the injected missing prices
    assert warned[("outliers", "quantity_tonnes")] >= 1  # the injected spike
    for finding in report["warnings"]:
        assert set(finding) == {"check", "column", "message", "count"}


def _negative_quantity(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[::10], "quantity_tonnes"] = -5.0
    return frame


def _duplicate_keys(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[:3]], ignore_index=True)


def _many_missing_prices(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[::10], "price_eur_per_tonne"] = None
    return frame


def _unknown_segment(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[:2], "segment"] = "mining"
    return frame


def _text_in_price(frame: pd.DataFrame) -> pd.DataFrame:
    frame["price_eur_per_tonne"] = frame["price_eur_per_tonne"].astype(object)
    frame.loc[frame.index[5], "price_eur_per_tonne"] = "cheap"
    return frame


def _many_spikes(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[::20], "quantity_tonnes"] *= 40
    return frame


@pytest.mark.parametrize(
    ("change", "check", "column", "count"),
    [
        (_negative_quantity, "range", "quantity_tonnes", 72),
        (_duplicate_keys, "duplicates", None, 3),
        (_many_missing_prices, "nulls", "price_eur_per_tonne", None),
        (lambda f: f.drop(columns="region"), "columns", "region", 1),
        (_unknown_segment, "allowed", "segment", 2),
        (_text_in_price, "type", "price_eur_per_tonne", 1),
        (_many_spikes, "outliers", "quantity_tonnes", None),
        (lambda f: f.iloc[:50], "rows", None, 50),
    ],
    ids=["negative", "duplicates", "nulls", "missing-column", "allowed", "type", "outliers", "rows"],
)
def test_data_check_fails_bad_data_and_lists_the_errors(
    tmp_path: Path, run_component: RunComponent, small_data: Path, schema_file: Path,
    change: Any, check: str, column: str | None, count: int | None,
) -> None:
    bad = tmp_path / "bad.csv"
    change(pd.read_csv(small_data)).to_csv(bad, index=False)
    done, report = _check(run_component, bad, schema_file, tmp_path / "report")
    assert done.returncode == 1, done.stderr
    assert report["passed"] is False
    found = [e for e in report["errors"] if e["check"] == check and e["column"] == column]
    assert found, report["errors"]
    if count is not None:
        assert found[0]["count"] == count
    assert "FAILED" in done.stdout and (column or check) in done.stdout


def test_extra_columns_warn_or_fail_as_the_schema_says(
    tmp_path: Path, run_component: RunComponent, small_data: Path, schema: dict[str, Any],
) -> None:
    extra = tmp_path / "extra.csv"
    pd.read_csv(small_data).assign(comment="x").to_csv(extra, index=False)
    (tmp_path / "lenient.json").write_text(json.dumps(schema), encoding="utf-8")
    schema["allow_extra_columns"] = False
    (tmp_path / "strict.json").write_text(json.dumps(schema), encoding="utf-8")

    done, report = _check(run_component, extra, tmp_path / "lenient.json", tmp_path / "a")
    assert done.returncode == 0
    assert any(w["check"] == "columns" and w["column"] == "comment" for w in report["warnings"])
    done, report = _check(run_component, extra, tmp_path / "strict.json", tmp_path / "b")
    assert done.returncode == 1
    assert [e["column"] for e in report["errors"] if e["check"] == "columns"] == ["comment"]


@pytest.mark.parametrize("problem", ["missing", "binary", "empty", "schema-json", "schema-type"])
def test_unreadable_input_exits_2_with_a_report(
    tmp_path: Path, run_component: RunComponent, small_data: Path, schema_file: Path, problem: str,
) -> None:
    data, schema = small_data, schema_file
    if problem == "missing":
        data = tmp_path / "nope.csv"
    elif problem == "binary":
        data = tmp_path / "data.parquet"
        data.write_bytes(bytes(range(256)) * 8)
    elif problem == "empty":
        data = tmp_path / "empty.csv"
        data.write_text("", encoding="utf-8")
    elif problem == "schema-json":
        schema = tmp_path / "schema.json"
        schema.write_text("{columns: oops", encoding="utf-8")
    else:
        schema = tmp_path / "schema.json"
        schema.write_text(json.dumps({"columns": {"period": {"type": "datetime"}}}), encoding="utf-8")
    done, report = _check(run_component, data, schema, tmp_path / "report")
    assert done.returncode == 2, done.stdout + done.stderr
    assert report["passed"] is False and report["errors"][0]["check"] == "read"
    message = report["errors"][0]["message"]
    assert str(schema if problem.startswith("schema") else data) in message
    assert "Traceback" not in done.stderr and message in done.stderr


# -- prep, train, evaluate ----------------------------------------------------------------------

def test_prep_writes_features_and_a_time_holdout(trained: dict[str, Path]) -> None:
    prepared = trained["prepared"]
    spec = json.loads((prepared / "features.json").read_text(encoding="utf-8"))
    train = pd.read_csv(prepared / "train.csv")
    holdout = pd.read_csv(prepared / "holdout.csv")
    assert spec["target"] == "quantity_tonnes"
    assert spec["holdout"] == {"start": "2023-01-01", "end": "2023-06-01", "months": 6, "rows": 144}
    assert spec["train"]["end"] == "2022-12-01" and len(train) == spec["train"]["rows"] == 576
    assert sorted(holdout["period"].unique())[0] == "2023-01-01" and len(holdout) == 144
    assert set(spec["categorical_features"]) <= set(spec["features"])
    assert spec["categories"]["material_id"] == ["MAT-CRC", "MAT-HRC", "MAT-REB", "MAT-WRD"]
    for name in ("lag_1", "lag_2", "lag_3", "lag_12", "rolling_mean_3", "month", "quarter",
                 "time_index", "price_change", "promotion", "price_eur_per_tonne"):
        assert name in spec["features"] and name in train.columns
    assert spec["cleaning"]["prices_imputed"] == 4 and spec["cleaning"]["quantities_capped"] >= 1
    assert not train["price_eur_per_tonne"].isna().any()
    # lag_1 of a row is the previous month's quantity of the same series.
    series = train[(train["customer_id"] == "CUST-0001") & (train["material_id"] == "MAT-HRC")]
    assert series["lag_1"].iloc[1:].tolist() == series["quantity_tonnes"].iloc[:-1].tolist()
    assert series["lag_12"].iloc[12:].tolist() == series["quantity_tonnes"].iloc[:-12].tolist()


def test_prep_refuses_data_that_failed_the_check(
    tmp_path: Path, run_component: RunComponent, small_data: Path,
) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.json").write_text(json.dumps({
        "passed": False, "rows": 1, "columns": 1, "warnings": [],
        "errors": [{"check": "rows", "column": None, "message": "only 1 row(s)", "count": 1}]}))
    done = run_component("prep", {"raw_data": small_data, "check_report": report},
                         {"prepared": tmp_path / "prepared"})
    assert done.returncode == 1
    assert "did not pass" in done.stderr and "only 1 row(s)" in done.stderr
    assert not (tmp_path / "prepared" / "train.csv").exists()


def test_prep_rejects_a_holdout_longer_than_the_data(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent, small_data: Path,
) -> None:
    done = run_component("prep", {"raw_data": small_data, "check_report": trained["report"],
                                  "holdout_months": 30}, {"prepared": tmp_path / "prepared"})
    assert done.returncode == 2 and "holdout_months=30" in done.stderr


def test_train_writes_the_model_folder_deterministically(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent,
) -> None:
    model = trained["model"]
    assert sorted(p.name for p in model.iterdir()) == ["features.json", "model.txt", "params.json",
                                                       "parity.json", "reference-predictions.json"]
    parity = json.loads((model / "parity.json").read_text(encoding="utf-8"))
    assert 0 < parity["rows"] == len(parity["predictions"]) == len(parity["request"]["data"]) <= 200
    reference = json.loads((model / "reference-predictions.json").read_text(encoding="utf-8"))
    holdout = pd.read_csv(trained["prepared"] / "holdout.csv")
    assert reference["holdout_rows"] == len(holdout) == len(reference["predictions"])
    assert min(reference["predictions"]) >= 0
    params = json.loads((model / "params.json").read_text(encoding="utf-8"))
    assert params["n_estimators"] == 300 and params["deterministic"] is True and params["seed"] == 42
    assert (model / "features.json").read_bytes() == (trained["prepared"] / "features.json").read_bytes()
    _ok(run_component("train", {"prepared": trained["prepared"]}, {"model": tmp_path / "again"}))
    assert (tmp_path / "again" / "model.txt").read_bytes() == (model / "model.txt").read_bytes()
    assert (tmp_path / "again" / "parity.json").read_bytes() == (model / "parity.json").read_bytes()
    _ok(run_component("train", {"prepared": trained["prepared"], "seed": 7, "num_leaves": 7},
                      {"model": tmp_path / "other"}))
    assert (tmp_path / "other" / "model.txt").read_bytes() != (model / "model.txt").read_bytes()


def test_train_names_a_bad_hyper_parameter(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent,
) -> None:
    done = run_component("train", {"prepared": trained["prepared"], "num_leaves": 1},
                         {"model": tmp_path / "model"})
    assert done.returncode == 2 and "num_leaves" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "model" / "model.txt").exists()


def test_evaluate_scores_candidate_and_champion_on_the_same_holdout(trained: dict[str, Path]) -> None:
    metrics = json.loads((trained["metrics"] / "metrics.json").read_text(encoding="utf-8"))
    holdout_file = trained["prepared"] / "holdout.csv"
    assert metrics["holdout"] == {"start": "2023-01-01", "end": "2023-06-01", "rows": 144,
                                  "sha256": hashlib.sha256(holdout_file.read_bytes()).hexdigest()}
    candidate, champion = metrics["candidate"], metrics["champion"]
    assert set(candidate) == set(champion) == {"mae", "rmse", "wape", "rows"}
    assert candidate["rows"] == champion["rows"] == 144
    assert 0 < candidate["wape"] < 0.5
    assert champion["wape"] > candidate["wape"]  # three trees are worse than three hundred
    predictions = pd.read_csv(trained["metrics"] / "predictions.csv")
    actual = predictions["quantity_tonnes"]
    wape = (actual - predictions["candidate"]).abs().sum() / actual.abs().sum()
    assert wape == pytest.approx(candidate["wape"])
    assert (predictions[["candidate", "champion"]] >= 0).all().all()


def test_evaluate_without_champion_reports_null(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent,
) -> None:
    _ok(run_component("evaluate", {"model": trained["model"], "prepared": trained["prepared"]},
                      {"metrics": tmp_path / "metrics"}))
    metrics = json.loads((tmp_path / "metrics" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["champion"] is None
    assert "champion" not in pd.read_csv(tmp_path / "metrics" / "predictions.csv").columns


def test_champion_is_scored_with_its_own_features_file(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent, schema_file: Path,
) -> None:
    # A champion trained on other data knows fewer customers and materials: its category codes
    # differ, so it must encode the holdout with its own features.json to score sensibly.
    other = write_purchases(tmp_path / "other.csv", seed=99, organisations=2,
                            customers_per_organisation=2, materials=3, months=30)
    _ok(_check(run_component, other, schema_file, tmp_path / "report")[0])
    _ok(run_component("prep", {"raw_data": other, "check_report": tmp_path / "report"},
                      {"prepared": tmp_path / "prepared"}))
    _ok(run_component("train", {"prepared": tmp_path / "prepared", "n_estimators": 50},
                      {"model": tmp_path / "champion"}))
    _ok(run_component("evaluate", {"model": trained["model"], "prepared": trained["prepared"],
                                   "champion_model": tmp_path / "champion"},
                      {"metrics": tmp_path / "metrics"}))
    sys.path.insert(0, str(COMPONENTS))
    from steel.features import read_frame  # type: ignore[import-not-found]
    from steel.model_io import load_model  # type: ignore[import-not-found]

    holdout = read_frame(trained["prepared"] / "holdout.csv", "holdout", [])
    expected = load_model(tmp_path / "champion").predict(holdout)
    predictions = pd.read_csv(tmp_path / "metrics" / "predictions.csv")
    assert predictions["champion"].to_numpy() == pytest.approx(expected)


def test_evaluate_with_a_champion_folder_without_a_model_fails_clearly(
    tmp_path: Path, trained: dict[str, Path], run_component: RunComponent,
) -> None:
    (tmp_path / "empty").mkdir()
    done = run_component("evaluate", {"model": trained["model"], "prepared": trained["prepared"],
                                      "champion_model": tmp_path / "empty"},
                         {"metrics": tmp_path / "metrics"})
    assert done.returncode == 2
    assert "champion model: no model.txt in" in done.stderr

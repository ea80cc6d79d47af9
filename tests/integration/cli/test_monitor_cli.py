"""``mlops monitor drift``: the model's training data against a current window, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mlops_azure.cli.main import app

MODEL = "steel-purchase-forecast:1"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_same_data_is_stable_and_a_price_shock_drifts(project_dir: Path) -> None:
    assert invoke("train", "-p", "n_estimators=40")[0] == 0
    code, out, _ = invoke("--json", "monitor", "drift", "--current", "data/purchases.csv",
                          "--model", MODEL, "--html", "same.html")
    assert code == 0, out
    same = json.loads(out)
    assert not same["drifted"] and same["reference"] == "steel-purchases:1"
    assert same["rules"] == [] and same["verdict"].startswith("no drift: 0 of 5 features drifted")
    assert "No drift: 0 of 5 features drifted" in Path("same.html").read_text()
    code, out, _ = invoke("--json", "monitor", "drift", "--current", "azureml:steel-purchases:1",
                          "--model", MODEL)
    assert code == 0 and json.loads(out)["current"] == "data asset steel-purchases:1"

    shocked = pd.read_csv("data/purchases.csv")
    shocked["price_eur_per_tonne"] *= 1.6  # a price shock
    shocked["promotion"] = 1
    shocked.loc[shocked.index % 2 == 0, "segment"] = "energy"
    shocked.drop(columns=["quantity_tonnes"]).to_csv("window.csv", index=False)
    code, out, err = invoke("--json", "monitor", "drift", "--current", "window.csv",
                            "--model", MODEL, "--html", "drift.html", "--report", "drift.json")
    assert code == 1
    found = json.loads(out)
    assert found["drifted"] and {"price_eur_per_tonne", "promotion", "segment"} <= set(
        found["drifted_features"])
    assert f"report {found['report_id']}" in err
    assert found["rules"] == ["drifted_share"] and "dataset drifted: " in err
    assert "(monitoring.drifted_share)" in err and found["verdict"] in err
    assert json.loads(Path("drift.json").read_text())["report_id"] == found["report_id"]
    page = Path("drift.html").read_text()
    assert page.count("<svg") == len(found["drifted_features"]) and "<script" not in page

    code, out, _ = invoke("--json", "monitor", "drift", "--current", "window.csv", "--model",
                          MODEL, "--retrain")
    assert code == 1  # drift is still reported; the retraining is the response to it
    retrained = json.loads(out)
    assert retrained["retrain"]["registered"] == "steel-purchase-forecast:2", retrained["retrain"]
    code, out, _ = invoke("--json", "models", "show", "steel-purchase-forecast:2")
    lineage = json.loads(out)["lineage"]
    assert lineage["extra"]["drift_report"] == str(retrained["report_id"])  # why it exists
    assert lineage["extra"]["trigger"] == "drift"
    code, out, _ = invoke("--json", "jobs", "show", retrained["retrain"]["job_id"])
    assert json.loads(out)["tags"]["drift_report"] == str(retrained["report_id"])

    code, out, _ = invoke("--json", "history")
    events = [e for e in json.loads(out) if e["action"] == "monitor.drift"]
    assert [e["id"] for e in events[:2]] == [retrained["report_id"], found["report_id"]]
    assert events[0]["details"]["drifted"] is True


def test_one_critical_feature_drifts_the_dataset_and_the_rule_is_named(project_dir: Path) -> None:
    assert invoke("train", "-p", "n_estimators=40")[0] == 0
    shocked = pd.read_csv("data/purchases.csv")
    shocked["price_eur_per_tonne"] *= 3  # one feature far off, the other four as trained on
    shocked.to_csv("window.csv", index=False)
    code, out, _ = invoke("--json", "monitor", "drift", "--current", "window.csv", "--model", MODEL)
    alone = json.loads(out)
    assert code == 0 and alone["drifted_features"] == ["price_eur_per_tonne"]
    assert alone["verdict"].startswith("no drift: 1 of 5 features drifted (20 %")

    config = Path("mlops.yaml")
    config.write_text(config.read_text().replace(
        "monitoring:\n", "monitoring:\n  critical: {price_eur_per_tonne: 1.0}\n", 1))
    code, out, err = invoke("--json", "monitor", "drift", "--current", "window.csv",
                            "--model", MODEL, "--html", "critical.html")
    found = json.loads(out)
    assert code == 1 and found["rules"] == ["critical"]
    assert found["critical_features"] == ["price_eur_per_tonne"]
    assert "dataset drifted: critical feature price_eur_per_tonne drifted (PSI " in err
    assert "≥ 1, monitoring.critical)" in err
    assert "Dataset drifted: critical feature price_eur_per_tonne" in Path("critical.html").read_text()
    code, out, _ = invoke("--json", "history")
    event = next(e for e in json.loads(out) if e["action"] == "monitor.drift")
    assert event["details"]["rules"] == ["critical"] and event["details"]["verdict"] in err


def test_bad_input_is_one_sentence(project_dir: Path) -> None:
    code, _, err = invoke("monitor", "drift", "--current", "data/purchases.csv",
                          "--stage", "production")
    assert code == 2  # nothing registered yet
    assert invoke("train", "-p", "n_estimators=40")[0] == 0
    code, _, err = invoke("monitor", "drift", "--current", "data/purchases.csv",
                          "--stage", "production")
    assert code == 2 and "serves no model" in err
    code, _, err = invoke("monitor", "drift", "--current", "nope.csv", "--model", MODEL)
    assert code == 2 and "nope.csv does not exist" in err
    code, _, err = invoke("monitor", "drift", "--current", "azureml:nothing:3", "--model", MODEL)
    assert code == 2 and "nothing" in err and len(err.strip().splitlines()) == 1
    Path("bad.csv").write_text("a,b\n1,2\n")
    code, _, err = invoke("monitor", "drift", "--current", "bad.csv", "--model", MODEL)
    assert code == 2 and "not a column of the current data" in err and len(err.splitlines()) == 1


def test_setup_on_the_embedded_workspace_prints_the_cron_line(project_dir: Path) -> None:
    code, out, _ = invoke("monitor", "setup", "--stage", "production", "--cron", "0 6 * * *",
                          "--window", "1d")
    assert code == 0 and "no monitoring service" in out
    assert "0 6 * * * cd " in out and "mlops monitor drift --stage production --window 1d --retrain" in out
    code, out, _ = invoke("--json", "monitor", "setup", "--stage", "production", "--every", "1",
                          "--unit", "day")
    document = json.loads(out)
    assert document["monitor"] is None and document["crontab"].startswith("0 0 * * * cd ")
    for args, words in ((["--stage", "nowhere", "--cron", "0 6 * * *"], "nowhere"),
                        (["--stage", "production", "--cron", "0 25 * * *"], "hour field"),
                        (["--stage", "production", "--cron", "0 6 * * *", "--window", "7x"],
                         "window")):
        code, _, err = invoke("monitor", "setup", *args)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
